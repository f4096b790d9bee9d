"""Benchmark fixtures, run inside the bench: `cd sites && ../env/bin/python fixtures.py SITE N_EMPLOYEES`.

Creates (once) 20 devices BENCH01..BENCH20 and two sets of N employees: B0000.. for the app,
F0000.. for the floor (direct HRMS inserts), and prints the devices and tokens as JSON.
"""

import json
import sys

import frappe

DEVICES = 20


def main(site: str, employees: int):
	frappe.init(site=site)
	frappe.connect()
	frappe.set_user("Administrator")
	company = frappe.defaults.get_global_default("company") or frappe.get_all("Company", pluck="name")[0]
	existing = set(
		frappe.get_all(
			"Employee", filters={"attendance_device_id": ("is", "set")}, pluck="attendance_device_id"
		)
	)
	for prefix in ("B", "F"):
		for i in range(employees):
			device_user_id = f"{prefix}{i:04d}"
			if device_user_id in existing:
				continue
			frappe.get_doc(
				{
					"doctype": "Employee",
					"first_name": f"Bench {device_user_id}",
					"gender": "Male",
					"date_of_birth": "1990-01-01",
					"date_of_joining": "2020-01-01",
					"company": company,
					"status": "Active",
					"attendance_device_id": device_user_id,
				}
			).insert()
	devices = {}
	for i in range(1, DEVICES + 1):
		name, token = f"BENCH{i:02d}", f"BenchToken{i:02d}".ljust(32, "x")
		if not frappe.db.exists("CAMS Biometric Device", name):
			frappe.get_doc(
				{
					"doctype": "CAMS Biometric Device",
					"service_tag_id": name,
					"device_label": f"Bench Gate {i}",
					"auth_token": token,
				}
			).insert()
		devices[name] = token
	# A clean slate: no raw punches of these devices, no checkins of these employees.
	frappe.db.delete("CAMS Raw Punch Log", {"device": ("like", "BENCH%")})
	bench_employees = frappe.get_all("Employee", filters={"first_name": ("like", "Bench %")}, pluck="name")
	frappe.db.delete("Employee Checkin", {"employee": ("in", bench_employees)})
	frappe.db.commit()
	print(json.dumps(devices))


if __name__ == "__main__":
	main(sys.argv[1], int(sys.argv[2]))
