"""Device Information (#13) on the device form: model, capacity, registered users, faces and
fingerprints, and when the device last reached the gateway. Refreshed by a daily job through
the command outbox, and on demand from the form."""

import frappe
from frappe.utils import add_to_date, get_datetime, get_system_timezone, now_datetime

from cams_biometric.constants import DEVICE, SETTINGS
from cams_biometric.protocol.device_info import COUNTS, read_device_information
from cams_biometric.protocol.logtime import to_local_naive

# A device the gateway has not seen for this long shows as Offline in the device list
# (cams_biometric_device_list.js uses the same number).
OFFLINE_AFTER_HOURS = 24


def store(device: str, info) -> None:
	"""Write a DeviceInformation reply onto the device; a reply without one records why."""
	if not isinstance(info, dict):
		frappe.db.set_value(
			DEVICE,
			device,
			{"device_information_error": "The gateway's reply had no DeviceInformation."},
			update_modified=False,
		)
		return
	values = read_device_information(info)
	# Int columns hold no "unknown": a count the device did not give is 0, and the form hides
	# a zero maximum.
	values = {field: 0 if value is None and field in COUNTS else value for field, value in values.items()}
	moment = values.pop("last_connected")
	values["gateway_last_connected"] = (
		to_local_naive(moment, get_system_timezone()).replace(microsecond=0) if moment else None
	)
	values["device_information_updated"] = now_datetime()
	values["device_information_error"] = None
	frappe.db.set_value(DEVICE, device, values, update_modified=False)


def record_failure(device: str, error: str) -> None:
	frappe.db.set_value(DEVICE, device, {"device_information_error": error}, update_modified=False)


def refresh_all_devices() -> list[str]:
	"""Daily: ask the gateway about every enabled device; returns the commands queued."""
	from cams_biometric.commands import queue_command

	if not frappe.db.get_single_value(SETTINGS, "restful_endpoint"):
		return []  # nothing to ask; the device form says how to set it up
	commands = []
	for device in frappe.get_all(DEVICE, filters={"enabled": 1}, pluck="name"):
		commands.append(queue_command(device, "Device Information"))
	return commands


def is_offline(last_connected) -> bool:
	"""True when the gateway last saw the device longer ago than OFFLINE_AFTER_HOURS."""
	if not last_connected:
		return False  # never asked: unknown, not offline
	return get_datetime(last_connected) < add_to_date(now_datetime(), hours=-OFFLINE_AFTER_HOURS)
