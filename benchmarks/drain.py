"""Punch -> checkin drain against a bare loop of direct HRMS inserts, run inside the bench.

`cd sites && ../env/bin/python drain.py SITE floor N`: the floor, N Employee Checkins inserted
    one by one through HRMS (validate, shift fetch, commit each) in this one process.
`cd sites && ../env/bin/python drain.py SITE drain LAST_CALLBACK_EPOCH`: waits while the RQ
    workers turn the benchmark devices' Pending raw punches into checkins; prints the rate
    and the time from the last callback to the last checkin.
"""

import json
import sys
import time
from datetime import datetime, timedelta, timezone

import frappe
from frappe.utils import get_system_timezone

from cams_biometric.protocol.logtime import parse_logtime, to_local_naive
from cams_biometric.protocol.simulator import generate_punches

BENCH_DEVICES = ("like", "BENCH%")


def floor(count: int, employees: int = 500):
	zone = get_system_timezone()
	days = max(1, -(-count // (employees * 4)))
	user_ids = [f"F{i:04d}" for i in range(employees)]
	rows = generate_punches(
		employees, days, 4, end=datetime.now(timezone.utc) - timedelta(days=1), user_ids=user_ids
	)[:count]
	by_user = dict(
		frappe.get_all(
			"Employee",
			filters={"attendance_device_id": ("in", user_ids)},
			fields=["attendance_device_id", "name"],
			as_list=True,
		)
	)
	frappe.db.delete("Employee Checkin", {"employee": ("in", list(by_user.values()))})
	frappe.db.commit()
	started = time.perf_counter()
	for row in rows:
		frappe.get_doc(
			{
				"doctype": "Employee Checkin",
				"employee": by_user[row["UserID"]],
				"time": to_local_naive(parse_logtime(row["LogTime"]), zone),
				"log_type": "IN" if row["Type"].endswith("In") else "OUT",
				"device_id": "Floor",
			}
		).insert(ignore_permissions=True)
		frappe.db.commit()
	elapsed = time.perf_counter() - started
	print(
		json.dumps(
			{"floor_rows": len(rows), "floor_seconds": elapsed, "floor_per_second": len(rows) / elapsed}
		)
	)


def drain(last_callback_at: float, timeout: float = 3600):
	def pending():
		frappe.db.rollback()  # a fresh snapshot each poll
		return frappe.db.count("CAMS Raw Punch Log", {"device": BENCH_DEVICES, "status": "Pending"})

	start_pending = pending()
	started = time.perf_counter()
	while pending() and time.perf_counter() - started < timeout:
		time.sleep(0.5)
	elapsed = time.perf_counter() - started
	statuses = dict(
		frappe.db.sql(
			"select status, count(*) from `tabCAMS Raw Punch Log` where device like 'BENCH%%' group by status"
		)
	)
	print(
		json.dumps(
			{
				"drained": start_pending,
				"drain_seconds": elapsed,
				"drain_per_second": start_pending / elapsed if elapsed else None,
				"last_callback_to_last_checkin_seconds": time.time() - last_callback_at,
				"statuses": statuses,
			}
		)
	)


if __name__ == "__main__":
	frappe.init(site=sys.argv[1])
	frappe.connect()
	if sys.argv[2] == "floor":
		floor(int(sys.argv[3]))
	else:
		drain(float(sys.argv[3]))
