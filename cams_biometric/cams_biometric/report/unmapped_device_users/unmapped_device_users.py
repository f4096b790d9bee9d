# Copyright (c) 2026, cams_biometric contributors
# For license information, please see license.txt

"""Device users whose punches wait for an Employee: one row per device and user id, with
the Unmapped raw punches aggregated in SQL (the (status, device_user_id) index), and the
name the device has for the user from the CAMS Device User directory."""

import frappe
from frappe import _
from frappe.query_builder import Order
from frappe.query_builder.functions import Count, Max, Min
from frappe.utils import now_datetime

from cams_biometric import arguments
from cams_biometric.constants import DEVICE, DEVICE_USER, RAW_PUNCH, UNMAPPED
from cams_biometric.device_scope import restricted_devices


def execute(filters: dict | None = None):
	filters = frappe._dict(filters or {})
	return columns(), data(filters)


def columns() -> list[dict]:
	return [
		{"fieldname": "device_user_id", "label": _("Device User ID"), "fieldtype": "Data", "width": 120},
		# The action next to the id it acts on, not off-screen to the right.
		{"fieldname": "action", "label": _("Action"), "fieldtype": "Data", "width": 150},
		{"fieldname": "name_on_device", "label": _("Name on the Device"), "fieldtype": "Data", "width": 160},
		{"fieldname": "device", "label": _("Device"), "fieldtype": "Link", "options": DEVICE, "width": 130},
		{"fieldname": "device_label", "label": _("Device Label"), "fieldtype": "Data", "width": 120},
		{"fieldname": "punches_waiting", "label": _("Punches Waiting"), "fieldtype": "Int", "width": 120},
		{"fieldname": "first_seen", "label": _("First Seen"), "fieldtype": "Datetime", "width": 160},
		{"fieldname": "last_seen", "label": _("Last Seen"), "fieldtype": "Datetime", "width": 160},
		{"fieldname": "reason", "label": _("Why Unmapped"), "fieldtype": "Data", "width": 300},
	]


def data(filters) -> list[dict]:
	rows = unmapped_query(filters).run(as_dict=True)
	if not rows:
		return []

	names = device_user_names({(r.device, r.device_user_id) for r in rows})
	labels = dict(
		frappe.get_all(
			DEVICE,
			filters={"name": ("in", {r.device for r in rows})},
			fields=["name", "device_label"],
			as_list=True,
		)
	)
	for row in rows:
		row.name_on_device = names.get((row.device, row.device_user_id))
		row.device_label = labels.get(row.device)
	return rows


def unmapped_query(filters):
	raw = frappe.qb.DocType(RAW_PUNCH)
	query = (
		frappe.qb.from_(raw)
		.select(
			raw.device_user_id,
			raw.device,
			Count("*").as_("punches_waiting"),
			Min(raw.punch_time).as_("first_seen"),
			Max(raw.punch_time).as_("last_seen"),
			# The rows of one user differ only when an Employee of another company or branch
			# has the id; any one reason points the way.
			Max(raw.error).as_("reason"),
		)
		.where(raw.status == UNMAPPED)
		.groupby(raw.device, raw.device_user_id)
		.orderby("punches_waiting", order=Order.desc)
	)
	if filters.device:
		query = query.where(raw.device == filters.device)
	devices = restricted_devices()  # a User Permission on Company reaches the devices' punches
	if devices is not None:
		query = query.where(raw.device.isin(devices or [""]))
	if filters.load_request:
		# Raw rows record the load that stored them (load_request, indexed). A punch that the
		# callback had stored first keeps the callback as its source and no load.
		query = query.where(raw.load_request == filters.load_request)
	if filters.device_user_id:
		query = query.where(raw.device_user_id == filters.device_user_id.strip())
	return query


def device_user_names(pairs: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
	"""{(device, user id): the name the device has for the user}, where the directory knows it."""
	found = frappe.get_all(
		DEVICE_USER,
		filters={"device_user_id": ("in", {user_id for _device, user_id in pairs})},
		fields=["device", "device_user_id", "full_name"],
	)
	return {
		(row.device, row.device_user_id): row.full_name
		for row in found
		if row.full_name and (row.device, row.device_user_id) in pairs
	}


@frappe.whitelist(methods=["POST"])
def map_device_user(
	employee: str, device_user_id: str, device: str | None = None, replace_id: str | None = None
) -> dict:
	"""Give an Employee this Attendance Device ID. Saving the Employee queues the pickup of
	the punches waiting for it (processing.on_employee_update), which makes their checkins.

	An Employee who has another id keeps it unless ``replace_id`` names it: the person said
	yes to replacing it (mapping.forecast tells them). Returns ``since``, from which
	mapping.outcome counts what the waiting punches became."""
	device_user_id = arguments.user_id(device_user_id, "device_user_id")
	employee = arguments.name(employee, "Employee", "employee")
	device = arguments.name(device, DEVICE, "device", required=False)
	replace_id = arguments.user_id(replace_id, "replace_id", required=False)
	doc = frappe.get_doc("Employee", employee)
	doc.check_permission("write")
	if doc.attendance_device_id and doc.attendance_device_id not in (device_user_id, replace_id):
		frappe.throw(
			_(
				"{0} already has Attendance Device ID {1}. Change it on the Employee if the device user"
				" {2} is really them (their punches as {1} would then wait in turn)."
			).format(frappe.bold(doc.employee_name or doc.name), doc.attendance_device_id, device_user_id),
			title=_("Attendance Device ID already set"),
		)
	other = frappe.db.get_value(
		"Employee", {"attendance_device_id": device_user_id, "name": ("!=", doc.name)}, "name"
	)
	if other:
		frappe.throw(
			_("Attendance Device ID {0} belongs to {1} already.").format(device_user_id, other),
			title=_("Attendance Device ID taken"),
		)

	waiting = frappe.db.count(RAW_PUNCH, {"status": UNMAPPED, "device_user_id": device_user_id})
	since = now_datetime()
	doc.attendance_device_id = device_user_id
	doc.save()
	# What the punches of a device of another company or branch do (stay Unmapped) was said
	# before (mapping.forecast) and is counted after (mapping.outcome).
	return {"employee": doc.name, "waiting": waiting, "since": str(since)}
