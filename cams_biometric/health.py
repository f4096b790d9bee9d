"""Is each device being heard from? Shared by the Device Health report, the workspace's
number card, the silent-device alerts and the auto-attendance hold, so they all agree.

A device is *heard from* when a punch arrives by callback (Last Punch Received) or the
gateway reports it connected (Last Connected to Gateway): both are written with Frappe's
clock, in the site's time zone, so they compare with now_datetime() and never with
MariaDB's NOW() (the database server's clock and zone).
"""

from datetime import datetime, timedelta

import frappe
from frappe.utils import flt, get_datetime, now_datetime

from cams_biometric.constants import DEVICE, SETTINGS

DEFAULT_SILENT_AFTER_HOURS = 2


def last_heard(device) -> datetime | None:
	"""The later of the device's last callback punch and its last contact with the gateway."""
	times = [get_datetime(t) for t in (device.last_punch_received, device.gateway_last_connected) if t]
	return max(times) if times else None


def enabled_devices() -> list:
	return frappe.get_all(
		DEVICE,
		filters={"enabled": 1},
		fields=[
			"name",
			"device_label",
			"last_punch_received",
			"gateway_last_connected",
			"silent_alert_sent",
		],
		order_by="name asc",
	)


def silent_after() -> timedelta:
	hours = frappe.db.get_single_value(SETTINGS, "silent_after_hours")
	return timedelta(hours=flt(hours) if hours else DEFAULT_SILENT_AFTER_HOURS)


def is_silent(device, now: datetime | None = None, threshold: timedelta | None = None) -> bool:
	"""Not heard from for longer than the threshold (or never): the plain rule of the report
	and the number card. Alerts add working time on top (alerts.silent_in_working_time)."""
	heard = last_heard(device)
	now = now or now_datetime()
	return heard is None or now - heard > (threshold or silent_after())


def silent_devices(now: datetime | None = None) -> list:
	threshold = silent_after()
	return [d for d in enabled_devices() if is_silent(d, now, threshold)]
