"""How cost grows with the raw log, run inside the bench: `cd sites && ../env/bin/python growth.py SITE ...`

`seed TOTAL EMPLOYEES`: grows the benchmark devices' raw log to TOTAL rows, each a processed
    punch with its Employee Checkin (bulk inserts, months before the measured punches), so
    both tables the hot path reads grow together.
`explain`: prints, for each query on the hot path, the index MariaDB would use and the rows
    it expects to read; a query that reads a share of the table shows up here first.
`lookup [N]`: times N "checkin of this employee at this instant" lookups (the duplicate
    check every new checkin makes twice, ours and HRMS') with the app's (employee, time)
    index and, dropped for the measurement and added back, without it.
"""

import json
import random
import sys
import time
from datetime import datetime, timedelta, timezone

import frappe
from frappe.utils import get_system_timezone, now_datetime

from cams_biometric.constants import CHECKIN, PROCESSED, RAW_PUNCH, SOURCE_CALLBACK
from cams_biometric.install import add_checkin_index, drop_checkin_index
from cams_biometric.processing import _checkin_at
from cams_biometric.protocol.logtime import format_logtime, to_local_naive
from cams_biometric.protocol.payload import punch_key
from cams_biometric.tests.test_indexes import hot_path_queries

DEVICES = 20
BATCH = 5000


def seed(total: int, employees: int):
	existing = frappe.db.count(RAW_PUNCH, {"device": ("like", "BENCH%")})
	by_user = dict(
		frappe.get_all(
			"Employee",
			filters={"attendance_device_id": ("like", "B%")},
			fields=["attendance_device_id", "name"],
			as_list=True,
		)
	)
	zone = get_system_timezone()
	now = now_datetime()
	# Seeded punches sit 40+ days back, one second apart: never a measured punch's instant.
	origin = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=40)
	raw_fields = [
		"name", "creation", "modified", "owner", "modified_by", "device", "source", "status",
		"punch_key", "device_user_id", "log_time", "punch_time", "punch_type", "input_type",
		"received_at", "employee", "employee_checkin", "attempts", "processed_at",
	]  # fmt: skip
	checkin_fields = [
		"name", "creation", "modified", "owner", "modified_by", "docstatus", "employee",
		"log_type", "time", "device_id", "skip_auto_attendance",
	]  # fmt: skip
	raw_rows, checkin_rows = [], []
	for i in range(existing, total):
		device = f"BENCH{i % DEVICES + 1:02d}"
		user_id = f"B{i % employees:04d}"
		moment = origin - timedelta(seconds=i)
		local = to_local_naive(moment, zone)
		checkin = f"SEED-CHK-{i:07d}"
		raw_rows.append(
			(
				f"SEED-RAW-{i:07d}", now, now, "Administrator", "Administrator", device, SOURCE_CALLBACK,
				PROCESSED, punch_key(device, user_id, moment), user_id, format_logtime(moment), local,
				"CheckIn", "Fingerprint", now, by_user[user_id], checkin, 1, now,
			)
		)  # fmt: skip
		checkin_rows.append(
			(checkin, now, now, "Administrator", "Administrator", 0, by_user[user_id], "IN", local, device, 0)
		)
		if len(raw_rows) >= BATCH:
			_flush(raw_fields, raw_rows, checkin_fields, checkin_rows)
	_flush(raw_fields, raw_rows, checkin_fields, checkin_rows)
	print(json.dumps({"raw_rows": frappe.db.count(RAW_PUNCH, {"device": ("like", "BENCH%")})}))


def _flush(raw_fields, raw_rows, checkin_fields, checkin_rows):
	if raw_rows:
		frappe.db.bulk_insert(RAW_PUNCH, raw_fields, raw_rows)
		frappe.db.bulk_insert(CHECKIN, checkin_fields, checkin_rows)
		frappe.db.commit()
		raw_rows.clear()
		checkin_rows.clear()


def explain() -> list[dict]:
	raw_punch = frappe.db.get_value(RAW_PUNCH, {"device": ("like", "BENCH%")}, "name")
	employee = frappe.db.get_value(RAW_PUNCH, raw_punch, "employee")
	plans = []
	for label, query in hot_path_queries(raw_punch, employee).items():
		for row in frappe.db.sql(f"explain {query}", as_dict=True):
			plans.append(
				{
					"query": label,
					"table": row.table,
					"type": row.type,
					"key": row.key,
					"possible_keys": row.possible_keys,
					"rows": row.rows,
				}
			)
	return plans


def lookup(count: int = 2000) -> dict:
	employees = frappe.get_all("Employee", filters={"attendance_device_id": ("like", "B%")}, pluck="name")
	checkins = list(
		frappe.get_all(
			CHECKIN,
			filters={"employee": ("in", employees)},
			fields=["employee", "time", "log_type"],
			order_by="creation desc",
			limit=count,
			as_list=True,
		)
	)
	random.Random(4).shuffle(checkins)
	# The history each lookup searches: the checkins of the employees it looks up.
	looked_up = {employee for employee, _at, _log_type in checkins}
	per_employee = frappe.db.count(CHECKIN, {"employee": ("in", list(looked_up))}) / max(len(looked_up), 1)

	def timed() -> float:
		started = time.perf_counter()
		for employee, at, log_type in checkins:
			_checkin_at(employee, at, log_type)
		return (time.perf_counter() - started) / len(checkins) * 1000

	with_index = timed()
	drop_checkin_index()
	try:
		without_index = timed()
	finally:
		add_checkin_index()
	return {
		"lookups": len(checkins),
		"checkins_per_employee": round(per_employee, 1),
		"ms_with_index": round(with_index, 3),
		"ms_without_index": round(without_index, 3),
	}


if __name__ == "__main__":
	frappe.init(site=sys.argv[1])
	frappe.connect()
	if sys.argv[2] == "seed":
		seed(int(sys.argv[3]), int(sys.argv[4]))
	elif sys.argv[2] == "lookup":
		print(json.dumps(lookup(*map(int, sys.argv[3:4]))))
	else:
		print(json.dumps(explain()))
