"""An Employee on the devices: enrol, remote enrolment, enable / disable, access window, remove
(the Employee form's "CAMS Devices" group), and the same done by itself when an Employee
leaves, comes back, or gets a relieving date.

Everything goes through the command outbox (commands.py); the device user directory records
what each device then holds.
"""

import frappe
from frappe import _
from frappe.utils import escape_html, get_datetime, getdate, now_datetime

from cams_biometric import arguments, commands, device_users
from cams_biometric.constants import DEVICE, DEVICE_USER, LEAVING_STATUSES, SETTINGS

DISABLE, DELETE, NOTHING = "Disable on devices", "Delete from devices", "Do nothing"
# An access window without an end: the devices' clock format has no "open ended".
OPEN_END = "2099-12-31 23:59:59"


def _check_permission(employee) -> str:
	"""The employee's name, once the caller may send them commands."""
	frappe.has_permission(commands.COMMAND, "create", throw=True)
	employee = arguments.name(employee, "Employee", "employee")
	frappe.has_permission("Employee", "read", doc=employee, throw=True)
	return employee


def _employee(name: str) -> dict:
	employee = frappe.db.get_value(
		"Employee",
		name,
		["name", "attendance_device_id", "company", "branch", "employee_name", "status"],
		as_dict=True,
	)
	if not employee:
		frappe.throw(_("Employee {0} does not exist.").format(escape_html(name)))
	if not employee.attendance_device_id:
		frappe.throw(
			_("Set the Attendance Device ID of {0} first: devices know employees by it.").format(
				frappe.bold(employee.employee_name or name)
			),
			title=_("No Attendance Device ID"),
		)
	return employee


def _device_list(devices) -> list[str] | None:
	return arguments.text_list(devices, "devices") or None


def devices_in_scope(employee: dict) -> list[str]:
	"""Enabled devices whose company and branch (when set) are the employee's."""
	table = frappe.qb.DocType(DEVICE)
	query = frappe.qb.from_(table).select(table.name).where(table.enabled == 1)
	for field in ("company", "branch"):
		query = query.where(
			table[field].isnull() | (table[field] == "") | (table[field] == (employee.get(field) or ""))
		)
	return [row[0] for row in query.orderby(table.name).run()]


def devices_holding(employee: dict) -> list[str]:
	"""Enabled devices whose directory has the employee's device user, not deleted."""
	rows = frappe.get_all(
		DEVICE_USER,
		filters={"device_user_id": employee.attendance_device_id, "status": device_users.ACTIVE},
		pluck="device",
	)
	enabled = set(frappe.get_all(DEVICE, filters={"enabled": 1}, pluck="name"))
	return sorted(set(rows) & enabled & set(devices_in_scope(employee)))


def _targets(employee: dict, devices) -> list[str]:
	"""The devices asked for; by default those holding the employee, or if the directory
	knows none yet (never resent), every device in the employee's scope. Each one passes the
	checks of every command (commands.check_may_send): the user may read it and the employee."""
	chosen = _device_list(devices)
	if chosen is None:
		targets = devices_holding(employee) or devices_in_scope(employee)
	else:
		unknown = [d for d in chosen if d not in devices_in_scope(employee)]
		if unknown:
			frappe.throw(
				_("Not an enabled device of this employee's company and branch: {0}").format(
					escape_html(", ".join(unknown))
				),
				arguments.InvalidArgument,
			)
		targets = chosen
	for device in targets:
		commands.check_may_send(device, employee.name)
	return targets


def template_source(employee: dict, exclude_device: str | None = None) -> str | None:
	"""The directory row with the most kept templates this employee gave, on another device.

	Only their own: a row linked to them, whose templates were captured while its id named
	them (template_owner), on a device of their company and branch. Never a row found by the
	id alone: ids are reused, and another company's device numbers its own users.
	"""
	if not device_users.keep_templates() or not employee.get("name"):
		return None
	scope = devices_in_scope(employee)
	rows = frappe.get_all(
		DEVICE_USER,
		filters={
			"device_user_id": employee.attendance_device_id,
			"employee": employee.name,
			"template_owner": employee.name,
			"device": ("in", scope or [""]),
			"template_count": (">", 0),
		},
		fields=["name", "device"],
		order_by="template_count desc, last_change desc",
	)
	for row in rows:
		if row.device != exclude_device and device_users.templates_of(row.name):
			return row.name
	return None


@frappe.whitelist()
def devices_of(employee: str) -> dict:
	"""For the Employee form: on which devices the employee is, and with what."""
	frappe.has_permission(DEVICE_USER, "read", throw=True)
	employee = arguments.name(employee, "Employee", "employee")
	frappe.has_permission("Employee", "read", doc=employee, throw=True)
	found = frappe.db.get_value(
		"Employee", employee, ["attendance_device_id", "company", "branch"], as_dict=True
	)
	if not found:
		frappe.throw(_("Employee {0} does not exist.").format(escape_html(employee)))
	rows = []
	if found.attendance_device_id:
		rows = frappe.get_all(
			DEVICE_USER,
			# Their rows: the id at a device of another company or branch is someone else.
			filters={"device_user_id": found.attendance_device_id, "employee": employee},
			fields=[
				"name",
				"device",
				"status",
				"access_enabled",
				"access_start",
				"access_end",
				"templates_summary",
				"last_change",
				"source",
			],
			order_by="device",
		)
	labels = dict(frappe.get_all(DEVICE, fields=["name", "device_label"], as_list=True))
	for row in rows:
		row.device_label = labels.get(row.device) or row.device
	scope = devices_in_scope(found) if found.attendance_device_id else []
	return {
		"attendance_device_id": found.attendance_device_id,
		"rows": rows,
		"devices": [{"name": d, "label": labels.get(d) or d} for d in scope],
		"keep_templates": device_users.keep_templates(),
		"endpoint_set": bool(frappe.db.get_single_value(SETTINGS, "restful_endpoint")),
	}


@frappe.whitelist(methods=["POST"])
def enrol(employee: str, devices: list | str, copy_templates: int | bool = 1) -> list[str]:
	"""Add the employee to ``devices``, with the templates another device captured when kept."""
	employee = _check_permission(employee)
	chosen = _device_list(devices)
	copy_templates = arguments.flag(copy_templates, "copy_templates", default=1)
	if not chosen:
		arguments.refuse("devices", _("pick at least one device"))
	found = _employee(employee)
	# The templates are chosen by commands.queue_command, from this employee's own.
	params = {"copy_templates": copy_templates}
	return [
		commands.queue_command(device, "Add User", employee=employee, params=params)
		for device in _targets(found, chosen)
	]


@frappe.whitelist(methods=["POST"])
def remote_enrol(employee: str, device: str) -> str:
	"""EnrollFingerPrint (#35): the device asks the employee to lay a finger on its reader."""
	employee = _check_permission(employee)
	device = arguments.text(device, "device")
	found = _employee(employee)
	[device] = _targets(found, [device])
	return commands.queue_command(device, "Enroll Fingerprint", employee=employee)


@frappe.whitelist(methods=["POST"])
def set_access(employee: str, enable: int | bool, devices: list | str | None = None) -> list[str]:
	employee = _check_permission(employee)
	operation = "Enable User" if arguments.flag(enable, "enable") else "Disable User"
	devices = _device_list(devices)
	found = _employee(employee)
	return [
		commands.queue_command(device, operation, employee=employee) for device in _targets(found, devices)
	]


@frappe.whitelist(methods=["POST"])
def set_access_window(employee: str, start: str, end: str, devices: list | str | None = None) -> list[str]:
	"""UpdateAccessTime (#36): the devices take the employee's punches only from start to end."""
	employee = _check_permission(employee)
	start, end = arguments.moment(start, "start"), arguments.moment(end, "end")
	devices = _device_list(devices)
	if end <= start:
		arguments.refuse("end", _("the access window must end after it starts"))
	found = _employee(employee)
	params = {"start": str(start), "end": str(end)}
	return [
		commands.queue_command(device, "Update Access Time", employee=employee, params=params)
		for device in _targets(found, devices)
	]


@frappe.whitelist(methods=["POST"])
def remove(employee: str, devices: list | str | None = None) -> list[str]:
	employee = _check_permission(employee)
	devices = _device_list(devices)
	found = _employee(employee)
	return [
		commands.queue_command(device, "Delete User", employee=employee)
		for device in _targets(found, devices)
	]


# -- by itself, when the Employee changes ----------------------------------------------------
def on_employee_update(doc, method=None):
	"""Left / Inactive: disable or delete on the devices; Active again: undo; a future
	relieving date: the access window ends on it."""
	before = doc.get_doc_before_save()
	if before is None or not frappe.db.get_single_value(SETTINGS, "restful_endpoint"):
		return
	was_leaving = before.status in LEAVING_STATUSES
	leaving = doc.status in LEAVING_STATUSES and not was_leaving
	# A leaver is acted on by the id the devices know them by, the one before this save: an id
	# changed or cleared in the same save must not leave that user enabled on the devices.
	# Anything else goes to the id the Employee has from now on.
	device_user_id = (
		(before.attendance_device_id or doc.attendance_device_id) if leaving else doc.attendance_device_id
	)
	if not device_user_id:
		return
	leaving_action = frappe.db.get_single_value(SETTINGS, "on_employee_leaving") or DISABLE
	if leaving_action == NOTHING:
		return
	employee = frappe._dict(
		name=doc.name, attendance_device_id=device_user_id, company=doc.company, branch=doc.branch
	)
	if leaving:
		if _in_future(doc.relieving_date):
			_on_relieving_date(doc, employee)  # they may punch until their last day
		else:
			_on_leaving(doc, employee, leaving_action)
	elif doc.status == "Active" and was_leaving:
		_on_return(doc, employee, leaving_action)
	elif doc.status == "Active" and doc.has_value_changed("relieving_date"):
		_on_relieving_date(doc, employee)


def _on_leaving(doc, employee, action: str):
	operation = "Delete User" if action == DELETE else "Disable User"
	for device in devices_holding(employee) or devices_in_scope(employee):
		commands.queue_command(
			device, operation, device_user_id=employee.attendance_device_id, employee=doc.name
		)
	_tell(
		doc,
		_("{0} is being {1} on the CAMS devices.").format(
			doc.employee_name or doc.name, _("deleted") if action == DELETE else _("disabled")
		),
	)


def _on_return(doc, employee, action: str):
	user_id = employee.attendance_device_id
	if action == DELETE:
		for device in devices_in_scope(employee):
			commands.queue_command(
				device, "Add User", device_user_id=user_id, employee=doc.name, params={"copy_templates": 1}
			)
	else:
		devices = devices_holding(employee) or devices_in_scope(employee)
		for device in devices:
			commands.queue_command(device, "Enable User", device_user_id=user_id, employee=doc.name)
		# Coming back ends the notice period: the window that ended on the relieving date goes,
		# unless a relieving date is still ahead.
		_send_window(doc, employee, devices, _window_end(doc) or OPEN_END)
	_tell(doc, _("{0} is being added back on the CAMS devices.").format(doc.employee_name or doc.name))


def _in_future(day) -> bool:
	return bool(day) and getdate(day) > getdate(now_datetime())


def _on_relieving_date(doc, employee):
	end = _window_end(doc)
	if _send_window(doc, employee, devices_holding(employee) or devices_in_scope(employee), end):
		_tell(
			doc,
			_("The CAMS devices take {0}'s punches until {1}.").format(
				doc.employee_name or doc.name, frappe.format(end, "Datetime")
			),
		)


def _window_end(doc) -> str | None:
	"""The access window's end for the employee's relieving date: that day's last second, or
	no end when it is cleared; None for a date already past (HR's to sort out)."""
	if doc.relieving_date and getdate(doc.relieving_date) >= getdate(now_datetime()):
		return f"{getdate(doc.relieving_date)} 23:59:59"
	if not doc.relieving_date:
		return OPEN_END  # the relieving date was cleared: lift the window's end
	return None


def _send_window(doc, employee, devices: list[str], end: str | None) -> bool:
	"""Update Access Time on ``devices``: from the date of joining to ``end``."""
	start = f"{getdate(doc.date_of_joining or now_datetime())} 00:00:00"
	if not end or get_datetime(end) <= get_datetime(start):
		return False
	for device in devices:
		commands.queue_command(
			device,
			"Update Access Time",
			device_user_id=employee.attendance_device_id,
			employee=doc.name,
			params={"start": start, "end": end},
		)
	return True


def _tell(doc, message: str):
	frappe.msgprint(message, alert=True, indicator="blue")
