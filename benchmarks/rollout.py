"""A rollout of N Employees onto one simulated device, run inside the bench while RQ workers run:

`cd sites && ../env/bin/python rollout.py SITE run N READY_FILE` (N = 0: no rollout, the drain alone)

Serves a simulated gateway for one fresh device, ROLLBENCH (no company or branch, so every
benchmark Employee is in its scope; not named BENCH.. so that the other benchmarks never
count or load it), points CAMS Biometric Settings at it and starts Enrol Employees for
B0000..B{N-1} as the form does. It then touches READY_FILE (benchmarks/run starts the
workers on it) and samples, every half second, the rollout's status and progress and the
benchmark devices' Pending raw punches, until the rollout has ended and the backlog is empty.
Prints commands/s (first command sent to last finished, from the CAMS Device Command
records), the progress values seen, and the drain's rate while the rollout ran. It removes the device, its rollout, commands and directory rows at the end.

`cd sites && ../env/bin/python rollout.py SITE cleanup` removes the device and everything of it.
"""

import json
import sys
import time
from pathlib import Path

import frappe
from frappe.installer import update_site_config

from cams_biometric.commands import COMMAND
from cams_biometric.constants import DEVICE, SETTINGS
from cams_biometric.protocol.simulator import Gateway, GatewayServer
from cams_biometric.rollouts import ACTIVE, ITEM, ROLLOUT, enrol_employees

NAME = "ROLLBENCH"
TOKEN = "RollBenchToken".ljust(32, "x")
BENCH_DEVICES = ("like", "BENCH%")  # where the backlog is (drain.py's devices)
# Everything that names the device, besides the rollout's rows (by their parent).
OF_DEVICE = (
	"CAMS Raw Punch Log",
	"CAMS Device Command",
	"CAMS Device User",
	"CAMS Device Event",
	"CAMS Attendance Photo",
	"CAMS Load Request",
)


def cleanup():
	rollouts = frappe.get_all(ROLLOUT, filters={"device": NAME}, pluck="name")
	if rollouts:
		frappe.db.delete(ITEM, {"parent": ("in", rollouts), "parenttype": ROLLOUT})
		frappe.db.delete(ROLLOUT, {"name": ("in", rollouts)})
		frappe.db.delete("Notification Log", {"document_type": ROLLOUT, "document_name": ("in", rollouts)})
	for doctype in OF_DEVICE:
		frappe.db.delete(doctype, {"device": NAME})
	for doctype, names in ((DEVICE, [NAME]), (ROLLOUT, rollouts)):
		if names:
			frappe.db.delete("Version", {"ref_doctype": doctype, "docname": ("in", names)})
			frappe.db.delete("Comment", {"reference_doctype": doctype, "reference_name": ("in", names)})
	frappe.db.delete(DEVICE, {"name": NAME})
	frappe.db.delete("__Auth", {"doctype": DEVICE, "name": NAME})
	frappe.db.commit()


def pending_punches() -> int:
	return frappe.db.count("CAMS Raw Punch Log", {"device": BENCH_DEVICES, "status": "Pending"})


def run(employees: int, ready_file: str, timeout: float = 3 * 3600):
	"""With ``employees`` 0, no rollout: the drain alone, timed the same way."""
	cleanup()
	server = None
	endpoint_before = frappe.db.get_single_value(SETTINGS, "restful_endpoint")
	http_before = frappe.conf.get("cams_biometric_allow_http_endpoint")
	samples = []  # (seconds, rollout status, progress, done, pending punches)
	try:
		rollout = None
		if employees:
			rollout, server = _start_rollout(employees)
		started = time.perf_counter()
		Path(ready_file).touch()  # benchmarks/run starts the workers now
		while time.perf_counter() - started < timeout:
			frappe.db.rollback()  # a fresh snapshot each poll
			values = (
				frappe.db.get_value(ROLLOUT, rollout, ["status", "progress", "done"], as_dict=True)
				if rollout
				else frappe._dict(status="Completed", progress=None, done=None)
			)
			pending = pending_punches()
			samples.append(
				(time.perf_counter() - started, values.status, values.progress, values.done, pending)
			)
			if values.status not in ACTIVE and not pending:
				break
			time.sleep(0.5)
		frappe.db.rollback()
		result = _drain_result(samples, bool(rollout))
		if rollout:
			result.update(_rollout_result(rollout, employees, samples, server.gateway))
	finally:
		if server:
			server.stop()
			frappe.db.set_single_value(SETTINGS, "restful_endpoint", endpoint_before)
			update_site_config("cams_biometric_allow_http_endpoint", http_before or "None")
			frappe.db.commit()
		cleanup()
	print(json.dumps(result))


def _start_rollout(employees: int) -> tuple[str, GatewayServer]:
	frappe.get_doc(
		{"doctype": DEVICE, "service_tag_id": NAME, "device_label": "Rollout bench", "auth_token": TOKEN}
	).insert()
	names = frappe.get_all(
		"Employee",
		filters={"attendance_device_id": ("in", [f"B{i:04d}" for i in range(employees)])},
		pluck="name",
		order_by="attendance_device_id asc",
	)
	if len(names) != employees:
		raise SystemExit(f"{len(names)} benchmark Employees B.., {employees} wanted")
	server = GatewayServer(Gateway(NAME, TOKEN)).start()
	frappe.db.set_single_value(SETTINGS, "restful_endpoint", server.url)
	# The workers read site config: the simulator speaks http on loopback.
	update_site_config("cams_biometric_allow_http_endpoint", 1)
	frappe.db.commit()
	rollout = enrol_employees(NAME, employees=names, copy_templates=1)
	frappe.db.commit()  # the job is queued on commit
	return rollout, server


def _drain_result(samples: list, with_rollout: bool) -> dict:
	"""The drain's rate over the whole backlog, and while the rollout ran (to whichever of the
	two ended first). Both from the first checkin seen, not from the workers' start: their
	start-up (a few seconds) would weigh more in a short window than in a long one."""
	backlog = samples[0][4]
	if not backlog:
		return {"backlog": 0}
	first = next((s for s in samples if s[4] < backlog), samples[-1])
	drain_end = next((s[0] for s in samples if s[4] == 0), None)
	result = {
		"backlog": backlog,
		"first_checkin_seconds": first[0],
		"drain_seconds": drain_end - first[0] if drain_end else None,
		"drain_per_second": first[4] / (drain_end - first[0]) if drain_end else None,
	}
	if with_rollout:
		rollout_end = next((s[0] for s in samples if s[1] not in ACTIVE), samples[-1][0])
		overlap_end = min(rollout_end, drain_end) if drain_end is not None else rollout_end
		at_end = next(s for s in samples if s[0] >= overlap_end)
		result.update(
			overlap_seconds=at_end[0] - first[0],
			drained_during_rollout=first[4] - at_end[4],
			drain_per_second_during_rollout=(first[4] - at_end[4]) / (at_end[0] - first[0]),
		)
	return result


def _rollout_result(rollout: str, employees: int, samples: list, gateway: Gateway) -> dict:
	doc = frappe.get_doc(ROLLOUT, rollout)
	first_sent, last_finished, commands = frappe.db.sql(
		f"select min(sent_at), max(finished_at), count(*) from `tab{COMMAND}` where rollout = %s", [rollout]
	)[0]
	statuses = dict(
		frappe.db.sql(
			f"select status, count(*) from `tab{COMMAND}` where rollout = %s group by status", [rollout]
		)
	)
	command_seconds = (last_finished - first_sent).total_seconds() if commands else None
	# The rate of the first and the last tenth of the commands: does a command cost more as the
	# rollout goes on (its rows, the directory, the command log grow)?
	times = frappe.db.sql(
		f"select sent_at, finished_at from `tab{COMMAND}` where rollout = %s order by sent_at", [rollout]
	)
	tenth = max(1, len(times) // 10)

	def rate(rows):
		seconds = (rows[-1][1] - rows[0][0]).total_seconds()
		return len(rows) / seconds if seconds else None

	rollout_end = next((s[0] for s in samples if s[1] not in ACTIVE), samples[-1][0])
	progress_seen = sorted({round(s[2] or 0, 1) for s in samples if s[1] is not None})
	return {
		"rollout": rollout,
		"employees": employees,
		"status": doc.status,
		"done": doc.done,
		"already_there": doc.already_there,
		"failed": doc.failed,
		"message": doc.message,
		"commands": commands,
		"command_statuses": statuses,
		"users_on_simulator": len(gateway.users),
		"command_seconds": command_seconds,
		"commands_per_second": (doc.done + doc.already_there) / command_seconds if command_seconds else None,
		"first_tenth_commands_per_second": rate(times[:tenth]) if times else None,
		"last_tenth_commands_per_second": rate(times[-tenth:]) if times else None,
		"rollout_seconds": rollout_end,
		"job_seconds": (doc.finished_at - doc.started_at).total_seconds() if doc.finished_at else None,
		"progress_samples": sum(1 for s in samples if s[0] <= rollout_end),
		"progress_values": len(progress_seen),
		"progress_first_last": [progress_seen[0], progress_seen[-1]] if progress_seen else None,
	}


if __name__ == "__main__":
	frappe.init(site=sys.argv[1])
	frappe.connect()
	frappe.set_user("Administrator")
	if sys.argv[2] == "cleanup":
		cleanup()
	else:
		run(int(sys.argv[3]), sys.argv[4])
