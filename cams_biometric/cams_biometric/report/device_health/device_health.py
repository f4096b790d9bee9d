# Copyright (c) 2026, cams_biometric contributors
# For license information, please see license.txt

"""One row per device: when it was last heard from, what it sent today and this week, what
waits (Pending, Unmapped, Error), whether it is silent, and which shift's auto attendance it
holds back. Counts are aggregated in SQL over the (device, punch_time) and status indexes."""

from datetime import datetime, timedelta

import frappe
from frappe import _
from frappe.query_builder import Case
from frappe.query_builder.functions import Count, Max, Sum
from frappe.utils import get_first_day_of_week, getdate, now_datetime

from cams_biometric import attendance_sync, health
from cams_biometric.constants import DEVICE, ERROR, PENDING, RAW_PUNCH, UNMAPPED


def execute(filters: dict | None = None):
	filters = frappe._dict(filters or {})
	now = now_datetime()
	rows = data(filters, now)
	return columns(), rows, message(), None, summary(rows)


def columns() -> list[dict]:
	return [
		{"fieldname": "device", "label": _("Device"), "fieldtype": "Link", "options": DEVICE, "width": 130},
		{"fieldname": "device_label", "label": _("Label"), "fieldtype": "Data", "width": 120},
		{"fieldname": "enabled", "label": _("Enabled"), "fieldtype": "Check", "width": 70},
		# Replace Device: the swap, both ways (the old device shows with Include Disabled).
		{
			"fieldname": "replaces",
			"label": _("Replaces"),
			"fieldtype": "Link",
			"options": DEVICE,
			"width": 120,
		},
		{
			"fieldname": "replaced_by",
			"label": _("Replaced By"),
			"fieldtype": "Link",
			"options": DEVICE,
			"width": 120,
		},
		{"fieldname": "replaced_on", "label": _("Replaced On"), "fieldtype": "Datetime", "width": 150},
		{"fieldname": "silent", "label": _("Silent"), "fieldtype": "Check", "width": 70},
		{"fieldname": "silent_hours", "label": _("Silent For (hours)"), "fieldtype": "Float", "width": 110},
		{
			"fieldname": "last_punch_received",
			"label": _("Last Punch Received"),
			"fieldtype": "Datetime",
			"width": 160,
		},
		{
			"fieldname": "gateway_last_connected",
			"label": _("Last Seen by Gateway"),
			"fieldtype": "Datetime",
			"width": 160,
		},
		{
			"fieldname": "latest_punch_time",
			"label": _("Latest Punch Time"),
			"fieldtype": "Datetime",
			"width": 160,
		},
		{"fieldname": "punches_today", "label": _("Punches Today"), "fieldtype": "Int", "width": 100},
		{"fieldname": "punches_this_week", "label": _("Punches This Week"), "fieldtype": "Int", "width": 120},
		{"fieldname": "pending", "label": _("Pending"), "fieldtype": "Int", "width": 80},
		{"fieldname": "unmapped", "label": _("Unmapped"), "fieldtype": "Int", "width": 90},
		{"fieldname": "errors", "label": _("Error"), "fieldtype": "Int", "width": 70},
		{
			"fieldname": "silent_alert_sent",
			"label": _("Silent Alert Sent"),
			"fieldtype": "Datetime",
			"width": 160,
		},
		{
			"fieldname": "attendance_hold",
			"label": _("Holds Auto Attendance"),
			"fieldtype": "Data",
			"width": 400,
		},
	]


def data(filters, now: datetime) -> list[dict]:
	device_filters = {} if filters.include_disabled else {"enabled": 1}
	if filters.device:
		device_filters["name"] = filters.device
	# get_list: the devices this user may read (a User Permission on Company included).
	devices = frappe.get_list(
		DEVICE,
		filters=device_filters,
		fields=[
			"name as device",
			"device_label",
			"enabled",
			"last_punch_received",
			"gateway_last_connected",
			"silent_alert_sent",
			"replaces",
			"replaced_by",
			"replaced_on",
		],
		order_by="name asc",
		limit_page_length=0,
	)
	if not devices:
		return []
	names = [d.device for d in devices]
	punches = punch_counts(names, now)
	waiting = waiting_counts(names)
	holds = attendance_holds()
	threshold = health.silent_after()
	for row in devices:
		heard = health.last_heard(frappe._dict(row))
		row.silent = int(row.enabled and health.is_silent(frappe._dict(row), now, threshold))
		row.silent_hours = round((now - heard).total_seconds() / 3600, 1) if heard and row.silent else None
		row.update(punches.get(row.device, {}))
		row.update(waiting.get(row.device, {}))
		for field in ("punches_today", "punches_this_week", "pending", "unmapped", "errors"):
			row[field] = row.get(field) or 0
		row.setdefault("latest_punch_time", None)
		row.attendance_hold = "; ".join(holds.get(row.device, []))
	return devices


def punch_counts(devices: list[str], now: datetime) -> dict[str, dict]:
	"""Punches by punch time (the device's own clock, in site time): today's, this week's
	(from the first day of the week of System Settings) and the latest one."""
	counts: dict[str, dict] = {}
	rows = [*recent_query(devices, now).run(as_dict=True), *latest_query(devices).run(as_dict=True)]
	for row in rows:
		counts.setdefault(row.pop("device"), {}).update(row)
	return counts


def recent_query(devices: list[str], now: datetime):
	raw = frappe.qb.DocType(RAW_PUNCH)
	today = datetime.combine(getdate(now), datetime.min.time())
	week = datetime.combine(get_first_day_of_week(today), datetime.min.time())
	return (
		frappe.qb.from_(raw)
		.select(
			raw.device,
			Sum(Case().when(raw.punch_time >= today, 1).else_(0)).as_("punches_today"),
			Count("*").as_("punches_this_week"),
		)
		.where(
			raw.device.isin(devices) & (raw.punch_time >= week) & (raw.punch_time < today + timedelta(days=1))
		)
		.groupby(raw.device)
	)


def latest_query(devices: list[str]):
	raw = frappe.qb.DocType(RAW_PUNCH)
	return (
		frappe.qb.from_(raw)
		.select(raw.device, Max(raw.punch_time).as_("latest_punch_time"))
		.where(raw.device.isin(devices))
		.groupby(raw.device)
	)


WAITING_FIELDS = {PENDING: "pending", UNMAPPED: "unmapped", ERROR: "errors"}


def waiting_counts(devices: list[str]) -> dict[str, dict]:
	counts: dict[str, dict] = {}
	for row in waiting_query(devices).run(as_dict=True):
		counts.setdefault(row.device, {})[WAITING_FIELDS[row.status]] = row.count
	return counts


def waiting_query(devices: list[str]):
	raw = frappe.qb.DocType(RAW_PUNCH)
	return (
		frappe.qb.from_(raw)
		.select(raw.device, raw.status, Count("*").as_("count"))
		.where(raw.status.isin(list(WAITING_FIELDS)) & raw.device.isin(devices))
		.groupby(raw.device, raw.status)
	)


def attendance_holds() -> dict[str, list[str]]:
	if not attendance_sync.is_enabled():
		return {}
	return attendance_sync.holds_by_device(attendance_sync.plan())


def message() -> str | None:
	"""Which shifts the auto-attendance hold covers, and which HRMS moves by itself."""
	if not attendance_sync.is_enabled():
		return None
	left = attendance_sync.shift_types_left_to_hrms()
	if not left:
		return None
	return _(
		"HRMS updates Last Sync of Checkin of {0} by itself (Automatically update Last Sync of Checkin"
		" is on), so their auto attendance does not wait for late devices."
	).format(", ".join(frappe.utils.escape_html(name) for name in left))


def summary(rows: list[dict]) -> list[dict]:
	silent = sum(1 for row in rows if row.silent)
	holding = sum(1 for row in rows if row.attendance_hold)
	return [
		{"value": len(rows), "label": _("Devices"), "datatype": "Int"},
		{"value": silent, "label": _("Silent"), "datatype": "Int", "indicator": "Red" if silent else "Green"},
		{
			"value": holding,
			"label": _("Holding Auto Attendance"),
			"datatype": "Int",
			"indicator": "Orange" if holding else "Green",
		},
	]
