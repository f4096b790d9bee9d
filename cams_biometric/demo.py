"""A demo site for `dev/bench`: a company, a day shift, three Employees with Attendance Device
IDs, a device, and the settings pointed at the gateway simulator.

Run once on a new site: `bench --site SITE execute cams_biometric.demo.make_demo
--kwargs "{'simulator_url': 'http://127.0.0.1:8123/'}"`. Never part of an install.
"""

import secrets

import frappe
from frappe.utils import add_years, getdate, today

from cams_biometric.constants import DEVICE, SETTINGS

COMPANY = "Demo Traders"
SHIFT = "Demo Day Shift"
DEVICE_ID = "SIM0001"
# The simulator's users are 1000, 1001, ...: three become Employees, the rest stay unmapped
# so the walk can show Unmapped Device Users and Map to Employee.
EMPLOYEES = (
	("Asha", "Rao", "1000", "Female"),
	("Bala", "Iyer", "1001", "Male"),
	("Chen", "Li", "1002", "Male"),
)


def make_demo(simulator_url: str):
	if not frappe.conf.get("cams_biometric_allow_http_endpoint") and simulator_url.startswith("http:"):
		frappe.throw("Set cams_biometric_allow_http_endpoint in the site config first (a test bench only).")
	complete_setup_wizard()
	make_shift()
	for first_name, last_name, device_user_id, gender in EMPLOYEES:
		make_employee(first_name, last_name, device_user_id, gender)
	make_device()
	settings = frappe.get_single(SETTINGS)
	settings.enabled = 1
	settings.restful_endpoint = simulator_url
	settings.flags.ignore_permissions = True
	settings.save()


def complete_setup_wizard():
	if frappe.db.get_single_value("System Settings", "setup_complete"):
		return
	from frappe.desk.page.setup_wizard.setup_wizard import setup_complete

	# India's financial year: April to March.
	start = getdate(today()).replace(month=4, day=1)
	if getdate(today()) < start:
		start = add_years(start, -1)
	setup_complete(
		{
			"language": "English",
			"country": "India",
			"timezone": "Asia/Kolkata",
			"currency": "INR",
			"full_name": "Demo Admin",
			"email": "demo-admin@example.com",
			"password": secrets.token_urlsafe(16),
			"company_name": COMPANY,
			"company_abbr": "DT",
			"company_tagline": "A cams_biometric demo",
			"industry": "Services",
			"chart_of_accounts": "Standard",
			"fy_start_date": str(start),
			"fy_end_date": str(add_years(start, 1).replace(day=31, month=3)),
		}
	)


def make_shift():
	# Without a shift HRMS marks every checkin Off-Shift and makes no Attendance from it.
	if not frappe.db.exists("Shift Type", SHIFT):
		frappe.get_doc(
			{"doctype": "Shift Type", "name": SHIFT, "start_time": "09:00:00", "end_time": "18:00:00"}
		).insert(ignore_permissions=True)


def make_employee(first_name: str, last_name: str, device_user_id: str, gender: str):
	if frappe.db.exists("Employee", {"attendance_device_id": device_user_id}):
		return
	frappe.get_doc(
		{
			"doctype": "Employee",
			"first_name": first_name,
			"last_name": last_name,
			"gender": gender,
			"date_of_birth": "1990-01-01",
			# Before every punch the simulator or a Load Punchlog can send.
			"date_of_joining": add_years(today(), -1),
			"company": COMPANY,
			"status": "Active",
			"default_shift": SHIFT,
			"attendance_device_id": device_user_id,
		}
	).insert(ignore_permissions=True)


def make_device():
	if frappe.db.exists(DEVICE, DEVICE_ID):
		return
	frappe.get_doc(
		{
			"doctype": DEVICE,
			"service_tag_id": DEVICE_ID,
			"device_label": "Front Door",
			"auth_token": secrets.token_hex(16),
			"company": COMPANY,
		}
	).insert(ignore_permissions=True)


def device_token() -> str:
	"""The demo device's AuthToken, for the simulator `dev/bench start` runs."""
	from frappe.utils.password import get_decrypted_password

	return get_decrypted_password(DEVICE, DEVICE_ID, "auth_token")
