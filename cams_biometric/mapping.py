"""Giving an Employee a device user's id from the desk (the raw punch's Map to Employee, the
Unmapped Device Users report's Set on Employee): what the waiting punches will become, said
before, and what they became, said after.

The forecast applies processing's rules to the waiting punches grouped by device, type and
day (a few rows however many punches); the outcome counts the rows the pickup job has
processed since the mapping (their ``modified`` moves when the job writes them).
"""

import frappe
from frappe import _
from frappe.query_builder.functions import Count, Date
from frappe.utils import escape_html, get_datetime, getdate

from cams_biometric import arguments
from cams_biometric.constants import (
	DEVICE,
	DUPLICATE,
	ERROR,
	IGNORED,
	PENDING,
	PROCESSED,
	RAW_PUNCH,
	SETTINGS,
	UNMAPPED,
)

WAITING = (UNMAPPED, PENDING)


def _check_permission():
	frappe.has_permission(RAW_PUNCH, "read", throw=True)


def _employee(name: str):
	employee = frappe.db.get_value(
		"Employee",
		name,
		[
			"name",
			"employee_name",
			"status",
			"company",
			"branch",
			"date_of_joining",
			"relieving_date",
			"attendance_device_id",
		],
		as_dict=True,
	)
	if not employee:
		frappe.throw(_("Employee {0} does not exist.").format(escape_html(name)), frappe.DoesNotExistError)
	frappe.has_permission("Employee", "read", doc=name, throw=True)
	return employee


def _who(employee) -> str:
	return escape_html(employee.employee_name or employee.name)


def _waiting_groups(device_user_id: str) -> list:
	raw = frappe.qb.DocType(RAW_PUNCH)
	return (
		frappe.qb.from_(raw)
		.select(raw.device, raw.punch_type, Date(raw.punch_time).as_("day"), Count("*").as_("punches"))
		.where((raw.device_user_id == device_user_id) & raw.status.isin(WAITING))
		.groupby(raw.device, raw.punch_type, Date(raw.punch_time))
		.run(as_dict=True)
	)


def _fate(group, employee, devices: dict, settings) -> str:
	"""What processing will make of these punches (see processing.RULES), as a key of FATES."""
	if not group.day:
		return "error"
	rule = settings.punch_type_rule(group.punch_type)
	if not rule:
		return "error"
	if not rule.create_checkin:
		return "ignored"
	device = devices.setdefault(
		group.device,
		frappe.db.get_value(DEVICE, group.device, ["company", "branch"], as_dict=True) or frappe._dict(),
	)
	if any(device.get(f) and employee.get(f) != device.get(f) for f in ("company", "branch")):
		return "other_scope"
	if employee.status != "Active":
		return "inactive"
	if employee.date_of_joining and getdate(group.day) < getdate(employee.date_of_joining):
		return "before_joining"
	if employee.relieving_date and getdate(group.day) > getdate(employee.relieving_date):
		return "after_relieving"
	return "checkins"


def _fate_text(fate: str, count: int, employee) -> str:
	who = _who(employee)
	return {
		"checkins": _("{0} become checkins of {1}").format(count, who),
		"before_joining": _("{0} are before the date of joining of {1} ({2}) and become Error").format(
			count, who, frappe.format(employee.date_of_joining, "Date")
		),
		"after_relieving": _("{0} are after the relieving date of {1} ({2}) and become Error").format(
			count, who, frappe.format(employee.relieving_date, "Date")
		),
		"inactive": _("{0} become Error: {1} is {2}, not Active").format(
			count, who, escape_html(employee.status or "")
		),
		"other_scope": _(
			"{0} stay Unmapped: their device is for another company or branch than {1}'s"
		).format(count, who),
		"ignored": _("{0} become Ignored: their punch type creates no checkins").format(count),
		"error": _("{0} become Error: their time or punch type cannot be read").format(count),
	}[fate]


@frappe.whitelist()
def forecast(employee: str, device_user_id: str) -> dict:
	"""Before mapping: whose the id is, what the Employee gives up, what the waiting punches become."""
	_check_permission()
	device_user_id = arguments.user_id(device_user_id, "device_user_id")
	found = _employee(arguments.name(employee, "Employee", "employee"))
	holder = frappe.db.get_value(
		"Employee",
		{"attendance_device_id": device_user_id, "name": ("!=", found.name)},
		["name", "employee_name"],
		as_dict=True,
	)
	settings, devices, counts = frappe.get_cached_doc(SETTINGS), {}, {}
	for group in _waiting_groups(device_user_id):
		fate = _fate(group, found, devices, settings)
		counts[fate] = counts.get(fate, 0) + group.punches
	waiting = sum(counts.values())
	lines = []
	replaces = (
		found.attendance_device_id if found.attendance_device_id not in (None, "", device_user_id) else None
	)
	if holder:
		lines.append(
			_("Attendance Device ID {0} belongs to {1} ({2}): it cannot be given to {3} too.").format(
				escape_html(device_user_id), _who(holder), escape_html(holder.name), _who(found)
			)
		)
	if replaces:
		lines.append(
			_(
				"{0} has Attendance Device ID {1} now. It will be replaced by {2}, and punches of device"
				" user {1} will then wait as Unmapped."
			).format(_who(found), escape_html(replaces), escape_html(device_user_id))
		)
	if waiting:
		lines.append(
			_("Of the {0} punches of device user {1} waiting:").format(waiting, escape_html(device_user_id))
			+ "<ul>"
			+ "".join(f"<li>{_fate_text(fate, n, found)}</li>" for fate, n in counts.items())
			+ "</ul>"
		)
	else:
		lines.append(_("No punch of device user {0} is waiting.").format(escape_html(device_user_id)))
	enabled = bool(frappe.db.get_single_value(SETTINGS, "enabled"))
	if waiting and not enabled:
		lines.append(_("The integration is switched off: this happens when it is switched on again."))
	return {
		"employee": found.name,
		"employee_name": found.employee_name,
		"waiting": waiting,
		"counts": counts,
		"replaces": replaces,
		"holder": holder.name if holder else None,
		"enabled": enabled,
		"message": "".join(f"<p>{line}</p>" if not line.endswith("</ul>") else line for line in lines),
	}


@frappe.whitelist()
def outcome(device_user_id: str, since: str | None = None) -> dict:
	"""After mapping: the punches of ``device_user_id`` that waited at ``since``, by what they
	became so far; ``done`` once none of them waits for the pickup any more."""
	_check_permission()
	device_user_id = arguments.user_id(device_user_id, "device_user_id")
	since = arguments.moment(since, "since")
	raw = frappe.qb.DocType(RAW_PUNCH)
	of_the_mapping = (raw.device_user_id == device_user_id) & (raw.creation <= since)
	done = (
		frappe.qb.from_(raw)
		.select(raw.status, Count("*").as_("punches"))
		.where(of_the_mapping & (raw.modified >= since))
		.groupby(raw.status)
		.run(as_dict=True)
	)
	left = (
		frappe.qb.from_(raw)
		.select(Count("*"))
		.where(of_the_mapping & (raw.modified < since) & raw.status.isin(WAITING))
		.run()[0][0]
	)
	counts = {row.status: row.punches for row in done}
	errors = frappe.get_all(
		RAW_PUNCH,
		filters={
			"device_user_id": device_user_id,
			"creation": ("<=", since),
			"modified": (">=", since),
			"status": ERROR,
		},
		fields=["error"],
		order_by="punch_time asc",
		limit=1,
	)
	said = {
		PROCESSED: _("{0} became checkins"),
		DUPLICATE: _("{0} were checkins already"),
		ERROR: _("{0} became Error"),
		UNMAPPED: _("{0} are still Unmapped"),
		IGNORED: _("{0} became Ignored"),
		PENDING: _("{0} are Pending"),
	}
	parts = [text.format(counts[status]) for status, text in said.items() if counts.get(status)]
	message = _("Punches of device user {0}: {1}.").format(
		escape_html(device_user_id), ", ".join(parts) or _("none yet")
	)
	if left:
		message += " " + _("{0} still waiting to be processed.").format(left)
	if errors and errors[0].error:
		message += " " + _("First error: {0}").format(escape_html(errors[0].error))
	return {"counts": counts, "left": left, "done": not left, "message": message}
