"""The DeviceInformation reply (#13), read into plain values.

The gateway sends every number as a string, spells one key ``ReigsteredFingerprints``, and
gives LastConnectedTime as a LogTime. Keys it leaves out, or values that are not numbers,
come back as None rather than failing the whole reply.
"""

from datetime import datetime

from cams_biometric.protocol.logtime import LogTimeError, parse_logtime
from cams_biometric.protocol.text import plain_text

# our name -> the wire's spellings, the documented one first
COUNTS = {
	"registered_users": ("RegisteredUsers",),
	"registered_faces": ("RegisteredFaces",),
	"registered_fingerprints": ("ReigsteredFingerprints", "RegisteredFingerprints"),
	"maximum_users": ("MaximumUsersSupported",),
	"maximum_faces": ("MaximumFacesSupported",),
	"maximum_fingerprints": ("MaximumFingerprintsSupported",),
	"maximum_attendance_logs": ("MaximumAttendanceLogsSupported",),
}
TEXTS = {
	"device_model": ("DeviceModel",),
	"manufacturer": ("Manufacturer",),
	"mac_address": ("MacAddress",),
}
LAST_CONNECTED = "LastConnectedTime"
MAX_TEXT = 140


def _first(info: dict, keys: tuple[str, ...]):
	for key in keys:
		if info.get(key) not in (None, ""):
			return info[key]
	return None


def _count(value) -> int | None:
	try:
		number = int(str(value).strip())
	except (TypeError, ValueError):
		return None
	return number if number >= 0 else None


def read_device_information(info: dict) -> dict:
	"""The reply's DeviceInformation object as {field: value}; ``last_connected`` is aware."""
	values: dict = {}
	for field, keys in COUNTS.items():
		values[field] = _count(_first(info, keys))
	for field, keys in TEXTS.items():
		text = _first(info, keys)
		values[field] = plain_text(text, MAX_TEXT)
	values["last_connected"] = last_connected(info)
	return values


def last_connected(info: dict) -> datetime | None:
	try:
		return parse_logtime(info.get(LAST_CONNECTED))
	except LogTimeError:
		return None
