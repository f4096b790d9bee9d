"""The outbox of device commands: every RESTful command sent to a device is a CAMS Device
Command record, run in a background job with Load Punchlog's bounded retry.

A retry sends the same OperationID. Outcomes that leave the device as asked count as done:
adding a user the device already has, deleting one it does not have.

Who may send what is checked the same way on every path (check_may_send). Which templates an
Add User carries is decided here, from the directory, never taken from whoever asks; they are
read when the job builds the request and never stored in the command, nor logged should the
job fail.
"""

import hashlib
import json
import time
from contextlib import contextmanager
from datetime import datetime, timedelta

import frappe
from frappe import _
from frappe.utils import cint, escape_html, format_datetime, get_datetime, get_system_timezone, now_datetime
from frappe.utils.background_jobs import get_job_status
from rq.job import JobStatus

from cams_biometric import arguments, device_information, device_users, processing
from cams_biometric.constants import DEVICE
from cams_biometric.failures import log_failure
from cams_biometric.gateway import MAX_RETRIES, client_for, describe, retry_base_seconds
from cams_biometric.protocol import client as cams
from cams_biometric.protocol import constants as c
from cams_biometric.protocol.logtime import (
	MAX_YEAR,
	LogTimeError,
	from_local_naive,
	parse_utc_offset,
	wall_clock_at,
)
from cams_biometric.protocol.payload import redact, strip_biometrics

COMMAND = "CAMS Device Command"
QUEUED, SENT, DONE, FAILED = "Queued", "Sent", "Done", "Failed"
# Recording what a command the device carried out changed (the directory) is tried this often.
BOOKKEEPING_TRIES = 3
ACTIVE_STATUSES = (QUEUED, SENT)

# The long queue: a production bench's short worker (short, default) never takes a command,
# so the punch drain (short) is never stuck behind a gateway that takes its time; a worker
# listening on all three takes short jobs first.
COMMAND_QUEUE = "long"
# A live command touches its record at each try: at least every read timeout plus the longest
# back-off (about 3 minutes), so one untouched for longer, with no job waiting, lost its job.
LOST_AFTER_SECONDS = 300
# How long a command waits for the one being sent to the same device (a try of it, at most the
# client's timeouts) before it counts as a transient failure and is tried again.
DEVICE_BUSY_WAIT_SECONDS = 60
# Queued again this many times after losing its job; then it fails, saying why.
MAX_RECOVERIES = 3


def _user_names(params: dict) -> tuple[str, str]:
	return params.get("first_name") or "", params.get("last_name") or ""


def _range(params: dict) -> tuple:
	zone = get_system_timezone()
	return tuple(from_local_naive(get_datetime(params[key]), zone) for key in ("start", "end"))


LATEST_ACCESS_TIME = datetime(MAX_YEAR, 12, 31, 23, 59, 59)


def device_utc_offset(device: str):
	"""The UTC offset of the device's clock as its last punch stated it; None until then."""
	try:
		return parse_utc_offset(frappe.db.get_value(DEVICE, device, "utc_offset"))
	except LogTimeError:
		return None


def _access_window(user: str, params: dict, device: str) -> dict:
	"""UpdateAccessTime's Start and End on the device's own wall clock: the window entered in
	the site's time zone, at the offset the device's punches state; as entered while the
	device has sent no punch (it is taken to keep the site's time, as the device form says)."""
	zone, offset = get_system_timezone(), device_utc_offset(device)
	start, end = (wall_clock_at(get_datetime(params[key]), zone, offset) for key in ("start", "end"))
	# A window without an end (employee_devices.OPEN_END) stays within the devices' years.
	return cams.update_access_time_command(user, start, min(end, LATEST_ACCESS_TIME))


def _add_user(user: str, params: dict) -> dict:
	# Templates copied from another device are read from the directory when the command is
	# built, never stored in the command's parameters.
	templates = []
	if params.get("templates_from"):
		templates = [
			t
			for t in device_users.templates_of(params["templates_from"])
			if t.get(c.TEMPLATE_TYPE) in c.ADD_USER_TEMPLATE_TYPES
		]
	return cams.add_user_command(user, *_user_names(params), templates=templates)


# operation -> (needs a device user id, how its command is built from the parameters)
OPERATIONS = {
	"Device Information": (False, lambda user, p: cams.device_information_command()),
	"Add User": (True, _add_user),
	"Delete User": (True, lambda user, p: cams.delete_user_command(user)),
	"Enable User": (True, lambda user, p: cams.user_access_command(user, True)),
	"Disable User": (True, lambda user, p: cams.user_access_command(user, False)),
	"Update Access Time": (True, _access_window),
	"Enroll Fingerprint": (True, lambda user, p: cams.enroll_fingerprint_command(user, *_user_names(p))),
	"Resend Attendance": (False, lambda user, p: cams.resend_attendance_command(*_range(p))),
	"Resend All Users": (False, lambda user, p: cams.resend_all_users_command()),
	"Delete All Users": (False, lambda user, p: cams.delete_all_users_command()),
	"Delete All Logs": (False, lambda user, p: cams.delete_all_logs_command()),
	"Delete Attendance Photos": (False, lambda user, p: cams.delete_attendance_photos_command()),
}
# Operations whose command is built for the device's own clock: their builder takes the device.
ON_DEVICE_CLOCK = frozenset({"Update Access Time"})
# Erase a whole device's data: System Managers only, confirmed by typing the device's name.
DANGEROUS = frozenset({"Delete All Users", "Delete All Logs", "Delete Attendance Photos"})
# Refusals that mean the device already is as the command wants it (a user the device lacks
# cannot punch, so disabling them is done).
ALREADY_SO = {
	"Add User": cams.UserExists,
	"Delete User": cams.UserNotFound,
	"Disable User": cams.UserNotFound,
}


# What a command's parameters may hold, and how each is read (see OPERATIONS).
PARAMETERS = {
	"first_name": lambda value, argument: arguments.text(value, argument, required=False),
	"last_name": lambda value, argument: arguments.text(value, argument, required=False),
	"start": lambda value, argument: str(arguments.moment(value, argument)),
	"end": lambda value, argument: str(arguments.moment(value, argument)),
	# Which templates: the server picks the employee's own (templates_from is never taken).
	"copy_templates": lambda value, argument: arguments.flag(value, argument),
}


def command_parameters(parameters) -> dict:
	params = arguments.json_object(parameters, "parameters")
	if "templates_from" in params:
		frappe.throw(
			_(
				"Which templates a user is added with is decided by the server; ask for copy_templates instead."
			),
			frappe.PermissionError,
		)
	if unknown := sorted(set(params) - set(PARAMETERS)):
		arguments.refuse("parameters", _("unknown keys {0}").format(escape_html(", ".join(unknown))))
	return {key: PARAMETERS[key](value, f"parameters.{key}") for key, value in params.items()}


@frappe.whitelist(methods=["POST"])
def send_command(
	device: str,
	operation: str,
	device_user_id: str | None = None,
	employee: str | None = None,
	parameters: dict | str | None = None,
) -> str:
	"""Record a command for ``device`` and queue it; returns the CAMS Device Command's name.

	For Add User, ``parameters`` may ask {"copy_templates": 1}: the server then picks the
	templates the employee gave on another device of theirs, as Enrol on Devices does.
	"""
	frappe.has_permission(COMMAND, "create", throw=True)
	if operation in DANGEROUS:
		frappe.throw(
			_("{0} erases the device's data; use the device form's Danger Zone.").format(
				escape_html(operation)
			)
		)
	params = command_parameters(parameters)
	device_user_id = arguments.user_id(device_user_id, "device_user_id", required=False)
	if employee and device_user_id:
		held = frappe.db.get_value("Employee", employee, "attendance_device_id")
		if held != device_user_id:
			frappe.throw(
				_("Device user {0} is not the Attendance Device ID of {1}.").format(
					device_user_id, escape_html(employee)
				)
			)
	# Commands for an id act on whoever it names at this device: the same checks as for them.
	holder = employee or (device_user_id and device_users.employee_at(device, device_user_id))
	check_may_send(device, holder)
	return queue_command(device, operation, device_user_id, employee, params)


def check_may_send(device: str, employee: str | None = None):
	"""What every way of sending a command checks, as the Employee form's actions do: create on
	CAMS Device Command, read on the device and on the employee (User Permissions included),
	and a device of the employee's company and branch."""
	frappe.has_permission(COMMAND, "create", throw=True)
	if not device or not frappe.db.exists(DEVICE, device):
		frappe.throw(
			_("CAMS Biometric Device {0} does not exist.").format(escape_html(device or "")),
			frappe.DoesNotExistError,
		)
	frappe.has_permission(DEVICE, "read", doc=device, throw=True)
	if not employee:
		return
	if not frappe.db.exists("Employee", employee):
		frappe.throw(
			_("Employee {0} does not exist.").format(escape_html(employee)), frappe.DoesNotExistError
		)
	frappe.has_permission("Employee", "read", doc=employee, throw=True)
	theirs = frappe.db.get_value("Employee", employee, ["company", "branch"], as_dict=True)
	scope = frappe.db.get_value(DEVICE, device, ["company", "branch"], as_dict=True)
	if any(scope[field] and scope[field] != theirs[field] for field in ("company", "branch")):
		frappe.throw(
			_("{0} is not a device of the company and branch of {1}.").format(
				frappe.bold(escape_html(device)), frappe.bold(escape_html(employee))
			)
		)


@frappe.whitelist(methods=["POST"])
def erase_device_data(device: str, operation: str, confirmation: str) -> str:
	"""Delete all users, all logs or all photos on ``device``: System Managers, who typed its name."""
	# Not frappe.only_for: it lets everyone through while tests run, and this must be tested.
	if "System Manager" not in frappe.get_roles():
		frappe.throw(_("Only a System Manager may erase a device's data."), frappe.PermissionError)
	if operation not in DANGEROUS:
		frappe.throw(_("{0} is not an erasing operation.").format(escape_html(operation)))
	check_may_send(device)
	if (confirmation or "").strip() != device:
		frappe.throw(
			_("Type the device's Service Tag ID {0} exactly to confirm.").format(
				frappe.bold(escape_html(device))
			),
			title=_("Not confirmed"),
		)
	return queue_command(device, operation)


def queue_command(
	device: str,
	operation: str,
	device_user_id: str | None = None,
	employee: str | None = None,
	params: dict | None = None,
	rollout: str | None = None,
) -> str:
	"""Record a command and queue its job; the caller has checked who may send it.

	A command of a ``rollout`` is not queued: the rollout's job sends it, after the one before.
	"""
	if operation not in OPERATIONS:
		frappe.throw(_("Unknown device operation {0}").format(frappe.bold(escape_html(operation))))
	if not frappe.db.get_value(DEVICE, device, "enabled"):
		frappe.throw(
			_("{0} is not an enabled CAMS Biometric Device.").format(frappe.bold(escape_html(device)))
		)
	if not isinstance(params, dict | None):
		frappe.throw(_("Parameters must be an object"))
	params = dict(params or {})
	# Never from a caller: the templates an Add User copies are chosen here, for its employee.
	params.pop("templates_from", None)
	copy_templates = cint(params.pop("copy_templates", 0))
	if employee:
		# The device knows the employee by their Attendance Device ID, and their name.
		found = frappe.db.get_value(
			"Employee",
			employee,
			["name", "attendance_device_id", "first_name", "last_name", "company", "branch"],
			as_dict=True,
		)
		if not found:
			frappe.throw(_("Employee {0} does not exist.").format(escape_html(employee)))
		device_user_id = device_user_id or found.attendance_device_id
		params.setdefault("first_name", found.first_name)
		params.setdefault("last_name", found.last_name)
		if operation == "Add User" and copy_templates and device_user_id == found.attendance_device_id:
			from cams_biometric.employee_devices import template_source

			if source := template_source(found, exclude_device=device):
				params["templates_from"] = source
	needs_user = OPERATIONS[operation][0]
	if needs_user and not device_user_id:
		frappe.throw(_("{0} needs a device user id (or an Employee with one).").format(operation))
	try:
		build_command(device, operation, device_user_id, params)  # bad input is refused now, not by the job
	except (ValueError, KeyError, TypeError) as e:
		frappe.throw(_("Invalid parameters for {0}: {1}").format(operation, escape_html(str(e))))
	doc = frappe.get_doc(
		{
			"doctype": COMMAND,
			"device": device,
			"operation": operation,
			"device_user_id": device_user_id if needs_user else None,
			"employee": employee,
			"status": QUEUED,
			"operation_id": cams.new_operation_id(),
			"parameters": json.dumps(params, indent=1, default=str),
			"rollout": rollout,
		}
	)
	doc.flags.from_outbox = True
	doc.insert(ignore_permissions=True)
	if not rollout:
		enqueue_command(doc.name)
	return doc.name


def command_job_id(name: str, recoveries: int = 0) -> str:
	# A recovery queues a new job id: a killed worker's stale "started" job (RQ keeps it until
	# it cleans up) must not swallow it as a duplicate.
	job_id = f"cams_biometric:command:{name}"
	return f"{job_id}:{recoveries}" if recoveries else job_id


def longest_life_seconds() -> float:
	"""The longest a command's job can run: every try waiting out the client's timeouts, and
	the back-off between tries."""
	back_off = sum(retry_base_seconds() * 2**i for i in range(MAX_RETRIES))
	return (MAX_RETRIES + 1) * sum(cams.DEFAULT_TIMEOUT) + back_off


def enqueue_command(name: str, recoveries: int = 0):
	frappe.enqueue(
		"cams_biometric.commands.run_command_job",
		queue=COMMAND_QUEUE,
		# RQ kills a job at its timeout: give the command its whole life, and a margin.
		timeout=int(longest_life_seconds()) + 60,
		job_id=command_job_id(name, recoveries),
		deduplicate=True,
		enqueue_after_commit=True,
		name=name,
	)


def build_command(device: str, operation: str, device_user_id: str | None, params: dict) -> dict:
	build = OPERATIONS[operation][1]
	if operation in ON_DEVICE_CLOCK:
		return build(device_user_id, params, device)
	return build(device_user_id, params)


def run_command_job(name: str):
	processing.run_as_administrator()
	try:
		run_command(name)
	except Exception:
		# Not left to RQ: Frappe would log the failure with every frame's local variables,
		# and an Add User's frames hold the templates it carries.
		frappe.db.rollback()
		_log_failure(name, "CAMS device command failed")
		_mark_failed(name)


def _log_failure(name: str, title: str):
	log_failure(title, COMMAND, name)
	frappe.db.commit()  # nosemgrep: a background job; the log must outlive it


def _mark_failed(name: str):
	status = frappe.db.get_value(COMMAND, name, "status")
	if status in (QUEUED, SENT):
		frappe.db.set_value(
			COMMAND,
			name,
			{
				"status": FAILED,
				"error": _("The job failed before the device's answer was recorded; see the Error Log."),
				"finished_at": now_datetime(),
			},
		)
		frappe.db.commit()  # nosemgrep


def run_command(name: str, sleep=time.sleep) -> str | None:
	"""Send a queued command, retrying transient failures; returns its final status."""
	doc = frappe.get_doc(COMMAND, name, for_update=True)
	if doc.status not in (QUEUED, SENT):
		return None
	params = _params_now(doc)
	command = build_command(doc.device, doc.operation, doc.device_user_id, params)
	request = {**command, c.OPERATION_ID: doc.operation_id}
	doc.db_set({"status": SENT, "sent_at": doc.sent_at or now_datetime(), "request": _to_json(request)})
	frappe.db.commit()  # nosemgrep: a background job; the admin sees Sent at once

	tries = 0  # by this job: a recovered command gets its retries again
	while True:
		tries += 1
		doc.db_set("attempts", doc.attempts + 1)
		try:
			with one_at_a_time(doc.device):
				reply = client_for(doc.device).call(command, operation_id=doc.operation_id)
		except cams.CamsError as e:
			if e.transient and tries <= MAX_RETRIES:
				frappe.db.commit()  # nosemgrep
				sleep(retry_base_seconds() * 2 ** (tries - 1))
				continue
			return _finish_refused(doc, e, sleep)
		return _record_carried_out(doc, sleep, reply=reply, finish={"reply": reply, "status_code": 0})


class DeviceBusy(cams.TransientError):
	"""Another command to the same device was still being sent: tried again later."""


@contextmanager
def one_at_a_time(device: str):
	"""Commands to one device go one at a time, whichever workers send them (a rollout's, the
	Employee form's): a MariaDB named lock held while one is sent. It is the connection's, so
	a killed worker's lock goes with its connection."""
	# A lock's name is at most 64 characters: the site and device, hashed.
	name = "cams_device_" + hashlib.sha1(f"{frappe.local.site}|{device}".encode()).hexdigest()
	if not frappe.db.sql("select get_lock(%s, %s)", (name, DEVICE_BUSY_WAIT_SECONDS))[0][0]:
		raise DeviceBusy(
			f"Another command to {device} was still being sent after {DEVICE_BUSY_WAIT_SECONDS} s"
		)
	try:
		yield
	finally:
		frappe.db.sql("select release_lock(%s)", (name,))


def _params_now(doc) -> dict:
	"""The command's parameters, the templates' source kept only while it still holds the
	templates of the command's employee (an id may have passed to someone else since)."""
	params = json.loads(doc.parameters or "{}")
	source = params.get("templates_from")
	if source:
		from cams_biometric.employee_devices import devices_in_scope

		employee = doc.employee and frappe.db.get_value(
			"Employee", doc.employee, ["company", "branch"], as_dict=True
		)
		if not employee or not device_users.is_template_source(
			source, doc.employee, devices_in_scope(employee)
		):
			params.pop("templates_from")
	return params


def _record_carried_out(doc, sleep, reply: dict, finish: dict, already: cams.CamsError | None = None) -> str:
	"""The device did as asked, or already was so (``already``, its refusal): record it Done,
	with what it changed (its information, the directory) or what the refusal proves. That
	bookkeeping may fail once (a lock wait, a deadlock): it is tried again, and should it never
	succeed the command is still Done, saying so, since the device did it."""
	for attempt in range(1, BOOKKEEPING_TRIES + 1):
		try:
			if already:
				_already_so(doc, already)
			else:
				_carried_out(doc, reply)
			return _finish(doc, DONE, **finish)
		except Exception:
			frappe.db.rollback()
			if attempt == BOOKKEEPING_TRIES:
				_log_failure(doc.name, "CAMS device command carried out, its record failed")
				note = _(
					"The device carried it out, but what it changed could not be recorded here"
					" (see the Error Log); Resend Users on the device brings its users back."
				)
				return _finish(doc, DONE, **{**finish, "note": note})
			sleep(retry_base_seconds() * attempt)


def lost_after() -> timedelta:
	return timedelta(seconds=int(frappe.conf.get("cams_biometric_command_lost_after") or LOST_AFTER_SECONDS))


def recover_lost_commands():
	"""Scheduled: queue again, with the same OperationID, the commands whose job was lost (a
	worker killed at its start or while sending, Redis flushed), as recover_lost_loads does
	for loads; after MAX_RECOVERIES, fail them with what to do."""
	cutoff = now_datetime() - lost_after()
	# A rollout's commands are its job's to send again (rollouts.recover_lost_rollouts), in order.
	filters = {"status": ("in", ACTIVE_STATUSES), "modified": ("<", cutoff), "rollout": ("is", "not set")}
	for name in frappe.get_all(COMMAND, filters=filters, pluck="name"):
		recover_if_lost(name, cutoff)
		frappe.db.commit()  # nosemgrep: a scheduled job; each command on its own


def recover_if_lost(name: str, cutoff) -> bool:
	table = frappe.qb.DocType(COMMAND)
	# A job taking the command holds its row: a locked row is a live command.
	rows = (
		frappe.qb.from_(table).select(table.name).where(table.name == name).for_update(skip_locked=True).run()
	)
	if not rows:
		return False
	doc = frappe.get_doc(COMMAND, name)
	if doc.status not in ACTIVE_STATUSES or get_datetime(doc.modified) >= cutoff:
		return False
	if get_job_status(command_job_id(name, doc.recoveries)) == JobStatus.QUEUED:
		return False  # waiting for a free worker, not lost
	last_touched = format_datetime(doc.modified)
	if doc.recoveries >= MAX_RECOVERIES:
		error = _(
			"Its background job was lost {0} times (a worker killed or restarted, Redis flushed)."
			" Check that the background workers run (bench doctor), then send the command again."
		).format(doc.recoveries + 1)
		if doc.operation == "Device Information":
			device_information.record_failure(doc.device, error)
		doc.db_set({"status": FAILED, "error": error, "finished_at": now_datetime()})
		doc.add_comment("Info", _("No progress since {0} and no job waiting: failed.").format(last_touched))
		return True
	doc.db_set("recoveries", doc.recoveries + 1)
	doc.add_comment(
		"Info",
		_(
			"No progress since {0} and no job waiting: its job was lost. Queued again with the same"
			" Operation ID ({1} of {2})."
		).format(last_touched, doc.recoveries, MAX_RECOVERIES),
	)
	enqueue_command(name, doc.recoveries)
	return True


def _carried_out(doc, reply: dict):
	"""Record what the device now holds: its information, or its directory of users."""
	params = _params_now(doc)
	if doc.operation == "Device Information":
		device_information.store(doc.device, reply.get(c.DEVICE_INFORMATION))
	elif doc.operation == "Delete All Users":
		device_users.mark_all_deleted(doc.device)
	elif doc.device_user_id:
		device_users.apply_command(doc.device, doc.device_user_id, doc.operation, params)


def _finish_refused(doc, error: cams.CamsError, sleep=time.sleep) -> str:
	already = ALREADY_SO.get(doc.operation)
	if already and isinstance(error, already):
		if other := _someone_else(doc):
			return _finish(
				doc,
				FAILED,
				status_code=error.status_code,
				error=_(
					"The device already has user {0}, named {1}, not {2}: the ID belongs to someone else"
					" there. Check the Attendance Device ID, or delete that user from the device first."
				).format(doc.device_user_id, other, _full_name(doc) or _("(no name)")),
			)
		return _record_carried_out(
			doc,
			sleep,
			reply={},
			finish={"status_code": error.status_code, "note": _already_note(doc, error)},
			already=error,
		)
	if doc.operation == "Device Information":
		device_information.record_failure(doc.device, str(error))
	return _finish(
		doc,
		FAILED,
		status_code=error.status_code,
		error=describe(error, _("send the command again when the device is back")),
	)


def _already_so(doc, error: cams.CamsError):
	"""Record what an "already so" refusal proves, and only that: the device holds the user
	(user exists), or does not (user not found). Not that it holds our name, templates or
	access for them: it kept the user it had."""
	if isinstance(error, cams.UserExists):
		device_users.confirm_held(doc.device, doc.device_user_id)
	else:
		device_users.confirm_not_held(doc.device, doc.device_user_id)


def _already_note(doc, error: cams.CamsError) -> str:
	if isinstance(error, cams.UserNotFound):
		return _("The device does not hold user {0} ({1}): nothing to do there.").format(
			doc.device_user_id, error
		)
	note = _(
		"The device already holds user {0} ({1}); it kept that user as it was, so their name, templates"
		" and access were not changed."
	).format(doc.device_user_id, error)
	access = frappe.db.get_value(
		device_users.DEVICE_USER,
		{"device": doc.device, "device_user_id": doc.device_user_id},
		"access_enabled",
	)
	if access == 0:
		note += " " + _("The directory knows them as disabled there: use Enable to let them punch.")
	return note


def _full_name(doc) -> str:
	params = json.loads(doc.parameters or "{}")
	return " ".join(part for part in _user_names(params) if part)


def _someone_else(doc) -> str | None:
	"""For Add User answered "user exists": the name the directory knows for that user on the
	device, when it is not the one being added (the same ID used for two people)."""
	if doc.operation != "Add User":
		return None
	known = frappe.db.get_value(
		device_users.DEVICE_USER,
		{"device": doc.device, "device_user_id": doc.device_user_id, "status": device_users.ACTIVE},
		"full_name",
	)
	wanted = _full_name(doc)
	if known and wanted and known.strip().casefold() != wanted.strip().casefold():
		return known
	return None


def _finish(doc, status: str, reply: dict | None = None, status_code=None, note=None, error=None) -> str:
	doc.db_set(
		{
			"status": status,
			"attempts": doc.attempts,  # its own write may have been rolled back with the bookkeeping
			"reply": _to_json(reply) if reply is not None else None,
			"status_code": status_code,
			"status_meaning": c.STATUS_CODES.get(status_code) if status_code is not None else None,
			"note": note,
			"error": error,
			"finished_at": now_datetime(),
		}
	)
	frappe.db.commit()  # nosemgrep: a background job
	return status


def _to_json(body: dict) -> str:
	# Never the token, nor template data or photos a reply may carry.
	return json.dumps(strip_biometrics(redact(body)), indent=1, ensure_ascii=False, default=str)
