"""Fault drills on a running bench: `cd sites && ../env/bin/python drills.py SITE CALLBACK_URL [DRILL ...]`

Each drill breaks something for real (RQ workers stopped or SIGKILLed, MariaDB restarted,
the gateway failing pages), lets the app recover on its own, and then checks that every
punch is an Employee Checkin exactly once and that the load record tells what happened.
Gunicorn must serve CALLBACK_URL's host (robustness/run starts it); this process starts and
kills the RQ workers itself, and plays the scheduler's clock for the app's two cron jobs
(the sweep and the lost-load recovery) every few seconds instead of once a minute.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import frappe
import psutil
from frappe.installer import update_site_config
from frappe.utils import get_system_timezone, now_datetime

from cams_biometric.constants import CHECKIN, PENDING, RAW_PUNCH, SETTINGS
from cams_biometric.loads import ACTIVE_STATUSES, LOAD_REQUEST, resume_load
from cams_biometric.protocol.logtime import parse_logtime, to_local_naive
from cams_biometric.protocol.simulator import Gateway, GatewayServer, generate_punches, send_callbacks

USERS = 50
# Site config for the drills: a load without progress for 15 s counts as lost (5 minutes
# otherwise), and retries back off from 1 s (5 s otherwise).
DRILL_CONFIG = {
	"cams_biometric_load_lost_after": 15,
	"cams_biometric_retry_base_seconds": 1,
	# the simulator speaks http on loopback
	"cams_biometric_allow_http_endpoint": 1,
}
CRON_JOBS = ("cams_biometric.processing.process_pending_punches", "cams_biometric.loads.recover_lost_loads")
SITES = os.getcwd()
PYTHON = sys.executable


class DrillFailed(AssertionError):
	pass


def check(condition, message):
	if not condition:
		raise DrillFailed(message)


# -- processes ------------------------------------------------------------------------------


class Workers:
	def __init__(self):
		self.processes: list[subprocess.Popen] = []
		self.log = open(os.path.join(SITES, "..", "logs", "drill-workers.log"), "a")

	def start(self, count=1):
		for _ in range(count):
			self.processes.append(
				subprocess.Popen(
					[
						PYTHON,
						"-m",
						"frappe.utils.bench_helper",
						"frappe",
						"worker",
						"--queue",
						"short,default,long",
					],
					cwd=SITES,
					stdout=self.log,
					stderr=subprocess.STDOUT,
				)
			)

	def stop(self):
		"""A warm shutdown: each worker finishes its current job, as `supervisorctl stop` does."""
		for process in self.processes:
			process.send_signal(signal.SIGTERM)
		for process in self.processes:
			process.wait(timeout=120)
		self.processes = []

	def kill(self) -> int:
		"""SIGKILL every worker and its work horse: nothing is finished or cleaned up."""
		killed = 0
		for process in self.processes:
			try:
				tree = psutil.Process(process.pid).children(recursive=True)
			except psutil.NoSuchProcess:
				tree = []
			for victim in [*tree, process]:
				try:
					os.kill(victim.pid, signal.SIGKILL)
					killed += 1
				except ProcessLookupError:
					pass
			process.wait()
		self.processes = []
		return killed


def mariadb_pid() -> int | None:
	for process in psutil.process_iter(["name"]):
		if process.info["name"] in ("mariadbd", "mysqld"):
			return process.pid
	return None


def restart_mariadb() -> int:
	"""Stop the server process itself (credentials differ per machine; `service ... restart`
	can fail to stop it and still exit 0), start it again, and prove it is a new process."""
	before = mariadb_pid()
	check(before, "no MariaDB server process found")
	os.kill(before, signal.SIGTERM)
	for _ in range(60):
		if not psutil.pid_exists(before):
			break
		time.sleep(0.5)
	if subprocess.run(["service", "mariadb", "start"], capture_output=True).returncode:
		subprocess.Popen(["mysqld_safe"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
	for _ in range(60):
		if not subprocess.run(["mysqladmin", "ping"], capture_output=True).returncode:
			after = mariadb_pid()
			check(after and after != before, "MariaDB was not restarted")
			return after
		time.sleep(1)
	raise DrillFailed("MariaDB did not come back")


def reconnect():
	site = frappe.local.site
	try:
		frappe.destroy()
	except Exception:
		pass
	frappe.init(site=site)
	frappe.connect()
	frappe.set_user("Administrator")


def play_scheduler():
	"""Queue the app's cron jobs the way the scheduler does, through the same Scheduled Job Types."""
	for method in CRON_JOBS:
		frappe.get_doc("Scheduled Job Type", {"method": method}).enqueue(force=True)
	frappe.db.commit()


def wait_until(condition, timeout, what, every=0.5, scheduler_every=5.0):
	started = last_tick = time.monotonic()
	while time.monotonic() - started < timeout:
		frappe.db.rollback()  # a fresh snapshot
		if condition():
			return time.monotonic() - started
		if time.monotonic() - last_tick >= scheduler_every:
			play_scheduler()
			last_tick = time.monotonic()
		time.sleep(every)
	raise DrillFailed(f"timed out after {timeout} s waiting for {what}")


# -- fixtures and checks --------------------------------------------------------------------


def drill_employees() -> dict[str, str]:
	company = frappe.defaults.get_global_default("company") or frappe.get_all("Company", pluck="name")[0]
	by_user = {}
	for i in range(USERS):
		user_id = f"DRL{i:03d}"
		name = frappe.db.get_value("Employee", {"attendance_device_id": user_id})
		if not name:
			name = (
				frappe.get_doc(
					{
						"doctype": "Employee",
						"first_name": f"Drill {user_id}",
						"gender": "Female",
						"date_of_birth": "1990-01-01",
						"date_of_joining": "2020-01-01",
						"company": company,
						"status": "Active",
						"attendance_device_id": user_id,
					}
				)
				.insert()
				.name
			)
		by_user[user_id] = name
	frappe.db.commit()
	return by_user


def fresh_device(name: str) -> str:
	token = f"DrillToken-{name}".ljust(32, "x")
	if not frappe.db.exists("CAMS Biometric Device", name):
		frappe.get_doc(
			{
				"doctype": "CAMS Biometric Device",
				"service_tag_id": name,
				"device_label": f"Drill {name}",
				"auth_token": token,
			}
		).insert()
	frappe.db.delete(LOAD_REQUEST, {"device": name})
	frappe.db.delete(RAW_PUNCH, {"device": name})
	frappe.db.commit()
	return token


def clear_checkins(employees):
	frappe.db.delete(CHECKIN, {"employee": ("in", list(employees))})
	frappe.db.commit()


def punch_set(days: int, end_days_ago: int) -> list[dict]:
	end = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=end_days_ago)
	return generate_punches(USERS, days, 4, end=end, user_ids=[f"DRL{i:03d}" for i in range(USERS)])


def exactly_once(device: str, employees, expected: int) -> dict:
	"""Every punch is one raw row and one checkin: none lost, none doubled."""
	frappe.db.rollback()
	raw = frappe.db.count(RAW_PUNCH, {"device": device})
	statuses = dict(
		frappe.db.sql(
			f"select status, count(*) from `tab{RAW_PUNCH}` where device = %s group by status", device
		)
	)
	checkins = frappe.db.count(CHECKIN, {"employee": ("in", list(employees))})
	doubled = frappe.db.sql(
		f"""select count(*) from (select 1 from `tab{CHECKIN}` where employee in %s
		group by employee, time having count(*) > 1) d""",
		[list(employees)],
	)[0][0]
	check(raw == expected, f"{raw} raw rows for {expected} punches")
	check(statuses == {"Processed": expected}, f"raw statuses {statuses}")
	check(checkins == expected, f"{checkins} checkins for {expected} punches")
	check(doubled == 0, f"{doubled} employee/instant pairs with more than one checkin")
	return {"punches": expected, "raw_rows": raw, "checkins": checkins, "doubled": doubled}


def start_load(device: str, rows: list[dict]) -> str:
	"""A load over the whole punch set: from a minute before its first punch until now.

	(A range counted in days back from now left out the first day's early punches,
	depending on the time of day the drill ran.)
	"""
	first = min(parse_logtime(row["LogTime"]) for row in rows)
	doc = frappe.get_doc(
		{
			"doctype": LOAD_REQUEST,
			"device": device,
			"from_time": to_local_naive(first - timedelta(minutes=1), get_system_timezone()),
			"to_time": now_datetime(),
		}
	).insert()
	frappe.db.commit()  # queues page 1
	return doc.name


def load_record(name: str) -> frappe._dict:
	frappe.db.rollback()
	return frappe.db.get_value(
		LOAD_REQUEST,
		name,
		[
			"status",
			"pages_fetched",
			"rows_received",
			"new_punches",
			"duplicates",
			"unmapped",
			"errors",
			"gateway_retries",
			"recoveries",
			"resumes",
			"error",
		],
		as_dict=True,
	)


def load_tells_the_truth(name: str, expected_rows: int, new: int) -> frappe._dict:
	load = load_record(name)
	check(load.status == "Completed", f"load ended {load.status}: {load.error}")
	# The simulator names no offset on a last page that is full, so such a load asks once
	# more by time, from a second before that page's last punch: that page repeats a punch or
	# two (counted as received duplicates) and ends the load.
	extra_page = expected_rows % 50 == 0
	repeats = load.rows_received - expected_rows
	check(0 <= repeats <= (2 if extra_page else 0), f"load received {load.rows_received} of {expected_rows}")
	check(load.new_punches == new, f"load says {load.new_punches} new, expected {new}")
	parts = load.new_punches + load.duplicates + load.unmapped + load.errors
	check(parts == load.rows_received, f"counts add up to {parts}, not {load.rows_received}")
	pages = -(-expected_rows // 50) + extra_page
	check(load.pages_fetched == pages, f"{load.pages_fetched} pages recorded, expected {pages}")
	return load


def comments(name: str) -> list[str]:
	return frappe.get_all(
		"Comment", filters={"reference_doctype": LOAD_REQUEST, "reference_name": name}, pluck="content"
	)


# -- the drills -----------------------------------------------------------------------------


def drill_exactly_once(ctx) -> dict:
	"""2,000 punches, each posted 3 times by concurrent shuffled senders, then the same
	punches again through LoadLog: exactly 2,000 checkins."""
	device, rows = "DRILL-ONCE", punch_set(days=10, end_days_ago=1)
	token = fresh_device(device)
	clear_checkins(ctx.employees.values())
	ctx.workers.start(2)
	results = []

	def sender(seed):
		results.append(
			send_callbacks(
				f"{ctx.url}?stgid={device}",
				rows,
				token,
				shuffle=True,
				concurrency=4,
				seed=seed,
				headers=ctx.headers,
			)
		)

	threads = [threading.Thread(target=sender, args=(seed,)) for seed in (1, 2, 3)]
	for thread in threads:
		thread.start()
	for thread in threads:
		thread.join()
	outcomes = {}
	for result in results:
		for outcome, count in result["outcomes"].items():
			outcomes[outcome] = outcomes.get(outcome, 0) + count
	check(outcomes == {"200": 3 * len(rows)}, f"callback answers {outcomes}")
	wait_until(
		lambda: not frappe.db.count(RAW_PUNCH, {"device": device, "status": PENDING}), 600, "the drain"
	)
	ctx.gateway_for(device, token, rows)
	name = start_load(device, rows)
	wait_until(lambda: load_record(name).status not in ACTIVE_STATUSES, 600, "the load")
	load = load_tells_the_truth(name, len(rows), new=0)
	result = exactly_once(device, ctx.employees.values(), len(rows))
	ctx.workers.stop()
	return {**result, "callbacks": sum(outcomes.values()), "load_duplicates": load.duplicates}


def drill_workers_stopped_during_burst(ctx) -> dict:
	"""Workers stopped a third of the way into a burst, started again after it."""
	device, rows = "DRILL-BURST", punch_set(days=10, end_days_ago=1)
	token = fresh_device(device)
	clear_checkins(ctx.employees.values())
	ctx.workers.start(2)
	result = {}
	sender = threading.Thread(
		target=lambda: result.update(
			send_callbacks(
				f"{ctx.url}?stgid={device}", rows, token, shuffle=True, concurrency=8, headers=ctx.headers
			)
		)
	)
	sender.start()
	wait_until(lambda: frappe.db.count(RAW_PUNCH, {"device": device}) >= len(rows) // 3, 300, "a third")
	ctx.workers.stop()
	sender.join()
	check(result["outcomes"] == {"200": len(rows)}, f"callback answers {result['outcomes']}")
	frappe.db.rollback()
	waiting = frappe.db.count(RAW_PUNCH, {"device": device, "status": PENDING})
	ctx.workers.start(2)
	seconds = wait_until(
		lambda: not frappe.db.count(RAW_PUNCH, {"device": device, "status": PENDING}), 600, "the drain"
	)
	ctx.workers.stop()
	return {
		**exactly_once(device, ctx.employees.values(), len(rows)),
		"pending_while_stopped": waiting,
		"drained_after_restart_s": round(seconds, 1),
	}


def _load_with_a_fault(ctx, device: str, fault) -> dict:
	rows = punch_set(days=8, end_days_ago=1)
	token = fresh_device(device)
	clear_checkins(ctx.employees.values())
	gateway = ctx.gateway_for(device, token, rows)
	gateway.always = {"delay": 0.4}  # a slow gateway, so the fault lands mid-load
	ctx.workers.start(1)
	name = start_load(device, rows)
	wait_until(lambda: (load_record(name).pages_fetched or 0) >= 5, 300, "five pages", scheduler_every=1e9)
	at_page = load_record(name).pages_fetched
	fault()
	gateway.always = None
	seconds = wait_until(lambda: load_record(name).status not in ACTIVE_STATUSES, 600, "the load to end")
	ctx.workers.stop()
	load = load_tells_the_truth(name, len(rows), new=len(rows))
	# Usually the fault kills the page job and the recovery queues the page again; the record
	# must say so as often as it happened (a fault between two pages needs no recovery).
	lost = sum("worker was lost" in text for text in comments(name))
	check(lost == load.recoveries, f"{load.recoveries} recoveries recorded, {lost} comments")
	return {
		**exactly_once(device, ctx.employees.values(), len(rows)),
		"fault_at_page": at_page,
		"pages": load.pages_fetched,
		"recoveries": load.recoveries,
		"finished_after_fault_s": round(seconds, 1),
	}


def drill_worker_killed_mid_load(ctx) -> dict:
	def fault():
		ctx.killed = ctx.workers.kill()
		ctx.workers.start(1)

	return {**_load_with_a_fault(ctx, "DRILL-KILL", fault), "processes_killed": ctx.killed}


def drill_database_restarted_mid_load(ctx) -> dict:
	def fault():
		restart_mariadb()
		reconnect()

	return _load_with_a_fault(ctx, "DRILL-DB", fault)


def drill_gateway_failing_pages(ctx) -> dict:
	"""Transient failures on three pages (retried), then a page failing past the retries:
	the load stops Partially Completed, and a Resume finishes it."""
	device, rows = "DRILL-GATEWAY", punch_set(days=3, end_days_ago=1)
	token = fresh_device(device)
	clear_checkins(ctx.employees.values())
	gateway = ctx.gateway_for(device, token, rows)
	gateway.fail_at_offset(50, {"http": 503})
	gateway.fail_at_offset(150, {"status": 5})
	gateway.fail_at_offset(250, {"body": "garbage"})
	gateway.fail_at_offset(400, *[{"http": 502}] * 6)  # a first try and 5 retries, all failing
	ctx.workers.start(1)
	name = start_load(device, rows)
	wait_until(lambda: load_record(name).status not in ACTIVE_STATUSES, 900, "the load to stop")
	stopped = load_record(name)
	check(stopped.status == "Partially Completed", f"the load ended {stopped.status}")
	check("Gave up after 5 retries" in (stopped.error or ""), f"error says {stopped.error!r}")
	check(stopped.pages_fetched == 8, f"{stopped.pages_fetched} pages before the stop")
	resume_load(name)
	frappe.db.commit()
	wait_until(lambda: load_record(name).status not in ACTIVE_STATUSES, 300, "the resumed load")
	ctx.workers.stop()
	load = load_tells_the_truth(name, len(rows), new=len(rows))
	# Three pages failed once and were retried; the fourth was retried 5 times, then given up.
	check(load.gateway_retries == 8, f"{load.gateway_retries} gateway retries recorded, 8 were made")
	check(load.resumes == 1, f"{load.resumes} resumes recorded")
	return {
		**exactly_once(device, ctx.employees.values(), len(rows)),
		"stopped_at_page": stopped.pages_fetched,
		"gateway_retries": load.gateway_retries,
		"resumes": load.resumes,
	}


DRILLS = {
	"exactly-once": drill_exactly_once,
	"workers-stopped": drill_workers_stopped_during_burst,
	"worker-killed": drill_worker_killed_mid_load,
	"db-restart": drill_database_restarted_mid_load,
	"gateway-failing": drill_gateway_failing_pages,
}


class Context:
	def __init__(self, url: str, host: str):
		self.url, self.headers = url, {"Host": host}
		self.workers = Workers()
		self.gateways: dict[str, Gateway] = {}
		self.server = GatewayServer(Gateway("DRILL-NONE", "unused")).start()
		self.employees = drill_employees()
		self.killed = 0

	def gateway_for(self, device, token, rows) -> Gateway:
		gateway = Gateway(device, token, rows)
		self.server.gateways[device] = gateway  # the handler reads this same dict
		return gateway


def main(site: str, url: str, names: list[str]) -> int:
	frappe.init(site=site)
	frappe.connect()
	frappe.set_user("Administrator")
	endpoint_before = frappe.db.get_single_value(SETTINGS, "restful_endpoint")
	for key, value in DRILL_CONFIG.items():
		update_site_config(key, value)
	ctx = Context(url, site)
	frappe.db.set_single_value(SETTINGS, "restful_endpoint", ctx.server.url)
	frappe.db.commit()
	results, failed = [], 0
	try:
		for name in names or DRILLS:
			started = time.monotonic()
			try:
				outcome = DRILLS[name](ctx)
				status = "passed"
			except DrillFailed as e:
				outcome, status = {"failure": str(e)}, "FAILED"
				failed += 1
			finally:
				if ctx.workers.processes:
					ctx.workers.kill()
			results.append((name, status, round(time.monotonic() - started), outcome))
			print(json.dumps({"drill": name, "status": status, **outcome}), flush=True)
	finally:
		ctx.server.stop()
		reconnect()
		frappe.db.set_single_value(SETTINGS, "restful_endpoint", endpoint_before)
		frappe.db.commit()
		for key in DRILL_CONFIG:
			update_site_config(key, "None")
	print("\n| drill | result | seconds | what happened |\n| --- | --- | ---: | --- |")
	for name, status, seconds, outcome in results:
		print(f"| {name} | {status} | {seconds} | {', '.join(f'{k} {v}' for k, v in outcome.items())} |")
	print(f"\n{len(results) - failed} of {len(results)} drills passed")
	return 1 if failed else 0


if __name__ == "__main__":
	sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
