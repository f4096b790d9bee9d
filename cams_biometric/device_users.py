"""The device user directory: which users each device holds, from its UserUpdated (#3-#9)
and UserDeleted (#1) callbacks.

A callback carries only the templates that changed, so each is merged into what is kept
(protocol.templates). Templates are biometric data: a user's whole state (names and
templates) is stored encrypted with the site's key, in a field no role may read, so it never
reaches a browser; the form shows a summary (type, index, size). They are erased when the
Employee is deleted, when the user is deleted on every device, on request, and are not kept
at all while the settings say so.
"""

import json

import frappe
from frappe import _
from frappe.utils import add_to_date, cint, now_datetime
from frappe.utils.password import decrypt, encrypt

from cams_biometric.constants import DEVICE, DEVICE_USER, SETTINGS
from cams_biometric.ingest import insert_once
from cams_biometric.protocol import constants as c
from cams_biometric.protocol import templates as merge
from cams_biometric.protocol.payload import PunchError, read_user_id

ACTIVE, DELETED = "Active", "Deleted"
SOURCE_CALLBACK, SOURCE_COMMAND, SOURCE_RESEND = "Callback", "Command", "Resend"
# A UserUpdated this soon after a device's Resend All Users counts as that resend's answer.
RESEND_WINDOW_MINUTES = 30
# The callback events that change the directory, by the event type a device event records.
USER_EVENTS = {"User Updated": c.USER_UPDATED, "User Deleted": c.USER_DELETED}


def apply_event(device: str, event_type: str, event, source: str = SOURCE_CALLBACK) -> str | None:
	"""Merge one user event of ``device`` into the directory, in the caller's transaction.

	Returns the directory row's name, or None for an event without a usable user id (its
	device event still records it).
	"""
	if event_type not in USER_EVENTS or not isinstance(event, dict):
		return None
	try:
		user_id = read_user_id(event)
	except PunchError:
		return None
	if source == SOURCE_CALLBACK and event_type == "User Updated" and _resend_answering(device):
		source = SOURCE_RESEND
	name, stored = _row_of(device, user_id)
	state = merge.apply_user_event(_read_state(stored), USER_EVENTS[event_type], event)
	_save(name, user_id, device, state, source)
	return name


# The commands whose outcome the directory records.
DIRECTORY_OPERATIONS = ("Add User", "Delete User", "Enable User", "Disable User", "Update Access Time")


def apply_command(device: str, user_id: str, operation: str, params: dict | None = None):
	"""What a command the device carried out changes in its directory, in the caller's transaction.

	The device also reports users it adds or deletes by callback; this records at once what
	we know, so the form is right before (or without) that callback. The synthetic events
	carry no OperationTime, so they never make a later device callback look older.
	"""
	params = params or {}
	if operation not in DIRECTORY_OPERATIONS:
		return  # e.g. Enroll Fingerprint: the template comes by callback; no row before it
	name, stored = _row_of(device, user_id)
	state = _read_state(stored)
	extra = {}
	if operation == "Add User":
		update = {
			c.USER_ID: user_id,
			c.FIRST_NAME: params.get("first_name") or "",
			c.LAST_NAME: params.get("last_name") or "",
			c.USER_TYPE: state.get(c.USER_TYPE) or c.USER_TYPES[0],
			c.TEMPLATE: templates_of(params.get("templates_from")) if params.get("templates_from") else [],
		}
		state = merge.apply_user_update(state, update)
		extra["access_enabled"] = 1
	elif operation == "Delete User":
		state = merge.apply_user_deleted(state, {c.USER_ID: user_id})
	elif operation in ("Enable User", "Disable User"):
		extra["access_enabled"] = int(operation == "Enable User")
	elif operation == "Update Access Time":
		extra.update(access_start=params.get("start"), access_end=params.get("end"))
	_save(name, user_id, device, state, SOURCE_COMMAND, **extra)


def mark_all_deleted(device: str):
	"""After Delete All Users: every user of ``device`` is gone from it."""
	for user_id in frappe.get_all(
		DEVICE_USER, filters={"device": device, "status": ACTIVE}, pluck="device_user_id"
	):
		apply_command(device, user_id, "Delete User")


def templates_of(directory_row: str) -> list[dict]:
	"""The kept templates (with their data) of a directory row, to enrol the user elsewhere."""
	stored = frappe.db.get_value(DEVICE_USER, directory_row, "state")
	return [t for t in _read_state(stored).get(merge.TEMPLATES) or [] if t.get(c.TEMPLATE_DATA)]


def _save(name: str, user_id: str, device: str, state: dict, source: str, **extra):
	if not keep_templates():
		state[merge.TEMPLATES] = [_without_data(t) for t in state.get(merge.TEMPLATES) or []]
	_write(name, state, source, **_employee_fields(device, user_id), **extra)
	if state.get(merge.DELETED):
		_erase_if_deleted_everywhere(user_id, device)


def _resend_answering(device: str) -> bool:
	command = frappe.qb.DocType("CAMS Device Command")
	since = add_to_date(now_datetime(), minutes=-RESEND_WINDOW_MINUTES)
	found = (
		frappe.qb.from_(command)
		.select(command.name)
		.where(
			(command.device == device)
			& (command.operation == "Resend All Users")
			& (command.status.isin(("Sent", "Done")))
			& (command.sent_at >= since)
		)
		.limit(1)
		.run()
	)
	return bool(found)


def keep_templates() -> bool:
	return bool(cint(frappe.db.get_single_value(SETTINGS, "keep_biometric_templates")))


def _row_of(device: str, user_id: str) -> tuple[str, str | None]:
	"""The user's row (name, encrypted state), created if new, locked for this transaction.

	The device's row is locked first, so that one device's user events are applied one at a
	time (a face arrives in 10-15 callbacks at once). The insert comes before the read: a
	locking read of a missing row takes a gap lock, and two devices' gap locks and inserts
	can deadlock each other.
	"""
	frappe.qb.from_(frappe.qb.DocType(DEVICE)).select("name").where(
		frappe.qb.DocType(DEVICE).name == device
	).for_update().run()
	doc = frappe.get_doc(
		{
			"doctype": DEVICE_USER,
			"device": device,
			"device_user_id": user_id,
			"directory_key": _key(device, user_id),
			"status": ACTIVE,
			# The doctype's default, which insert_once (no Document.insert) does not apply: a
			# device lets its users punch until it is told otherwise.
			"access_enabled": 1,
		}
	)
	if insert_once(doc):
		return doc.name, None
	# A locking read: the row may have been committed after this transaction's snapshot.
	table = frappe.qb.DocType(DEVICE_USER)
	query = frappe.qb.from_(table).select(table.name, table.state)
	[(name, stored)] = query.where(table.directory_key == _key(device, user_id)).for_update().run()
	return name, stored


def _key(device: str, user_id: str) -> str:
	return f"{device}|{user_id}"


def _read_state(stored: str | None) -> dict:
	return json.loads(decrypt(stored)) if stored else {}


def _write(name: str, state: dict, source: str, summary: str | None = None, **extra):
	"""Store ``state`` encrypted, and what the form shows of it; ``extra``: more fields to set."""
	templates = state.get(merge.TEMPLATES) or []
	first_last = (state.get(c.FIRST_NAME) or "", state.get(c.LAST_NAME) or "")
	values = {
		"state": encrypt(json.dumps(state)),
		"status": DELETED if state.get(merge.DELETED) else ACTIVE,
		"full_name": " ".join(part for part in first_last if part) or None,
		"user_type": state.get(c.USER_TYPE),
		"templates_summary": summary or describe(templates),
		"template_count": len(templates),
		"last_operation_time": state.get(c.OPERATION_TIME),
		"last_change": now_datetime(),
		"source": source,
	}
	frappe.db.set_value(DEVICE_USER, name, {**values, **extra})


def describe(templates: list[dict]) -> str:
	"""The templates as the form shows them: type, index and size, never the data."""
	parts = []
	for template in templates:
		template_type, index = merge.template_key(template)
		label = template_type if index is None else f"{template_type} {index}"
		data = template.get(c.TEMPLATE_DATA)
		if not data:
			label += " (" + _("data not kept") + ")"
		else:
			label += " (" + _("{0} characters").format(len(str(data))) + ")"
		parts.append(label)
	return ", ".join(parts) or _("None")


def _without_data(template: dict) -> dict:
	return {k: v for k, v in template.items() if k != c.TEMPLATE_DATA}


def _employee_fields(device: str, user_id: str) -> dict:
	"""The Employee with this Attendance Device ID, in the device's company and branch if set."""
	employee = frappe.db.get_value(
		"Employee",
		{"attendance_device_id": user_id},
		["name", "employee_name", "company", "branch"],
		as_dict=True,
	)
	scope = frappe.db.get_value(DEVICE, device, ["company", "branch"], as_dict=True) or {}
	if not employee or any(scope.get(f) and employee.get(f) != scope.get(f) for f in ("company", "branch")):
		return {"employee": None, "employee_name": None}
	return {"employee": employee.name, "employee_name": employee.employee_name}


def erase_job_id(user_id: str, device: str) -> str:
	return f"cams_biometric:erase:{device}:{user_id}"


def _erase_if_deleted_everywhere(user_id: str, device: str):
	# After commit, in a job: checked here, a device's transaction (holding its own rows) would
	# wait for another device's rows, and two devices deleting the user at once deadlocked. One
	# job per device's deletion: a job already running saw that deletion committed.
	frappe.enqueue(
		"cams_biometric.device_users.erase_if_deleted_everywhere",
		queue="short",
		job_id=erase_job_id(user_id, device),
		deduplicate=True,
		enqueue_after_commit=True,
		user_id=user_id,
	)


def erase_if_deleted_everywhere(user_id: str):
	"""Erase the user's kept templates once every device has deleted them."""
	names = frappe.get_all(DEVICE_USER, filters={"device_user_id": user_id}, pluck="name")
	if not names:
		return
	# Locked by primary key in one order (no gap locks), reading what is committed now.
	table = frappe.qb.DocType(DEVICE_USER)
	rows = (
		frappe.qb.from_(table)
		.select(table.name, table.status, table.template_count)
		.where(table.name.isin(names))
		.orderby(table.name)
		.for_update()
		.run(as_dict=True)
	)
	if rows and all(row.status == DELETED for row in rows):
		kept = [row.name for row in rows if row.template_count]
		erase_templates(kept, _("the user was deleted on every device"))


def erase_templates(names: list[str], reason: str):
	"""Drop the template data kept for these directory rows; names and history stay."""
	for name in names:
		stored = frappe.db.get_value(DEVICE_USER, name, ["state", "source"], as_dict=True, for_update=True)
		if not stored:
			continue
		state = _read_state(stored.state)
		state[merge.TEMPLATES] = []
		_write(name, state, stored.source or SOURCE_CALLBACK, summary=_("Erased: {0}").format(reason))


def on_employee_update(doc, method=None):
	"""Keep the directory's Employee links in step with Attendance Device IDs."""
	if not doc.has_value_changed("attendance_device_id"):
		return
	unlinked = {"employee": None, "employee_name": None}
	frappe.db.set_value(DEVICE_USER, {"employee": doc.name}, unlinked)
	if doc.attendance_device_id:
		for row in frappe.get_all(
			DEVICE_USER, filters={"device_user_id": doc.attendance_device_id}, fields=["name", "device"]
		):
			frappe.db.set_value(DEVICE_USER, row.name, _employee_fields(row.device, doc.attendance_device_id))


def on_employee_trash(doc, method=None):
	"""An Employee's biometric data goes with them."""
	names = frappe.get_all(DEVICE_USER, filters={"employee": doc.name}, pluck="name")
	erase_templates(names, _("Employee {0} was deleted").format(doc.name))
	frappe.db.set_value(DEVICE_USER, {"employee": doc.name}, {"employee": None, "employee_name": None})
