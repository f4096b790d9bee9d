# Copyright (c) 2026, cams_biometric contributors
# For license information, please see license.txt

"""Punches per day over the last week, one dataset per device (the busiest ones; the rest
summed as Other), counted in SQL over the (device, punch_time) index."""

from datetime import datetime, timedelta

import frappe
from frappe import _
from frappe.query_builder.functions import Count, Date
from frappe.utils import formatdate, getdate, now_datetime
from frappe.utils.dashboard import cache_source

from cams_biometric import arguments
from cams_biometric.constants import DEVICE, RAW_PUNCH
from cams_biometric.device_scope import readable_devices

MAX_DEVICES = 8
MAX_DAYS = 93
# What Frappe's chart widget may send (Dashboard Chart's options).
TIMESPANS = ("Last Year", "Last Quarter", "Last Month", "Last Week", "Select Date Range")
TIME_INTERVALS = ("Yearly", "Quarterly", "Monthly", "Weekly", "Daily")


@frappe.whitelist()
def get(
	chart_name: str | None = None,
	chart: dict | str | None = None,
	no_cache: int | str | None = None,
	filters: dict | str | None = None,
	from_date: str | None = None,
	to_date: str | None = None,
	timespan: str | None = None,
	time_interval: str | None = None,
	heatmap_year: int | str | None = None,
	refresh: int | str | None = None,
) -> dict:
	"""The chart's data; read from the cache that Frappe keeps per Dashboard Chart."""
	frappe.has_permission(RAW_PUNCH, "read", throw=True)
	filters = arguments.filters(filters)
	days = filters.get("days") if isinstance(filters, dict) else None
	days = arguments.integer(days, "days", 1, MAX_DAYS, 7)
	arguments.name(chart_name, "Dashboard Chart", "chart_name", required=False)
	# Frappe's chart widget sends these too; this chart is always the last week.
	arguments.moment(from_date, "from_date", required=False)
	arguments.moment(to_date, "to_date", required=False)
	arguments.choice(timespan, TIMESPANS, "timespan", required=False)
	arguments.choice(time_interval, TIME_INTERVALS, "time_interval", required=False)
	arguments.integer(heatmap_year, "heatmap_year", 1900, 9999, default=0)
	no_cache, refresh = arguments.flag(no_cache, "no_cache"), arguments.flag(refresh, "refresh")
	if not chart_name:
		chart = arguments.json_object(chart, "chart")
		if not chart.get("name"):  # no chart to cache it for
			return punches_per_device(days)
	return _cached(
		chart_name=chart_name,
		chart=chart,
		no_cache=no_cache,
		filters={"days": days},
		refresh=refresh,
	)


@cache_source
def _cached(chart_name=None, chart=None, no_cache=None, filters=None, **ignored) -> dict:
	return punches_per_device((filters or {}).get("days") or 7)


def punches_per_device(days: int, now: datetime | None = None) -> dict:
	today = getdate(now or now_datetime())
	first = today - timedelta(days=days - 1)
	# Per device, so that the (device, punch_time) index reads only the week's rows; only the
	# devices this user may read (a User Permission on Company included).
	devices = readable_devices()
	rows = punches_per_day_query(devices, first, today).run(as_dict=True) if devices else []
	dates = [first + timedelta(days=i) for i in range(days)]
	per_device: dict[str, dict] = {}
	for row in rows:
		per_device.setdefault(row.device, {})[getdate(row.day)] = row.punches
	busiest = sorted(per_device, key=lambda device: -sum(per_device[device].values()))
	labels = dict(
		frappe.get_all(
			DEVICE, filters={"name": ("in", busiest or [""])}, fields=["name", "device_label"], as_list=True
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
