"""Where the devices and the Employees disagree (issue 22, part 3): Employees in a device's
scope who are not on it, device users whose id no Employee has, users enabled while their
Employee leaves or disabled while they are Active, and users of a device whose Employee
belongs to another company or branch. Each gap has its fix, applied through the paths the
Employee form and the device form use (employee_devices, commands), with their checks.

Computed in a few set-based queries (devices, their directory rows, Employees with an
Attendance Device ID, pending commands), whatever the number of rows: the report and the fix
(which recomputes each row it is given, never trusting the gap the client names) share it.
"""

import frappe
from frappe import _
from frappe.utils import escape_html, getdate, nowdate, strip_html

from cams_biometric import arguments, commands, device_users, employee_devices, rollouts
from cams_biometric.constants import DEVICE, DEVICE_USER, LEAVING_STATUSES
from cams_biometric.device_scope import restricted_devices

NOT_ON_DEVICE = "Not on Device"
NO_EMPLOYEE = "No Employee"
ENABLED_WHILE_LEAVING = "Enabled while Left"
DISABLED_WHILE_ACTIVE = "Disabled while Active"
OUTSIDE_SCOPE = "Outside Company or Branch"
GAPS = (NOT_ON_DEVICE, NO_EMPLOYEE, ENABLED_WHILE_LEAVING, DISABLED_WHILE_ACTIVE, OUTSIDE_SCOPE)

ENROL, MAP, DISABLE, ENABLE, REMOVE = "enrol", "map", "disable", "enable", "remove"
# The fixes of each gap, the first one offered first. Map is the Unmapped Device Users
# report's dialog (it sets an Employee's Attendance Device ID): the desk's, not fix()'s.
FIXES = {
	NOT_ON_DEVICE: (ENROL,),
	NO_EMPLOYEE: (MAP, REMOVE),
	ENABLED_WHILE_LEAVING: (DISABLE,),
	DISABLED_WHILE_ACTIVE: (ENABLE,),
	OUTSIDE_SCOPE: (REMOVE,),
}
# The command each fix queues: one already queued or sent for the row is not queued again.
OPERATION = {ENROL: "Add User", DISABLE: "Disable User", ENABLE: "Enable User", REMOVE: "Delete User"}
SCOPE_FIELDS = ("company", "branch")


# -- finding the gaps ----------------------------------------------------------------------
def find(device: str | None = None, gap: str | None = None, user_ids: set[str] | None = None) -> list[dict]:
	"""The gaps of the enabled devices the session user may read (``device`` only, if given),
	one dict per gap; ``user_ids`` narrows them to those device user ids."""
	devices = _devices(device)
	if not devices:
		return []
	by_id, readable = _employees(user_ids)
	rows = _directory(list(devices), user_ids)
	pending = _pending(list(devices), user_ids)
	held = {(row.device, row.device_user_id) for row in rows}
	today = getdate(nowdate())
	found = []

	def add(kind, device, user_id, row=None, employee=None, note=None):
		if gap and kind != gap:
			return
		shown = employee if employee and employee.name in readable else None
		found.append(
			frappe._dict(
				gap=kind,
				fixes=",".join(FIXES[kind]),
				pending=pending.get((device.name, user_id)),
				device=device.name,
				device_label=device.device_label,
				device_user_id=user_id,
				name_on_device=row.full_name if row else None,
				access=(_("Enabled") if row.access_enabled else _("Disabled")) if row else None,
				employee=shown.name if shown else None,
				employee_name=shown.employee_name if shown else None,
				employee_status=shown.status if shown else None,
				company=shown.company if shown else None,
				branch=shown.branch if shown else None,
				note=note,
			)
		)

	for row in rows:
		device = devices[row.device]
		theirs = by_id.get(row.device_user_id) or []
		employee = next((e for e in theirs if _in_scope(e, device)), None)
		if employee is None and theirs:
			add(
				OUTSIDE_SCOPE,
				device,
				row.device_user_id,
				row,
				theirs[0],
				_outside(theirs[0], device, readable),
			)
		elif employee is None:
			add(NO_EMPLOYEE, device, row.device_user_id, row)
		elif row.access_enabled and _gone(employee, today):
			add(ENABLED_WHILE_LEAVING, device, row.device_user_id, row, employee)
		elif not row.access_enabled and employee.status == "Active":
			add(DISABLED_WHILE_ACTIVE, device, row.device_user_id, row, employee)

	for user_id, theirs in by_id.items():
		for employee in theirs:
			# Enrolling is for those the user may read: check_may_send would refuse the others.
			if employee.status != "Active" or employee.name not in readable:
				continue
			for device in devices.values():
				if (device.name, user_id) not in held and _in_scope(employee, device):
					add(NOT_ON_DEVICE, device, user_id, employee=employee)

	order = {kind: i for i, kind in enumerate(GAPS)}
	found.sort(key=lambda r: (r.device, order[r.gap], r.device_user_id))
	return found


def _devices(device: str | None) -> dict:
	"""{name: device} of the enabled devices the session user may read: a disabled device
	takes no command, so its gaps have no fix."""
	filters = {"enabled": 1}
	if device:
		filters["name"] = device
	readable = restricted_devices()
	if readable is not None:
		filters["name"] = ("in", [d for d in readable if not device or d == device] or [""])
	found = frappe.get_all(DEVICE, filters=filters, fields=["name", "device_label", *SCOPE_FIELDS])
	return {d.name: d for d in found}


def _employees(user_ids: set[str] | None) -> tuple[dict, set]:
	"""({Attendance Device ID: [Employees with it]}, the names of those the user may read).

	All of them, whoever may read them: that an id names someone of another company decides
	the gap (Outside Company or Branch, not No Employee); who they are is shown only to those
	who may read them."""
	filters = {"attendance_device_id": ("is", "set")}
	if user_ids is not None:
		filters["attendance_device_id"] = ("in", list(user_ids) or [""])
	fields = ["name", "employee_name", "status", "relieving_date", "attendance_device_id", *SCOPE_FIELDS]
	by_id = {}
	for employee in frappe.get_all("Employee", filters=filters, fields=fields, order_by="name"):
		by_id.setdefault(employee.attendance_device_id, []).append(employee)
	readable = set(frappe.get_list("Employee", filters=filters, pluck="name", limit_page_length=0))
	return by_id, readable


def _directory(devices: list[str], user_ids: set[str] | None) -> list:
	filters = {"device": ("in", devices), "status": device_users.ACTIVE}
	if user_ids is not None:
		filters["device_user_id"] = ("in", list(user_ids) or [""])
	return frappe.get_all(
		DEVICE_USER, filters=filters, fields=["device", "device_user_id", "full_name", "access_enabled"]
	)


def _pending(devices: list[str], user_ids: set[str] | None) -> dict:
	"""{(device, user id): the newest queued or sent command of a fix's operation for them}."""
	filters = {
		"device": ("in", devices),
		"status": ("in", commands.ACTIVE_STATUSES),
		"operation": ("in", list(OPERATION.values())),
	}
	if user_ids is not None:
		filters["device_user_id"] = ("in", list(user_ids) or [""])
	found = {}
	for command in frappe.get_all(
		commands.COMMAND,
		filters=filters,
		fields=["name", "device", "device_user_id", "operation"],
		order_by="creation asc",
	):
		found[(command.device, command.device_user_id)] = f"{command.operation} {command.name}"
	# Rows a queued or running rollout has still to send (their commands are made one by one).
	rollout, item = frappe.qb.DocType(rollouts.ROLLOUT), frappe.qb.DocType(rollouts.ITEM)
	query = (
		frappe.qb.from_(item)
		.join(rollout)
		.on(item.parent == rollout.name)
		.select(rollout.name, rollout.device, item.device_user_id)
		.where(rollout.status.isin(rollouts.ACTIVE) & rollout.device.isin(devices))
		.where(item.status == rollouts.PENDING)
	)
	if user_ids is not None:
		query = query.where(item.device_user_id.isin(list(user_ids) or [""]))
	for name, device, user_id in query.run():
		found.setdefault((device, user_id), _("Rollout {0}").format(name))
	return found


def _in_scope(employee, device) -> bool:
	"""employee_devices.devices_in_scope's rule: the device's company and branch, when set."""
	return all(not device[f] or device[f] == (employee[f] or "") for f in SCOPE_FIELDS)


def _gone(employee, today) -> bool:
	"""Leaving, and past their relieving date: until then the devices take their punches
	(employee_devices gives them an access window to that day instead of disabling them)."""
	if employee.status not in LEAVING_STATUSES:
		return False
	return not employee.relieving_date or getdate(employee.relieving_date) < today


def _outside(employee, device, readable: set) -> str:
	if employee.name not in readable:
		return _("The id is an Employee's of another company or branch.")
	differs = [f for f in SCOPE_FIELDS if device[f] and device[f] != (employee[f] or "")]
	return _("The id is {0}'s, of {1}; the device is for {2}.").format(
		employee.employee_name or employee.name,
		" / ".join(employee[f] or "-" for f in differs),
		" / ".join(device[f] for f in differs),
	)


# -- fixing them -------------------------------------------------------------------------
def _enrol(enrolments: dict, copy_templates: int):
	"""The Enrol rows of each device, as one rollout per device: its commands go one after
	another, with counts and a record of who failed (rollouts.py). ``enrolments``: device ->
	[(employee, answer)]; each answer says which rollout took it, or why none did."""
	for device, rows in enrolments.items():
		who = escape_html(device)
		try:
			name = rollouts.enrol_employees(
				device, employees=[employee for employee, _answer in rows], copy_templates=copy_templates
			)
		except frappe.ValidationError as e:
			said = strip_html(str(e)).replace("<", "&lt;").replace(">", "&gt;")
			for _employee, answer in rows:
				answer.update(status="Skipped", message=_("Enrol on {0}: {1}").format(who, said))
			continue
		for _employee, answer in rows:
			answer.update(
				status="Queued",
				rollout=name,
				message=_("Device user {0}: enrolled on {1} by rollout {2}.").format(
					escape_html(answer["device_user_id"]), who, name
				),
			)


def _read_rows(rows) -> list[dict]:
	value = arguments._json(rows, "rows") if isinstance(rows, str) else rows
	if not isinstance(value, list) or not value:
		arguments.refuse("rows", _("must be a list of the report's rows"))
	if len(value) > 1000:
		arguments.refuse("rows", _("at most 1000 rows at a time"))
	read = []
	for i, row in enumerate(value):
		argument = f"rows[{i}]"
		if not isinstance(row, dict):
			arguments.refuse(argument, _("must be an object"))
		fix = arguments.choice(row.get("fix"), OPERATION, f"{argument}.fix")
		read.append(
			frappe._dict(
				device=arguments.name(row.get("device"), DEVICE, f"{argument}.device"),
				device_user_id=arguments.user_id(row.get("device_user_id"), f"{argument}.device_user_id"),
				employee=arguments.name(
					row.get("employee"), "Employee", f"{argument}.employee", required=False
				),
				gap=arguments.choice(row.get("gap"), GAPS, f"{argument}.gap", required=False),
				fix=fix,
			)
		)
	return read


@frappe.whitelist(methods=["POST"])
def fix(rows: list | str | None = None, copy_templates: int | bool = 1) -> dict:
	"""Apply each row's fix (rows of the Enrolment Gaps report: device, device_user_id, fix,
	and the gap and employee the desk saw).

	Every row passes commands.check_may_send first, as the one it acts on at the device
	(the Employee the id names there): one the user may not act on refuses the whole request.
	Then each row's gap is found again: a row whose gap is gone or changed, or whose fix is
	queued already, is skipped and says why; the others queue their command. Answers
	{"rows": [{..., "status": Queued | Skipped, "message", "commands"}], "queued", "skipped"}.
	"""
	frappe.has_permission(commands.COMMAND, "create", throw=True)
	frappe.has_permission(DEVICE_USER, "read", throw=True)
	wanted = _read_rows(rows)
	copy_templates = arguments.flag(copy_templates, "copy_templates", default=1)
	for row in wanted:
		commands.check_may_send(row.device, device_users.employee_at(row.device, row.device_user_id))

	now = {}
	for device in {row.device for row in wanted}:
		ids = {row.device_user_id for row in wanted if row.device == device}
		now.update({(g.device, g.device_user_id): g for g in find(device, user_ids=ids)})
	enrolments = {}
	answers = [_fix_one(row, now.get((row.device, row.device_user_id)), enrolments) for row in wanted]
	_enrol(enrolments, copy_templates)
	queued = sum(1 for a in answers if a["status"] == "Queued")
	return {"rows": answers, "queued": queued, "skipped": len(answers) - queued}


def _fix_one(row, found, enrolments: dict) -> dict:
	answer = {
		"device": row.device,
		"device_user_id": row.device_user_id,
		"fix": row.fix,
		"gap": found.gap if found else None,
		"employee": found.employee if found else row.employee,
		"status": "Skipped",
		"commands": [],
	}
	who = escape_html(row.device_user_id)
	if not found:
		answer["message"] = _("Device user {0}: no gap any more on {1}.").format(who, escape_html(row.device))
		return answer
	if (row.gap and row.gap != found.gap) or row.fix not in FIXES[found.gap]:
		answer["message"] = _("Device user {0}: the gap is now {1}; refresh the report.").format(
			who, _(found.gap)
		)
		return answer
	if found.pending:
		answer["message"] = _("Device user {0}: {1} is on its way already.").format(
			who, escape_html(found.pending)
		)
		return answer
	if row.fix == ENROL:  # one rollout per device, once every row is read (_enrol)
		enrolments.setdefault(found.device, []).append((found.employee, answer))
		return answer
	# Each row in its own savepoint: a refusal undoes its own writes, not the other rows'.
	savepoint = f"cams_gap_{frappe.generate_hash(length=8)}"
	messages = len(frappe.local.message_log)
	frappe.db.savepoint(savepoint)
	try:
		answer["commands"] = _apply(row.fix, found)
	except frappe.ValidationError as e:
		frappe.db.rollback(save_point=savepoint)
		# Said in this row's answer, not as a message of the whole request.
		del frappe.local.message_log[messages:]
		# Frappe's messages hold markup (bold names) and escape what they quote: text, no tags.
		said = strip_html(str(e)).replace("<", "&lt;").replace(">", "&gt;")
		answer["message"] = _("Device user {0}: {1}").format(who, said)
		return answer
	answer["status"] = "Queued"
	answer["message"] = _("Device user {0}: {1} queued on {2}.").format(
		who, _(OPERATION[row.fix]), escape_html(found.device_label or found.device)
	)
	return answer


def _apply(action: str, found) -> list[str]:
	device, user_id, employee = found.device, found.device_user_id, found.employee
	if action in (ENABLE, DISABLE):
		return employee_devices.set_access(employee, int(action == ENABLE), [device])
	# Remove: the id names no Employee of this device's company and branch (checked by fix()).
	return [commands.queue_command(device, OPERATION[REMOVE], device_user_id=user_id)]
