"""What the Employee form says beside the devices table, each part true on its own: the devices
that sent punches of the employee's device user, the commands on their way to the devices
(polled by the form until they finish), and a remote enrolment still waiting for a finger."""

import frappe
from frappe import _
from frappe.query_builder.functions import Count, Max
from frappe.utils import add_to_date, now_datetime

from cams_biometric import arguments
from cams_biometric.commands import COMMAND, QUEUED, SENT
from cams_biometric.constants import DEVICE, DEVICE_USER, RAW_PUNCH
from cams_biometric.device_users import SOURCE_COMMAND

# A remote enrolment is followed this long after the device took it: a device gives up asking
# for a finger within minutes, so an older one is only history (Commands).
ENROLMENT_FOLLOWED_MINUTES = 30


@frappe.whitelist()
def activity_of(employee: str, commands_since: str | None = None) -> dict:
	"""For the Employee form: punches seen per device, commands in flight (and those finished
	since ``commands_since``, so the form can say how they ended), remote enrolments waiting."""
	frappe.has_permission(DEVICE_USER, "read", throw=True)
	employee = arguments.name(employee, "Employee", "employee")
	since = arguments.moment(commands_since, "commands_since", required=False)
	commands_since = str(since) if since else None
	frappe.has_permission("Employee", "read", doc=employee, throw=True)
	user_id = frappe.db.get_value("Employee", employee, "attendance_device_id")
	labels = dict(frappe.get_all(DEVICE, fields=["name", "device_label"], as_list=True))
	result = {"now": str(now_datetime()), "seen": [], "in_flight": [], "finished": [], "enrolments": []}
	if frappe.has_permission(COMMAND, "read"):
		result.update(_commands(employee, commands_since, labels))
	if user_id and frappe.has_permission(RAW_PUNCH, "read"):
		result["seen"] = _punches_seen(user_id, labels)
	return result


def _punches_seen(user_id: str, labels: dict) -> list[dict]:
	raw = frappe.qb.DocType(RAW_PUNCH)
	rows = (
		frappe.qb.from_(raw)
		.select(raw.device, Count("*").as_("punches"), Max(raw.punch_time).as_("last_punch"))
		.where(raw.device_user_id == user_id)
		.groupby(raw.device)
		.orderby(raw.device)
		.run(as_dict=True)
	)
	listed = {
		row.device
		for row in frappe.get_all(DEVICE_USER, filters={"device_user_id": user_id}, fields=["device"])
	}
	for row in rows:
		row.device_label = labels.get(row.device) or row.device
		row.in_user_list = row.device in listed
	return rows


def _commands(employee: str, since: str | None, labels: dict) -> dict:
	fields = ["name", "device", "operation", "status", "creation", "finished_at", "error", "note"]
	in_flight = frappe.get_all(
		COMMAND,
		filters={"employee": employee, "status": ("in", (QUEUED, SENT))},
		fields=fields,
		order_by="creation asc",
	)
	finished = []
	if since:
		finished = frappe.get_all(
			COMMAND,
			filters={
				"employee": employee,
				"status": ("not in", (QUEUED, SENT)),
				"finished_at": (">=", since),
			},
			fields=fields,
			order_by="finished_at asc",
		)
	enrolled = frappe.get_all(
		COMMAND,
		filters={
			"employee": employee,
			"operation": "Enroll Fingerprint",
			"status": "Done",
			"finished_at": (">=", add_to_date(now_datetime(), minutes=-ENROLMENT_FOLLOWED_MINUTES)),
		},
		fields=[*fields, "device_user_id"],
		order_by="finished_at desc",
	)
	enrolments, devices_done = [], set()
	for command in enrolled:
		if command.device in devices_done:
			continue  # the latest enrolment of each device
		devices_done.add(command.device)
		returned = frappe.db.get_value(
			DEVICE_USER,
			{
				"device": command.device,
				"device_user_id": command.device_user_id,
				"source": ("!=", SOURCE_COMMAND),
				"last_change": (">", command.finished_at),
			},
			"name",
		)
		if not returned:
			enrolments.append(command)
	for command in in_flight + finished + enrolments:
		command.device_label = labels.get(command.device) or command.device
	return {"in_flight": in_flight, "finished": finished, "enrolments": enrolments}
