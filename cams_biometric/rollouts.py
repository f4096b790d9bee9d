"""Rollouts: a whole team onto a device (Enrol Employees), or every user of a device onto the
device that replaces it (Replace Device), as one CAMS Device Rollout record.

A rollout is one background job on the commands' long queue, so the punch drain (short) never
waits behind it. It sends its commands one after another, in the order of its rows: each is a
CAMS Device Command of the outbox, with the outbox's retries and "already so" rules, and the
rollout's rows say what became of each person. Counts and progress are written as it goes;
the form polls them (no socket.io needed).

A refusal that concerns one user (user exists under another name, a template refused) fails
that row and the rollout goes on; any other (a full device, a device offline through every
retry, a wrong token) would fail every row after it, so it stops the rollout with that message
and Resume goes on from the same row. A job lost with its worker is queued again by
recover_lost_rollouts and goes on from the first unfinished row, sending the command that was
in flight again with its OperationID.
"""

import json
import re
import time

import frappe
from frappe import _
from frappe.query_builder.functions import Coalesce, Count
from frappe.utils import cint, escape_html, format_datetime, get_datetime, now_datetime
from frappe.utils.background_jobs import get_job_status
from rq.job import JobStatus

from cams_biometric import arguments, commands, device_users, processing
from cams_biometric.constants import DEVICE, DEVICE_USER
from cams_biometric.failures import log_failure
from cams_biometric.protocol.constants import MAX_SERVICE_TAG_LENGTH
from cams_biometric.protocol.text import no_markup

ROLLOUT = "CAMS Device Rollout"
ITEM = "CAMS Device Rollout Item"
ENROL, REPLACE = "Enrol Employees", "Replace Device"
QUEUED, RUNNING, STOPPED, COMPLETED = "Queued", "Running", "Stopped", "Completed"
ACTIVE = (QUEUED, RUNNING)
PENDING, DONE, ALREADY_THERE, FAILED, SKIPPED = "Pending", "Done", "Already There", "Failed", "Skipped"
# Count fields of the rollout, by the row status they count.
COUNTS = {PENDING: "pending", DONE: "done", ALREADY_THERE: "already_there", FAILED: "failed"}
NO_ID, OUT_OF_SCOPE = "skipped_no_id", "skipped_out_of_scope"

# Which Employees Enrol Employees picks, beside an explicit list.
CRITERIA = ("company", "branch", "department", "designation")
# Refusals that concern the one user (invalid request, user exists, user not found, template
# error): that row fails and the rollout goes on. Any other status, or none (unreachable), is
# the device's or the gateway's, and would meet every row after it: the rollout stops.
ONE_USER_STATUS_CODES = frozenset({1, 3, 8, 9, 10})
DEVICE_FULL = 11
# The job sends for this long, then queues its next turn and ends (see run_rollout).
SLICE_SECONDS = 10
# Like a command, a live rollout touches its record (or its command's) at least every few
# minutes; untouched for longer, with no job waiting, its job was lost.
MAX_RECOVERIES = 3


# -- who may, and on which devices ------------------------------------------------------------
def _device(device) -> dict:
	device = arguments.name(device, DEVICE, "device")
	commands.check_may_send(device)
	found = frappe.db.get_value(
		DEVICE,
		device,
		["name", "enabled", "company", "branch", "device_label", "replaced_by"],
		as_dict=True,
	)
	if not found.enabled:
		frappe.throw(
			_("{0} is disabled: enable it before sending it users.").format(frappe.bold(escape_html(device)))
		)
	return found


def _check_no_rollout_running(*devices: str, besides: str | None = None):
	"""Commands to one device go one at a time: one active rollout per device."""
	table = frappe.qb.DocType(ROLLOUT)
	query = (
		frappe.qb.from_(table)
		.select(table.name)
		.where(table.status.isin(ACTIVE))
		.where(table.device.isin(devices) | table.old_device.isin(devices))
	)
	if besides:
		query = query.where(table.name != besides)
	if running := query.limit(1).run():
		frappe.throw(
			_("Rollout {0} is already sending users to this device; wait for it to finish.").format(
				frappe.bold(running[0][0])
			),
			title=_("A rollout is running"),
		)


def _out_of_scope(employee: dict, device: dict) -> str | None:
	"""Why ``employee`` is not for ``device``, or None."""
	if employee.status != "Active":
		return _("Not Active ({0})").format(employee.status)
	for field, label in (("company", _("company")), ("branch", _("branch"))):
		if device[field] and device[field] != employee[field]:
			return _("Of {0} {1}; the device is for {2}").format(
				label, employee[field] or _("(none)"), device[field]
			)
	return None


# -- Enrol Employees -----------------------------------------------------------------------------
EMPLOYEE_FIELDS = ["name", "employee_name", "attendance_device_id", "status", "company", "branch"]


def _criteria(device: dict, values: dict) -> dict:
	criteria = {field: arguments.text(values.get(field), field, required=False) for field in CRITERIA}
	for field in ("company", "branch"):
		if criteria[field] and device[field] and criteria[field] != device[field]:
			arguments.refuse(
				field,
				_("the device is for {0} {1}; it cannot take employees of {2}").format(
					field, escape_html(device[field]), escape_html(criteria[field])
				),
			)
	return {field: value for field, value in criteria.items() if value}


def _selection(device: dict, criteria: dict, employees: list[str]) -> list[dict]:
	"""The Employees asked for, as the user may read them (User Permissions apply): those of
	the list, whatever their status (a row says why one is skipped), or else every Active
	Employee of the criteria in the device's company and branch."""
	filters = dict(criteria)
	if employees:
		filters["name"] = ("in", employees)
	else:
		filters["status"] = "Active"
		filters.update({field: device[field] for field in ("company", "branch") if device[field]})
	rows = frappe.get_list(
		"Employee", filters=filters, fields=EMPLOYEE_FIELDS, order_by="name asc", limit_page_length=0
	)
	if employees:
		unreadable = sorted(set(employees) - {row.name for row in rows})
		if unreadable:
			frappe.throw(
				_("You may not read these Employees, or they do not match the criteria: {0}").format(
					escape_html(", ".join(unreadable[:20]))
				),
				frappe.PermissionError,
			)
		order = {name: index for index, name in enumerate(employees)}
		rows.sort(key=lambda row: order[row.name])
	return rows


def _plan_items(device: dict, rows: list[dict]) -> list[dict]:
	items = []
	for row in rows:
		item = {
			"employee": row.name,
			"employee_name": row.employee_name,
			"device_user_id": row.attendance_device_id,
			"status": PENDING,
		}
		if not row.attendance_device_id:
			item.update(status=SKIPPED, reason=_("No Attendance Device ID"))
		elif reason := _out_of_scope(row, device):
			item.update(status=SKIPPED, reason=reason)
		items.append(item)
	return items


def _read_enrolment(device, employees, criteria: dict) -> tuple[dict, dict, list[str], list[dict]]:
	found = _device(device)
	employees = arguments.names(employees, "Employee", "employees") if employees else []
	criteria = _criteria(found, criteria)
	rows = _selection(found, criteria, employees)
	if not rows:
		frappe.throw(_("No Active Employee matches: change the criteria."), title=_("Nobody to enrol"))
	return found, criteria, employees, _plan_items(found, rows)


@frappe.whitelist()
def plan_enrolment(
	device: str,
	company: str | None = None,
	branch: str | None = None,
	department: str | None = None,
	designation: str | None = None,
	employees: list | str | None = None,
) -> dict:
	"""What Enrol Employees would do, without doing it: for the dialog, before the person confirms."""
	values = {"company": company, "branch": branch, "department": department, "designation": designation}
	_found, _criteria_used, _employees, items = _read_enrolment(device, employees, values)
	counts = _count(items)
	return {"total": len(items), **counts}


@frappe.whitelist(methods=["POST"])
def enrol_employees(
	device: str,
	company: str | None = None,
	branch: str | None = None,
	department: str | None = None,
	designation: str | None = None,
	employees: list | str | None = None,
	copy_templates: int | bool = 1,
) -> str:
	"""Add every Active Employee of the criteria (or of the list) in the device's company and
	branch to ``device``, one after another; returns the CAMS Device Rollout's name."""
	values = {"company": company, "branch": branch, "department": department, "designation": designation}
	copy_templates = arguments.flag(copy_templates, "copy_templates", default=1)
	found, criteria, employees, items = _read_enrolment(device, employees, values)
	_check_no_rollout_running(found.name)
	described = [f"{_(field.title())}: {value}" for field, value in criteria.items()]
	if employees:
		described.append(_("{0} Employees chosen").format(len(employees)))
	if found.company or found.branch:
		described.append(
			_("Within the device's scope: {0}").format(
				", ".join(value for value in (found.company, found.branch) if value)
			)
		)
	request = {"criteria": criteria, "employees": employees}
	return _start(
		ENROL, found.name, items, copy_templates, "; ".join(described) or _("Every Active Employee"), request
	)


# -- Replace Device ------------------------------------------------------------------------------
@frappe.whitelist(methods=["POST"])
def replace_device(
	device: str, new_service_tag_id: str, auth_token: str | None = None, copy_templates: int | bool = 1
) -> str:
	"""Put every user ``device`` holds on the device with ``new_service_tag_id`` (made from the
	old one's settings when it does not exist yet), with their templates, access and window;
	the old device is disabled once every user is there. Returns the rollout's name."""
	old = _device(device)
	frappe.has_permission(DEVICE, "write", doc=old.name, throw=True)
	new_service_tag_id = arguments.text(new_service_tag_id, "new_service_tag_id", max_length=140)
	if not re.fullmatch(rf"[A-Za-z0-9._-]{{1,{MAX_SERVICE_TAG_LENGTH}}}", new_service_tag_id):
		arguments.refuse("new_service_tag_id", _("letters, digits, dots, dashes and underscores only"))
	auth_token = arguments.text(auth_token, "auth_token", required=False)
	if auth_token and not re.fullmatch(r"[A-Za-z0-9._~+/=-]{16,}", auth_token):
		arguments.refuse("auth_token", _("copy the whole token from the CAMS API Monitor, without spaces"))
	copy_templates = arguments.flag(copy_templates, "copy_templates", default=1)
	if old.replaced_by:
		frappe.throw(_("{0} was already replaced by {1}.").format(old.name, old.replaced_by))
	if new_service_tag_id == old.name:
		arguments.refuse("new_service_tag_id", _("the new device needs its own Service Tag ID"))
	_check_no_rollout_running(old.name, new_service_tag_id)
	new = _new_device(old, new_service_tag_id, auth_token)
	rows = frappe.get_all(
		DEVICE_USER,
		filters={"device": old.name, "status": device_users.ACTIVE},
		fields=[
			"device_user_id",
			"full_name",
			"employee",
			"employee_name",
			"access_enabled",
			"access_start",
			"access_end",
		],
		order_by="device_user_id asc",
	)
	items = [
		{
			"employee": row.employee,
			"employee_name": row.employee_name,
			"device_user_id": row.device_user_id,
			"full_name": row.full_name,
			"access_enabled": row.access_enabled,
			"access_start": row.access_start,
			"access_end": row.access_end,
			"status": PENDING,
		}
		for row in rows
	]
	criteria = _("Every user {0} holds ({1}), with their access and window").format(old.name, len(items))
	return _start(
		REPLACE, new, items, copy_templates, criteria, {"old_device": old.name}, old_device=old.name
	)


def _new_device(old: dict, service_tag_id: str, auth_token: str | None) -> str:
	"""The replacing device: the one with that Service Tag ID, or a new one with the old one's
	label, company, branch and location."""
	if frappe.db.exists(DEVICE, service_tag_id):
		new = frappe.get_doc(DEVICE, service_tag_id)
		frappe.has_permission(DEVICE, "write", doc=new, throw=True)
		if not new.enabled or new.replaced_by:
			frappe.throw(_("{0} is disabled or replaced itself: pick another device.").format(new.name))
		if (new.company or None, new.branch or None) != (old.company or None, old.branch or None):
			frappe.throw(
				_(
					"{0} is set for another company or branch than {1}: its users would not belong there."
				).format(new.name, old.name)
			)
		new.replaces = old.name
		if auth_token:
			new.auth_token = auth_token
		new.save()
		return new.name
	if not auth_token:
		arguments.refuse("auth_token", _("the new device's AuthToken from the CAMS API Monitor is needed"))
	values = frappe.db.get_value(DEVICE, old.name, ["latitude", "longitude", "utc_offset"], as_dict=True)
	new = frappe.get_doc(
		{
			"doctype": DEVICE,
			"service_tag_id": service_tag_id,
			"device_label": old.device_label,
			"company": old.company,
			"branch": old.branch,
			"latitude": values.latitude,
			"longitude": values.longitude,
			# In the old one's place, it likely keeps the same clock: access windows are sent in it
			# until its own first punch says otherwise.
			"utc_offset": values.utc_offset,
			"auth_token": auth_token,
			"replaces": old.name,
			"enabled": 1,
		}
	).insert()  # with the user's permission to create devices
	return new.name


# -- the record and its job ----------------------------------------------------------------------
def _count(items: list[dict]) -> dict:
	counts = dict.fromkeys([*COUNTS.values(), NO_ID, OUT_OF_SCOPE], 0)
	for item in items:
		if item["status"] == SKIPPED:
			counts[NO_ID if not item.get("device_user_id") else OUT_OF_SCOPE] += 1
		else:
			counts[COUNTS[item["status"]]] += 1
	return counts


def _start(
	kind: str,
	device: str,
	items: list[dict],
	copy_templates: int,
	criteria: str,
	request: dict,
	old_device=None,
) -> str:
	doc = frappe.get_doc(
		{
			"doctype": ROLLOUT,
			"kind": kind,
			"device": device,
			"old_device": old_device,
			"copy_templates": copy_templates,
			"status": QUEUED,
			"requested_by": frappe.session.user,
			"requested_at": now_datetime(),
			"criteria": criteria,
			"request": json.dumps(request, indent=1),
			"total": len(items),
			**_count(items),
			"items": items,
		}
	)
	doc.flags.from_rollout = True
	doc.insert(ignore_permissions=True)  # the caller passed check_may_send for the device
	_set_progress(doc.name)
	enqueue_rollout(doc.name)
	return doc.name


def rollout_job_id(name: str, turn: int = 0) -> str:
	# Each turn (a slice, a resume, a recovery) is a new job id: a killed worker's stale
	# "started" job must not swallow the next one as a duplicate.
	job_id = f"cams_biometric:rollout:{name}"
	return f"{job_id}:{turn}" if turn else job_id


def slice_seconds() -> float:
	return float(frappe.conf.get("cams_biometric_rollout_slice_seconds", SLICE_SECONDS))


def next_turn(name: str) -> int:
	"""A new turn of the rollout's job: its number, recorded on the rollout."""
	turn = cint(frappe.db.get_value(ROLLOUT, name, "job_turn")) + 1
	frappe.db.set_value(ROLLOUT, name, "job_turn", turn, update_modified=False)
	return turn


def enqueue_rollout(name: str, turn: int = 0):
	frappe.enqueue(
		"cams_biometric.rollouts.run_rollout_job",
		queue=commands.COMMAND_QUEUE,
		# RQ kills a job at its timeout; a lost job is taken up again where it stopped.
		timeout=int(commands.longest_life_seconds() * 3 + slice_seconds()) + 60,
		job_id=rollout_job_id(name, turn),
		deduplicate=True,
		enqueue_after_commit=True,
		name=name,
		turn=turn,
	)


def run_rollout_job(name: str, turn: int = 0):
	processing.run_as_administrator()
	try:
		run_rollout(name, turn=turn)
	except Exception:
		# Not left to RQ: its log would hold the frames' variables (templates among them).
		frappe.db.rollback()
		log_failure("CAMS device rollout failed", ROLLOUT, name)
		frappe.db.commit()  # nosemgrep: a background job; the log must outlive it
		_stop(name, _("Its background job failed (see the Error Log). Resume goes on from where it stopped."))


def run_rollout(name: str, sleep=time.sleep, turn: int | None = None) -> str:
	"""Send the rollout's pending rows, one after another, as its job's ``turn`` (default: the
	current one); returns its status at the end. A turn that is no longer the current one (a
	resume or a recovery queued another) sends nothing more: two jobs never send for one rollout."""
	status, current = frappe.db.get_value(ROLLOUT, name, ["status", "job_turn"])
	turn = current if turn is None else turn
	if status not in ACTIVE or turn != current:
		return status
	frappe.db.set_value(
		ROLLOUT,
		name,
		{"status": RUNNING, "started_at": frappe.db.get_value(ROLLOUT, name, "started_at") or now_datetime()},
	)
	frappe.db.commit()  # nosemgrep: a background job; the form shows Running at once
	rollout = frappe.get_doc(ROLLOUT, name)
	started, sent = time.monotonic(), 0
	for item in rollout.items:
		if item.status != PENDING:
			continue
		# A worker that also takes the short queue (bench start's one worker) takes punches
		# first between turns: the drain waits a slice at most, never a whole rollout. Each
		# turn sends at least one row.
		if sent and time.monotonic() - started >= slice_seconds():
			enqueue_rollout(name, next_turn(name))
			frappe.db.commit()  # nosemgrep: a background job; the next turn is queued on commit
			return RUNNING
		# Stopped by a person, taken over by a newer turn, or the device disabled meanwhile: no
		# more commands from this job.
		status, current = frappe.db.get_value(ROLLOUT, name, ["status", "job_turn"])
		if status != RUNNING or current != turn:
			return status
		if not frappe.db.get_value(DEVICE, rollout.device, "enabled"):
			return _stop(name, _("{0} was disabled: no more users are sent to it.").format(rollout.device))
		if stop := _send_item(rollout, item, sleep):
			return _stop(name, stop)
		sent += 1
		_set_progress(name)
		frappe.db.commit()  # nosemgrep: each row on its own
	return _complete(name)


def _steps(rollout, item) -> list[tuple[str, dict]]:
	"""The commands that put the row's user on the device, in order."""
	add = {"copy_templates": rollout.copy_templates}
	steps = [("Add User", add)]
	if rollout.kind == REPLACE:
		if not item.access_enabled:
			steps.append(("Disable User", {}))
		if item.access_start and item.access_end:
			window = {"start": str(item.access_start), "end": str(item.access_end)}
			steps.append(("Update Access Time", window))
	return steps


def _send_item(rollout, item, sleep) -> str | None:
	"""Send the row's remaining commands; returns why the rollout must stop, or None."""
	# Checked before anything is sent for the row: a command already in flight is seen through.
	if (
		rollout.kind == ENROL
		and not item.step
		and not item.command
		and (skip := _no_longer_for(rollout, item))
	):
		_set_item(item, status=SKIPPED, reason=skip)
		return None
	steps = _steps(rollout, item)
	while item.step < len(steps):
		operation, params = steps[item.step]
		if not item.command:
			try:
				employee = _employee_of(item)
				if not employee and operation == "Add User":
					# A user no Employee has (Replace Device): the name the old device knew.
					params = {**params, "first_name": item.full_name or "", "last_name": ""}
				item.command = commands.queue_command(
					rollout.device,
					operation,
					device_user_id=item.device_user_id,
					employee=employee,
					params=params,
					rollout=rollout.name,
				)
			except frappe.ValidationError as e:
				frappe.db.rollback()
				_set_item(item, status=FAILED, reason=frappe.utils.strip_html(str(e)), command=None)
				return None
			_set_item(item, command=item.command)
			frappe.db.commit()  # nosemgrep: the command is on record before it is sent
		commands.run_command(item.command, sleep=sleep)
		command = frappe.db.get_value(
			commands.COMMAND, item.command, ["status", "status_code", "error", "note"], as_dict=True
		)
		if command.status == commands.DONE:
			if item.step == 0 and command.status_code == 8:
				item.status = ALREADY_THERE
			_set_item(item, step=item.step + 1, command=None, status=item.status)
			continue
		if command.status_code in ONE_USER_STATUS_CODES:
			_set_item(item, status=FAILED, reason=command.error, command=item.command)
			return None
		# The device's or the gateway's problem: this row waits for Resume, with a new command.
		_set_item(item, reason=command.error, command=None)
		if command.status_code == DEVICE_FULL:
			return _(
				"The device's memory is full: {0} was not added. Delete users, templates or old punches from it (or pick a device with more room), then Resume."
			).format(item.employee_name or item.device_user_id)
		return _("Stopped at {0}: {1} Resume goes on from there.").format(
			item.employee_name or item.device_user_id, command.error
		)
	if item.status == PENDING:
		item.status = DONE
	_set_item(item, status=item.status, reason=None if item.status == DONE else item.reason)
	return None


def _no_longer_for(rollout, item) -> str | None:
	"""An employee who changed since the rollout was asked for (left, moved, lost their id)."""
	employee = frappe.db.get_value("Employee", item.employee, EMPLOYEE_FIELDS, as_dict=True)
	if not employee:
		return _("The Employee was deleted")
	if not employee.attendance_device_id:
		_set_item(item, device_user_id=None)
		return _("No Attendance Device ID")
	device = frappe.db.get_value(DEVICE, rollout.device, ["company", "branch"], as_dict=True)
	if reason := _out_of_scope(employee, device):
		return reason
	if employee.attendance_device_id != item.device_user_id:
		_set_item(item, device_user_id=employee.attendance_device_id)
	return None


def _employee_of(item) -> str | None:
	"""The Employee the row's user is sent as: only while the id is still theirs."""
	if (
		item.employee
		and frappe.db.get_value("Employee", item.employee, "attendance_device_id") == item.device_user_id
	):
		return item.employee
	return None


def _set_item(item, **values):
	for key, value in values.items():
		item.set(key, value)
	if values.get("reason"):
		values["reason"] = no_markup(values["reason"])[:1000]  # a device's error may quote its text
	frappe.db.set_value(ITEM, item.name, values, update_modified=False)


def _set_progress(name: str):
	"""The counts and progress from the rows; touches the rollout (its heartbeat)."""
	table = frappe.qb.DocType(ITEM)
	of_rollout = (table.parent == name) & (table.parenttype == ROLLOUT)
	by_status = dict(
		frappe.qb.from_(table).select(table.status, Count("*")).where(of_rollout).groupby(table.status).run()
	)
	no_id = (
		frappe.qb.from_(table)
		.select(Count("*"))
		.where(of_rollout & (table.status == SKIPPED) & (Coalesce(table.device_user_id, "") == ""))
		.run()[0][0]
	)
	counts = {field: by_status.get(status, 0) for status, field in COUNTS.items()}
	counts[NO_ID] = no_id
	counts[OUT_OF_SCOPE] = by_status.get(SKIPPED, 0) - no_id
	total = sum(by_status.values())
	progress = 100 * (total - counts["pending"]) / total if total else 100
	frappe.db.set_value(ROLLOUT, name, {**counts, "total": total, "progress": progress})


def _stop(name: str, message: str) -> str:
	frappe.db.set_value(ROLLOUT, name, {"status": STOPPED, "message": no_markup(message)[:2000]})
	_set_progress(name)
	frappe.db.commit()  # nosemgrep: a background job
	_notify(name)
	return STOPPED


def _complete(name: str) -> str:
	_set_progress(name)
	rollout = frappe.get_doc(ROLLOUT, name)
	parts = [
		_("{0} added").format(rollout.done),
		_("{0} already there").format(rollout.already_there),
		_("{0} failed").format(rollout.failed),
		_("{0} skipped").format(rollout.skipped_no_id + rollout.skipped_out_of_scope),
	]
	message = _("Finished: {0}.").format(", ".join(parts))
	if rollout.kind == REPLACE:
		if rollout.failed:
			message += " " + _(
				"{0} stays enabled until every user is on {1}: Retry Failed once their problem is fixed."
			).format(rollout.old_device, rollout.device)
		else:
			_retire(rollout.old_device, rollout.device)
			message += " " + _("{0} is disabled and replaced by {1}; its punches and history stay.").format(
				rollout.old_device, rollout.device
			)
	frappe.db.set_value(
		ROLLOUT, name, {"status": COMPLETED, "message": message, "finished_at": now_datetime()}
	)
	frappe.db.commit()  # nosemgrep: a background job
	_notify(name)
	return COMPLETED


def _retire(old_device: str, new_device: str):
	old = frappe.get_doc(DEVICE, old_device)
	old.enabled = 0
	old.replaced_by = new_device
	old.replaced_on = now_datetime()
	old.flags.ignore_permissions = True
	old.save()
	frappe.db.set_value(DEVICE, new_device, "replaces", old_device)


def _notify(name: str):
	from cams_biometric.alerts import notify

	rollout = frappe.db.get_value(
		ROLLOUT, name, ["kind", "device", "status", "message", "requested_by"], as_dict=True
	)
	if not rollout.requested_by or rollout.requested_by in ("Guest",):
		return
	subject = _("{0} on {1}: {2}").format(_(rollout.kind), rollout.device, _(rollout.status))
	notify(subject, escape_html(rollout.message or ""), ROLLOUT, name, users=[rollout.requested_by])
	frappe.db.commit()  # nosemgrep: a background job


# -- what a person does with a rollout -----------------------------------------------------------
def _rollout_for(name) -> "frappe.model.document.Document":
	name = arguments.name(name, ROLLOUT, "name")
	rollout = frappe.get_doc(ROLLOUT, name)
	rollout.check_permission("read")
	commands.check_may_send(rollout.device)
	return rollout


def _queue_again(rollout, message: str):
	_check_no_rollout_running(
		rollout.device, *([rollout.old_device] if rollout.old_device else []), besides=rollout.name
	)
	rollout.db_set({"status": QUEUED, "message": message, "finished_at": None})
	_set_progress(rollout.name)
	enqueue_rollout(rollout.name, next_turn(rollout.name))


@frappe.whitelist(methods=["POST"])
def resume(name: str) -> str:
	"""Go on with a stopped rollout from its first unfinished row."""
	rollout = _rollout_for(name)
	if rollout.status != STOPPED:
		frappe.throw(_("Only a stopped rollout can be resumed; this one is {0}.").format(_(rollout.status)))
	_queue_again(rollout, _("Resumed by {0}.").format(frappe.session.user))
	return rollout.name


@frappe.whitelist(methods=["POST"])
def retry_failed(name: str) -> int:
	"""Send the failed rows again; returns how many."""
	rollout = _rollout_for(name)
	if rollout.status in ACTIVE:
		frappe.throw(_("The rollout is still running; retry its failed rows once it is done."))
	failed = [item for item in rollout.items if item.status == FAILED]
	if not failed:
		frappe.throw(_("No row of this rollout failed."))
	for item in failed:
		frappe.db.set_value(
			ITEM, item.name, {"status": PENDING, "step": 0, "command": None}, update_modified=False
		)
	_queue_again(rollout, _("{0} failed rows sent again by {1}.").format(len(failed), frappe.session.user))
	return len(failed)


@frappe.whitelist(methods=["POST"])
def stop(name: str) -> str:
	"""Stop a rollout after the command being sent; Resume goes on later."""
	rollout = _rollout_for(name)
	if rollout.status not in ACTIVE:
		frappe.throw(_("The rollout is not running."))
	rollout.db_set({"status": STOPPED, "message": _("Stopped by {0}.").format(frappe.session.user)})
	return rollout.name


# -- a rollout whose job was lost ---------------------------------------------------------------
def recover_lost_rollouts():
	"""Scheduled: queue again the rollouts whose job was lost (worker killed, Redis flushed), as
	recover_lost_commands does for commands: untouched for longer than a live one can be
	(nor its command in flight), and no job waiting. After MAX_RECOVERIES, stop them saying why."""
	cutoff = now_datetime() - commands.lost_after()
	for name in frappe.get_all(
		ROLLOUT, filters={"status": ("in", ACTIVE), "modified": ("<", cutoff)}, pluck="name"
	):
		recover_if_lost(name, cutoff)
		frappe.db.commit()  # nosemgrep: a scheduled job; each rollout on its own


def recover_if_lost(name: str, cutoff) -> bool:
	rollout = frappe.get_doc(ROLLOUT, name)
	if rollout.status not in ACTIVE or get_datetime(rollout.modified) >= cutoff:
		return False
	if get_job_status(rollout_job_id(name, rollout.job_turn)) == JobStatus.QUEUED:
		return False  # waiting for a free worker
	in_flight = [item.command for item in rollout.items if item.status == PENDING and item.command]
	if in_flight and get_datetime(frappe.db.get_value(commands.COMMAND, in_flight[0], "modified")) >= cutoff:
		return False  # its command is still being tried
	last_touched = format_datetime(rollout.modified)
	if rollout.recoveries >= MAX_RECOVERIES:
		_stop(
			name,
			_(
				"Its background job was lost {0} times (a worker killed or restarted, Redis flushed). Check that the background workers run (bench doctor), then Resume."
			).format(rollout.recoveries + 1),
		)
		return True
	rollout.db_set("recoveries", cint(rollout.recoveries) + 1)
	rollout.add_comment(
		"Info",
		_(
			"No progress since {0} and no job waiting: its job was lost. Queued again to go on ({1} of {2})."
		).format(last_touched, rollout.recoveries, MAX_RECOVERIES),
	)
	enqueue_rollout(name, next_turn(name))
	return True
