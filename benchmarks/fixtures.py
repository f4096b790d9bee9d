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
	if not frappe.db.exists("Company"):
		# A new site has no Company until its setup wizard runs; run it as `bench run-tests` does.
		frappe.get_attr("erpnext.setup.utils.before_tests")()
	company = frappe.defaults.get_global_default("company") or frappe.get_all("Company", pluck="name")[0]
	existing = set(
		frappe.get_all(
			"Employee", filters={"attendance_device_id": ("is", "set")}, pluck="attendance_device_id"
		)
	)
	_insert_employees(
		[f"{prefix}{i:04d}" for prefix in ("B", "F") for i in range(employees)], existing, company
	)
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


def _insert_employees(device_user_ids: list[str], existing: set[str], company: str):
	"""Bulk-inserts the missing benchmark Employees: a bare row each, as the form would save it.

	Employee is a nested set, so Document.insert renumbers the tree and runs HRMS hooks for
	every one (more than 7 minutes for 1,000). These are roots appended after the tree.
	"""
	missing = [user_id for user_id in device_user_ids if user_id not in existing]
	if not missing:
		return
	now = frappe.utils.now_datetime()
	Employee = frappe.qb.DocType("Employee")
	right = (
		frappe.qb.from_(Employee).select(frappe.query_builder.functions.Max(Employee.rgt)).run()[0][0] or 0
	)
	fields = [
		"name", "creation", "modified", "owner", "modified_by", "naming_series", "first_name",
		"employee_name", "gender", "date_of_birth", "date_of_joining", "company", "status",
		"attendance_device_id", "lft", "rgt",
	]  # fmt: skip
	rows = []
	for user_id in missing:
		right += 2
		rows.append(
			(
				f"BENCH-EMP-{user_id}", now, now, "Administrator", "Administrator", "HR-EMP-",
				f"Bench {user_id}", f"Bench {user_id}", "Male", "1990-01-01", "2020-01-01", company,
				"Active", user_id, right - 1, right,
			)
		)  # fmt: skip
	frappe.db.bulk_insert("Employee", fields, rows, chunk_size=1000)
	frappe.db.commit()


if __name__ == "__main__":
	main(sys.argv[1], int(sys.argv[2]))
