"""What the CAMS Biometric workspace shows: its number cards that need logic, and the setup
block that leads a new admin from no device to checkins."""

import frappe
from frappe import _

from cams_biometric import alerts, arguments, health
from cams_biometric.cams_biometric.doctype.cams_biometric_settings.cams_biometric_settings import (
	get_callback_url,
)
from cams_biometric.constants import DEVICE, RAW_PUNCH, SETTINGS, UNMAPPED
from cams_biometric.device_scope import restricted_devices


@frappe.whitelist()
def unmapped_device_users_card(filters: dict | str | None = None) -> dict:
	"""Number card: device user ids whose punches wait for an Employee."""
	frappe.has_permission(RAW_PUNCH, "read", throw=True)
	arguments.filters(filters)
	return {
		"value": alerts.unmapped_device_users(restricted_devices()),
		"fieldtype": "Int",
		"route": ["query-report", "Unmapped Device Users"],
	}


@frappe.whitelist()
def silent_devices_card(filters: dict | str | None = None) -> dict:
	"""Number card: enabled devices not heard from for longer than the settings' threshold."""
	frappe.has_permission(DEVICE, "read", throw=True)
	arguments.filters(filters)
	devices = restricted_devices()
	silent = [d for d in health.silent_devices() if devices is None or d.name in devices]
	return {
		"value": len(silent),
		"fieldtype": "Int",
		"route": ["query-report", "Device Health"],
	}


@frappe.whitelist()
def setup_state() -> dict:
	"""The setup steps still to do, in order, each with where to do it. Computed from the data
	(not ticked by hand), so the block disappears by itself once punches become checkins."""
	frappe.has_permission(DEVICE, "read", throw=True)
	has_device = _any(DEVICE)
	has_punch = _any(RAW_PUNCH)
	has_mapped = _any("Employee", {"attendance_device_id": ("is", "set")})
	has_unmapped = has_punch and _any(RAW_PUNCH, {"status": UNMAPPED})
	steps = [
		{
			"key": "device",
			"done": has_device,
			"title": _("Add your first device"),
			"description": _(
				"One CAMS Biometric Device per attendance device: its Service Tag ID and the AuthToken"
				" set for it in the CAMS API Monitor."
			),
			"action": _("Add a device"),
			"route": ["Form", DEVICE, "new"],
		},
		{
			"key": "callback",
			"done": has_punch,
			"title": _("Paste the callback URL into the CAMS API Monitor"),
			"description": _(
				"For each device set this Callback URL, with ?stgid=<Service Tag ID> added: {0}."
				" The first punch at a device then arrives here within seconds."
			).format(get_callback_url()),
			"action": _("Open the settings"),
			"route": ["Form", SETTINGS],
		},
		{
			"key": "employees",
			"done": has_mapped,
			"title": _("Set Attendance Device IDs on your Employees"),
			"description": _(
				"A punch becomes an Employee Checkin once an Employee has its user id as Attendance"
				" Device ID. Punches that arrived before wait for it (Unmapped)."
			),
			"action": _("Map device users") if has_unmapped else _("Open Employees"),
			"route": ["query-report", "Unmapped Device Users"] if has_unmapped else ["List", "Employee"],
		},
	]
	enabled = bool(frappe.db.get_single_value(SETTINGS, "enabled"))
	if not enabled:
		steps.insert(
			0,
			{
				"key": "enabled",
				"done": False,
				"title": _("Switch the integration on"),
				"description": _(
					"It is off: punches are stored but make no checkins until it is switched on."
				),
				"action": _("Open the settings"),
				"route": ["Form", SETTINGS],
			},
		)
	return {"complete": all(step["done"] for step in steps), "steps": steps}


def _any(doctype: str, filters: dict | None = None) -> bool:
	return bool(frappe.get_all(doctype, filters=filters or {}, pluck="name", limit=1))
