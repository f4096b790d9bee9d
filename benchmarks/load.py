"""Load Punchlog throughput, run inside the bench while RQ workers run:

`cd sites && ../env/bin/python load.py SITE EMPLOYEES DAYS`

Serves a simulated gateway for the 20 benchmark devices from this process (each device
holds the punches of every 20th employee B0000.., 4 a day for DAYS days), points CAMS
Biometric Settings at it, starts one CAMS Load Request per device (what "Load Punchlog for
all devices" does) and waits until every load has ended. Prints rows/s from the first page
queued to the last load ended, with the load records' counts and the checkins made.
"""

import json
import sys
import time
from datetime import datetime, timezone

import frappe
from frappe.installer import update_site_config
from frappe.utils import add_to_date, get_system_timezone, now_datetime

from cams_biometric.constants import CHECKIN, RAW_PUNCH, SETTINGS
from cams_biometric.loads import ACTIVE_STATUSES, LOAD_REQUEST, start_load_for_all_devices
from cams_biometric.protocol.logtime import from_local_naive, parse_logtime
from cams_biometric.protocol.simulator import Gateway, GatewayServer, generate_punches

DEVICES = 20


def main(site: str, employees: int, days: int, timeout: float = 4 * 3600):
	frappe.init(site=site)
	frappe.connect()
	frappe.set_user("Administrator")
	tokens = json.loads(sys.stdin.read())  # the devices and tokens fixtures.py printed
	user_ids = [f"B{i:04d}" for i in range(employees)]
	now = datetime.now(timezone.utc).replace(microsecond=0)
	punches = generate_punches(employees, days, 4, end=now, user_ids=user_ids)
	device_names = sorted(tokens)
	by_device = {name: [] for name in device_names}
	for row in punches:
		by_device[device_names[int(row["UserID"][1:]) % DEVICES]].append(row)
	gateways = [Gateway(name, tokens[name], rows) for name, rows in by_device.items()]
	server = GatewayServer(gateways[0], more=tuple(gateways[1:])).start()

	# Only the benchmark devices are enabled while it runs.
	enabled_before = frappe.get_all("CAMS Biometric Device", filters={"enabled": 1}, pluck="name")
	frappe.db.set_value("CAMS Biometric Device", {"name": ("not like", "BENCH%")}, "enabled", 0)
	endpoint_before = frappe.db.get_single_value(SETTINGS, "restful_endpoint")
	frappe.db.set_single_value(SETTINGS, "restful_endpoint", server.url)
	# The workers read site config: the simulator speaks http on loopback.
	http_before = frappe.conf.get("cams_biometric_allow_http_endpoint")
	update_site_config("cams_biometric_allow_http_endpoint", 1)
	frappe.db.delete(LOAD_REQUEST, {"device": ("like", "BENCH%")})
	frappe.db.commit()
	try:
		# A minute inside the gateway's 30-day window, which the range check enforces.
		start_time = add_to_date(now_datetime(), days=-days, minutes=1)
		started = time.perf_counter()
		names = start_load_for_all_devices(str(start_time), str(now_datetime()))
		frappe.db.commit()  # the first pages are queued on commit
		reported, rows_reported = started, 0
		while time.perf_counter() - started < timeout:
			frappe.db.rollback()  # a fresh snapshot each poll
			if not frappe.db.count(LOAD_REQUEST, {"name": ("in", names), "status": ("in", ACTIVE_STATUSES)}):
				break
			if time.perf_counter() - reported >= 60:
				# The rate of the last minute too, to see whether pages slow down as tables grow.
				rows = int(
					frappe.db.sql(
						"select sum(rows_received) from `tabCAMS Load Request` where name in %s", [names]
					)[0][0]
					or 0
				)
				now_s = time.perf_counter()
				print(
					f"{now_s - started:.0f} s: {rows} rows, {rows / (now_s - started):.1f} rows/s overall, "
					f"{(rows - rows_reported) / (now_s - reported):.1f} in the last minute",
					file=sys.stderr,
					flush=True,
				)
				reported, rows_reported = now_s, rows
			time.sleep(0.5)
		elapsed = time.perf_counter() - started
	finally:
		server.stop()
		frappe.db.set_single_value(SETTINGS, "restful_endpoint", endpoint_before)
		update_site_config("cams_biometric_allow_http_endpoint", http_before or "None")
		frappe.db.set_value("CAMS Biometric Device", {"name": ("in", enabled_before)}, "enabled", 1)
		frappe.db.commit()

	totals = frappe.db.sql(
		"""select sum(rows_received), sum(new_punches), sum(duplicates), sum(unmapped), sum(errors),
			sum(pages_fetched), sum(gateway_retries), sum(recoveries)
		from `tabCAMS Load Request` where name in %s""",
		[names],
	)[0]
	statuses = dict(
		frappe.db.sql(
			"select status, count(*) from `tabCAMS Load Request` where name in %s group by status", [names]
		)
	)
	window_start = from_local_naive(start_time, get_system_timezone())
	in_range = sum(1 for row in punches if parse_logtime(row["LogTime"]) >= window_start)
	bench_employees = frappe.get_all(
		"Employee", filters={"attendance_device_id": ("in", user_ids)}, pluck="name"
	)
	rows = int(totals[0] or 0)
	print(
		json.dumps(
			{
				"loads": len(names),
				"load_statuses": statuses,
				"punches_in_range": in_range,
				"rows_received": rows,
				"new": int(totals[1] or 0),
				"duplicates": int(totals[2] or 0),
				"unmapped": int(totals[3] or 0),
				"errors": int(totals[4] or 0),
				"pages": int(totals[5] or 0),
				"gateway_retries": int(totals[6] or 0),
				"recoveries": int(totals[7] or 0),
				"raw_rows": frappe.db.count(RAW_PUNCH, {"load_request": ("in", names)}),
				"checkins": frappe.db.count(CHECKIN, {"employee": ("in", bench_employees)}),
				"seconds": elapsed,
				"rows_per_second": rows / elapsed if elapsed else None,
				"timed_out": elapsed >= timeout,
			}
		)
	)


if __name__ == "__main__":
	main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
