# Copyright (c) 2026, cams_biometric contributors
# For license information, please see license.txt

"""Punches per day over the last week, one dataset per device (the busiest ones; the rest
summed as Other), counted in SQL over the (device, punch_time) index."""

from datetime import datetime, timedelta

import frappe
from frappe import _
from frappe.query_builder.functions import Count, Date
from frappe.utils import cint, formatdate, getdate, now_datetime
from frappe.utils.dashboard import cache_source

from cams_biometric.constants import DEVICE, RAW_PUNCH

MAX_DEVICES = 8


@frappe.whitelist()
@cache_source
def get(
	chart_name=None,
	chart=None,
	no_cache=None,
	filters=None,
	from_date=None,
	to_date=None,
	timespan=None,
	time_interval=None,
	heatmap_year=None,
) -> dict:
	frappe.has_permission(RAW_PUNCH, "read", throw=True)
	filters = frappe.parse_json(filters) or {}
	return punches_per_device(cint(filters.get("days")) or 7)


def punches_per_device(days: int, now: datetime | None = None) -> dict:
	today = getdate(now or now_datetime())
	first = today - timedelta(days=days - 1)
	# Per device, so that the (device, punch_time) index reads only the week's rows.
	devices = frappe.get_all(DEVICE, pluck="name")
	rows = punches_per_day_query(devices, first, today).run(as_dict=True) if devices else []
	dates = [first + timedelta(days=i) for i in range(days)]
	per_device: dict[str, dict] = {}
	for row in rows:
		per_device.setdefault(row.device, {})[getdate(row.day)] = row.punches
	busiest = sorted(per_device, key=lambda device: -sum(per_device[device].values()))
	labels = dict(
		frappe.get_all(
			DEVICE, filters={"name": ("in", busiest)}, fields=["name", "device_label"], as_list=True
		)
	)
	datasets = [
		{
			"name": labels.get(device) or device,
			"values": [per_device[device].get(date, 0) for date in dates],
		}
		for device in busiest[:MAX_DEVICES]
	]
	if rest := busiest[MAX_DEVICES:]:
		datasets.append(
			{
				"name": _("Other devices"),
				"values": [sum(per_device[device].get(date, 0) for device in rest) for date in dates],
			}
		)
	if not datasets:
		# A week without punches (a new site): one row of zeros. Frappe Charts' stacked bars
		# throw on no dataset at all, which left the workspace's chart blank.
		datasets = [{"name": _("Punches"), "values": [0] * days}]
	return {"labels": [formatdate(date) for date in dates], "datasets": datasets}


def punches_per_day_query(devices: list[str], first, last):
	"""Punches per device and day from ``first`` to ``last`` (dates, site time)."""
	raw = frappe.qb.DocType(RAW_PUNCH)
	day = Date(raw.punch_time)
	return (
		frappe.qb.from_(raw)
		.select(raw.device, day.as_("day"), Count("*").as_("punches"))
		.where(
			raw.device.isin(devices)
			& (raw.punch_time >= datetime.combine(first, datetime.min.time()))
			& (raw.punch_time < datetime.combine(last + timedelta(days=1), datetime.min.time()))
		)
		.groupby(raw.device, day)
	)
