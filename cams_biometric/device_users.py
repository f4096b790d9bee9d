"""The device user directory: which users each device holds, from its UserUpdated (#3-#9)
and UserDeleted (#1) callbacks.

A callback carries only the templates that changed, so each is merged into what is kept
(protocol.templates). Templates are biometric data: a user's whole state (names and
templates) is stored encrypted with the site's key, in a field no role may read, so it never
reaches a browser; the form shows a summary (type, index, size). They are erased when the
Employee is deleted, when the user is deleted on every device, on request, and are not kept
at all while the settings say so.

Templates belong to a person, not to an id: ids are reused. A row records whose templates it
keeps (template_owner: the Employee the id named, in the device's company and branch, when
they were captured). Templates of anyone else are never merged with theirs, never copied to
another device for them, and are erased when the id stops naming their owner.
"""

import json
import re

import frappe
from frappe import _
from frappe.utils import add_to_date, cint, now_datetime
from frappe.utils.password import decrypt, encrypt

from cams_biometric.constants import DEVICE, DEVICE_USER, SETTINGS
from cams_biometric.ingest import insert_once
from cams_biometric.protocol import constants as c
from cams_biometric.protocol import templates as merge
from cams_biometric.protocol.payload import PunchError, read_user_id
from cams_biometric.protocol.text import no_markup, plain_text

ACTIVE, DELETED = "Active", "Deleted"
SOURCE_CALLBACK, SOURCE_COMMAND, SOURCE_RESEND = "Callback", "Command", "Resend"
# A UserUpdated this soon after a device's Resend All Users counts as that resend's answer.
RESEND_WINDOW_MINUTES = 30
# The callback events that change the directory, by the event type a device event records.
USER_EVENTS = {"User Updated": c.USER_UPDATED, "User Deleted": c.USER_DELETED}


def apply_event(device: str, event_type: str, event, source: str = SOURCE_CALLBACK) -> str | None:
	"""Merge one user event of ``device`` into the directory, in the caller's transaction.

	Returns what the device event should say of it: the templates refused (beyond what a
	user can hold, see protocol.templates.bound_update) and why, or None. A refused template
	is no failure of the callback: it is answered done, or the gateway would resend it for ever.
	"""
	if event_type not in USER_EVENTS or not isinstance(event, dict):
		return None
	try:
		user_id = read_user_id(event)
	except PunchError:
		return None
	if source == SOURCE_CALLBACK and event_type == "User Updated" and _resend_answering(device):
		source = SOURCE_RESEND
	name, stored, owner = _row_of(device, user_id)
	linked = _employee_fields(device, user_id)
	state = _own_state(stored, owner, linked)
	event, refused = merge.bound_update(state, event)
	state = merge.apply_user_event(state, USER_EVENTS[event_type], event)
	_save(name, user_id, device, state, source, linked)
	if refused:
		return _("Templates refused: {0}").format("; ".join(refused))[:1000]
	return None


def _own_state(stored: str | None, owner: str | None, linked: dict) -> dict:
	"""The row's state, without templates kept for anyone but the Employee the id names now."""
	state = _read_state(stored)
	if owner != linked["employee"] and state.get(merge.TEMPLATES):
		state[merge.TEMPLATES] = []
	return state


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
	name, stored, owner = _row_of(device, user_id)
	linked = _employee_fields(device, user_id)
	state = _own_state(stored, owner, linked)
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
	_save(name, user_id, device, state, SOURCE_COMMAND, linked, **extra)


def confirm_held(device: str, user_id: str):
	"""The device answered "user exists" (StatusCode 8): it holds the user. That is all the
	answer proves, so the names, access and templates known for them stay as they were (a
	user disabled there stays disabled here); a user the directory did not know gets a row."""
	name, stored, owner = _row_of(device, user_id)
	linked = _employee_fields(device, user_id)
	state = merge.apply_user_update(_own_state(stored, owner, linked), {c.USER_ID: user_id})
	_save(name, user_id, device, state, SOURCE_COMMAND, linked)


def confirm_not_held(device: str, user_id: str):
	"""The device answered "user not found" (StatusCode 9): it does not hold the user. Their
	row, if the directory has one, says Deleted; none is made for a user it never had."""
	if not frappe.db.exists(DEVICE_USER, {"directory_key": _key(device, user_id)}):
		return
	apply_command(device, user_id, "Delete User")


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


def is_template_source(directory_row: str, employee: str, device_scope: list[str]) -> bool:
	"""True when the row keeps templates ``employee`` gave (captured while the id was theirs),
	is linked to them now, and is of a device in ``device_scope`` (their company and branch)."""
	row = frappe.db.get_value(
		DEVICE_USER, directory_row, ["employee", "template_owner", "device", "template_count"], as_dict=True
	)
	return bool(
		row
		and employee
		and row.employee == employee
		and row.template_owner == employee
		and row.device in device_scope
		and row.template_count
	)


def _save(name: str, user_id: str, device: str, state: dict, source: str, linked: dict, **extra):
	if not keep_templates():
		state[merge.TEMPLATES] = [_without_data(t) for t in state.get(merge.TEMPLATES) or []]
	# The templates now kept are those of the Employee the id names (or of no one).
	owner = linked["employee"] if state.get(merge.TEMPLATES) else None
	_write(name, state, source, **linked, template_owner=owner, **extra)
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


def _row_of(device: str, user_id: str) -> tuple[str, str | None, str | None]:
	"""The user's row (name, encrypted state, template owner), created if new, locked for this
	transaction.

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
		return doc.name, None, None
	# A locking read: the row may have been committed after this transaction's snapshot.
	table = frappe.qb.DocType(DEVICE_USER)
	query = frappe.qb.from_(table).select(table.name, table.state, table.template_owner)
	[(name, stored, owner)] = query.where(table.directory_key == _key(device, user_id)).for_update().run()
	return name, stored, owner


def _key(device: str, user_id: str) -> str:
	return f"{device}|{user_id}"


def _read_state(stored: str | None) -> dict:
	return json.loads(decrypt(stored)) if stored else {}


def _write(name: str, state: dict, source: str, summary: str | None = None, **extra):
	"""Store ``state`` encrypted, and what the form shows of it; ``extra``: more fields to set."""
	templates = state.get(merge.TEMPLATES) or []
	first_last = (state.get(c.FIRST_NAME) or "", state.get(c.LAST_NAME) or "")
	# The state keeps what the device sent; what the desk shows of it is text, never markup.
	values = {
		"state": encrypt(json.dumps(state)),
		"status": DELETED if state.get(merge.DELETED) else ACTIVE,
		"full_name": plain_text(" ".join(str(part) for part in first_last if part)),
		"user_type": plain_text(state.get(c.USER_TYPE)),
		"templates_summary": no_markup(summary or describe(templates)),
		"template_count": len(templates),
		"last_operation_time": plain_text(state.get(c.OPERATION_TIME)),
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


def employee_at(device: str, user_id: str) -> str | None:
	"""The Employee whom ``user_id`` names at ``device``, if any."""
	return _employee_fields(device, user_id)["employee"]


def _employee_fields(device: str, user_id: str) -> dict:
	"""The Employee with this Attendance Device ID, in the device's company and branch if set
	(another company's Employee with the same id is not this device's user)."""
	scope = frappe.db.get_value(DEVICE, device, ["company", "branch"], as_dict=True) or {}
	filters = {
		"attendance_device_id": user_id,
		**{f: scope[f] for f in ("company", "branch") if scope.get(f)},
	}
	employee = frappe.db.get_value("Employee", filters, ["name", "employee_name"], as_dict=True)
	if not employee:
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
		_write(
			name,
			state,
			stored.source or SOURCE_CALLBACK,
			summary=_("Erased: {0}").format(reason),
			template_owner=None,
		)


def on_employee_update(doc, method=None):
	"""Keep the directory's Employee links in step with Attendance Device IDs.

	Templates follow the person: when an Employee's id changes (or is cleared, to be given to
	someone else), what the directory kept of them under the old id is erased, and rows of
	their new id keep no templates captured while it named someone else or no one.
	"""
	if not doc.has_value_changed("attendance_device_id"):
		return
	unlinked = {"employee": None, "employee_name": None}
	frappe.db.set_value(DEVICE_USER, {"employee": doc.name}, unlinked)
	erase_templates(
		frappe.get_all(DEVICE_USER, filters={"template_owner": doc.name}, pluck="name"),
		_("the Attendance Device ID of {0} changed").format(doc.name),
	)
	if doc.attendance_device_id:
		for row in frappe.get_all(
			DEVICE_USER,
			filters={"device_user_id": doc.attendance_device_id},
			fields=["name", "device", "template_owner", "template_count"],
		):
			linked = _employee_fields(row.device, doc.attendance_device_id)
			frappe.db.set_value(DEVICE_USER, row.name, linked)
			if row.template_count and row.template_owner != linked["employee"]:
				erase_templates(
					[row.name],
					_("captured while ID {0} was not {1}'s").format(doc.attendance_device_id, doc.name),
				)


def on_employee_trash(doc, method=None):
	"""An Employee's biometric data goes with them: the templates kept for them, under
	whichever id, and whatever is linked to them."""
	names = frappe.get_all(
		DEVICE_USER,
		or_filters={"employee": doc.name, "template_owner": doc.name},
		pluck="name",
	)
	erase_templates(names, _("Employee {0} was deleted").format(doc.name))
	frappe.db.set_value(DEVICE_USER, {"employee": doc.name}, {"employee": None, "employee_name": None})


# "Data": "<template>" in a JSON body or the repr of a dict, within a Template list.
_LOGGED_TEMPLATE_DATA = re.compile(r"""((?:\\)?["']Data(?:\\)?["']\s*:\s*(?:\\)?["'])[^"'\\]+""")


def redact_templates(text: str) -> str:
	"""``text`` with the Data of any template in it withheld."""
	if not text or c.TEMPLATE not in text:
		return text
	return _LOGGED_TEMPLATE_DATA.sub(r"\1<withheld>", text)


def redact_error_log(doc, method=None):
	"""Error Log before_insert: no template data stays in a logged error (a traceback with
	its variables, from Frappe or a job's failure)."""
	for field in ("method", "error"):
		if text := doc.get(field):
			doc.set(field, redact_templates(text))
