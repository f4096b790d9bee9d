"""What belongs to a device (its punches, events, users, commands, photos, loads) is read by
those who may read the device.

None of these doctypes links to Company, so a User Permission on Company (or on CAMS Biometric
Device) would not reach them by itself: an HR Manager of one company saw another's punches in
lists, reports, number cards and the chart while the device itself answered 403. The hooks
here (permission_query_conditions and has_permission, see hooks.DEVICE_SCOPED) carry the
device's permission over to every record of it; reports and charts that aggregate in SQL
restrict themselves to readable_devices().
"""

import frappe

from cams_biometric.constants import DEVICE


def readable_devices(user: str | None = None, filters: dict | None = None) -> list[str]:
	"""The devices ``user`` may read (role and User Permissions), by name."""
	return frappe.get_list(
		DEVICE, filters=filters or {}, pluck="name", user=user, order_by="name asc", limit_page_length=0
	)


def restricted_devices(user: str | None = None) -> list[str] | None:
	"""The devices ``user`` may read, or None when they may read every device."""
	user = user or frappe.session.user
	if user == "Administrator":
		return None
	try:
		readable = readable_devices(user)
	except frappe.PermissionError:
		return []
	if len(readable) == frappe.db.count(DEVICE):
		return None
	return readable


def query_conditions(user: str | None = None, doctype: str | None = None) -> str:
	"""permission_query_conditions: only the records of devices the user may read."""
	devices = restricted_devices(user)
	if devices is None:
		return ""
	column = f"`tab{doctype}`.`device`"
	if not devices:
		return f"{column} is null"
	return f"({column} is null or {column} in ({', '.join(frappe.db.escape(d) for d in devices)}))"


def has_permission(doc, ptype: str | None = None, user: str | None = None, debug: bool = False):
	"""has_permission: a record of a device the user may not read is not theirs to see or touch."""
	device = doc.get("device")
	if not device or not frappe.db.exists(DEVICE, device):
		return None
	if not frappe.has_permission(DEVICE, "read", doc=device, user=user):
		return False
	return None
