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
from frappe.utils import cint, now_datetime
from frappe.utils.password import decrypt, encrypt

from cams_biometric.constants import DEVICE, DEVICE_USER, SETTINGS
from cams_biometric.ingest import insert_row
from cams_biometric.protocol import constants as c
from cams_biometric.protocol import templates as merge
from cams_biometric.protocol.payload import PunchError, read_user_id

ACTIVE, DELETED = "Active", "Deleted"
SOURCE_CALLBACK = "Callback"
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
	name, stored = _row_of(device, user_id)
	state = merge.apply_user_event(_read_state(stored), USER_EVENTS[event_type], event)
	if not keep_templates():
		state[merge.TEMPLATES] = [_without_data(t) for t in state.get(merge.TEMPLATES) or []]
	_write(name, state, source, **_employee_fields(device, user_id))
	if state.get(merge.DELETED):
		_erase_if_deleted_everywhere(user_id)
	return name


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
		}
	)
	savepoint = "cams_device_user"
	frappe.db.savepoint(savepoint)
	try:
		insert_row(doc)
		return doc.name, None
	except (frappe.UniqueValidationError, frappe.DuplicateEntryError):
		frappe.db.rollback(save_point=savepoint)
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


def _erase_if_deleted_everywhere(user_id: str):
	# Locking reads: another device's deletion may have committed after this snapshot. Two
	# devices deleting at once can deadlock here; the loser answers 503 and its resend erases.
	table = frappe.qb.DocType(DEVICE_USER)
	query = frappe.qb.from_(table).select(table.name, table.status).where(table.device_user_id == user_id)
	rows = query.for_update().run(as_dict=True)
	if rows and all(row.status == DELETED for row in rows):
		erase_templates([row.name for row in rows], _("the user was deleted on every device"))


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
