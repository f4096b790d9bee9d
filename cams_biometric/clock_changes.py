"""The device clock was changed at the device (ManuallyDateModified, callback #2).

A device stamps each punch with its own clock, so the punches around a change may carry a
wrong time: those before it if the clock was wrong and has been put right, those after it if
it was set wrong. HR Managers are told once per change by a system notification (Notification
Log) that names the device, the new clock value and how far it moved, and links to the raw
punches the device stamped around it. Applied in the callback's transaction; it never fails
the callback: what happened is recorded on the device event.
"""

import html
import json
from datetime import datetime, timedelta
from urllib.parse import urlencode

import frappe
from frappe import _
from frappe.utils import escape_html, format_datetime, get_system_timezone

from cams_biometric import alerts
from cams_biometric.constants import DEVICE, DEVICE_EVENT, RAW_PUNCH
from cams_biometric.failures import log_failure
from cams_biometric.protocol import constants as c
from cams_biometric.protocol.logtime import LogTimeError, parse_logtime, to_local_naive
from cams_biometric.protocol.payload import CallbackEvent

NOTIFIED_ROLE = alerts.HR_MANAGER
# The raw punches linked are those the device stamped within this long of the change, by
# its clock before (OperationTime) and after (ModifiedTo) it.
WINDOW = timedelta(hours=24)
NOTIFICATION = "Notification Log"


def apply_event(device: str, event_name: str, event: CallbackEvent):
	"""Notify HR Managers of a clock change, unless this very change was notified already."""
	if event.event_type != c.EVENT_DATE_MODIFIED:
		return
	savepoint = "cams_clock_change"
	frappe.db.savepoint(savepoint)
	try:
		result = _notify(device, event_name, event.data if isinstance(event.data, dict) else {})
	except Exception:
		frappe.db.rollback(save_point=savepoint)
		log_failure("CAMS clock change: HR Managers could not be notified", DEVICE_EVENT, event_name)
		result = _("HR Managers could not be notified; see the Error Log")
	frappe.db.set_value(DEVICE_EVENT, event_name, "result", result, update_modified=False)


def _notify(device: str, event_name: str, data: dict) -> str:
	modified_to = _text(data.get(c.MODIFIED_TO))
	operation_time = _text(data.get(c.OPERATION_TIME))
	# One device's clock changes one at a time, so that a resend arriving twice at once is
	# notified once. Locking reads below: the other may have committed after our snapshot.
	device_table = frappe.qb.DocType(DEVICE)
	frappe.qb.from_(device_table).select(device_table.name).where(
		device_table.name == device
	).for_update().run()
	if earlier := _notified_before(device, event_name, modified_to):
		return _("Already notified with device event {0}").format(earlier)

	users = alerts.hr_managers(device)
	if not users:
		return _("Nobody to notify: no enabled user has the {0} role").format(NOTIFIED_ROLE)
	start, end = _window(modified_to, operation_time)
	subject, details = _message(device, modified_to, operation_time, start, end)
	link = f"/app/{RAW_PUNCH.lower().replace(' ', '-')}?" + urlencode(
		{"device": device, "punch_time": json.dumps(["Between", [str(start), str(end)]])}
	)
	alerts.notify(subject, details, DEVICE_EVENT, event_name, link, users=users)
	return _("Notified {0}: {1}").format(NOTIFIED_ROLE, ", ".join(users))


def _notified_before(device: str, event_name: str, modified_to) -> str | None:
	"""An earlier device event of the same clock change (device, OperationTime and ModifiedTo)
	that HR Managers were notified of."""
	# The OperationTime as sent, or the body's Time when it has none (ingest.store_event).
	event_time = frappe.db.get_value(DEVICE_EVENT, event_name, "event_time")
	if not modified_to or not event_time:
		return None
	event, notification = frappe.qb.DocType(DEVICE_EVENT), frappe.qb.DocType(NOTIFICATION)
	rows = (
		frappe.qb.from_(event)
		.join(notification)
		.on((notification.document_type == DEVICE_EVENT) & (notification.document_name == event.name))
		.select(event.name, event.raw_json)
		.distinct()
		.where(
			(event.device == device)
			& (event.event_type == c.EVENT_DATE_MODIFIED)
			& (event.name != event_name)
			& (event.event_time == event_time)
		)
		.for_update()
		.run(as_dict=True)
	)
	for row in rows:
		if _modified_to_of(row.raw_json) == modified_to:
			return row.name
	return None


def _modified_to_of(raw_json: str | None):
	try:
		return _text(json.loads(raw_json or "{}")[c.REALTIME][c.DATE_MODIFIED].get(c.MODIFIED_TO))
	except (ValueError, KeyError, TypeError, AttributeError):
		return None


def _text(value) -> str | None:
	if value is None or isinstance(value, dict | list):
		return None
	return str(value).strip()[:140] or None


def _moment(value: str | None) -> datetime | None:
	try:
		return parse_logtime(value) if value else None
	except LogTimeError:
		return None


def _window(modified_to, operation_time) -> tuple[datetime, datetime]:
	"""The punch times (site's time zone) a day either side of the clock before and after."""
	zone = get_system_timezone()
	moments = [to_local_naive(m, zone) for m in (_moment(operation_time), _moment(modified_to)) if m]
	if not moments:
		moments = [frappe.utils.now_datetime().replace(microsecond=0)]
	return min(moments) - WINDOW, max(moments) + WINDOW


def _message(device: str, modified_to, operation_time, start: datetime, end: datetime) -> tuple[str, str]:
	# Frappe stores a Data field's < and > escaped; unescaped first so they are escaped once.
	label = html.unescape(frappe.db.get_value(DEVICE, device, "device_label") or device)
	before, after = _moment(operation_time), _moment(modified_to)
	new_value = escape_html(modified_to or _("(no time sent)"))
	if before and after:
		new_value += " " + _("(moved {0})").format(_describe_shift(after - before))
	subject = _(
		"The clock of device {0} was set to {1}: its punches around then may carry a wrong time"
	).format(f"<b>{escape_html(label)}</b>", new_value)
	stamped = frappe.db.count(
		RAW_PUNCH, {"device": device, "punch_time": ("between", [str(start), str(end)])}
	)
	details = _(
		"Device {0} ({1}) reported that its clock was changed at {2} (device time) to {3}. "
		"{4} raw punches it stamped between {5} and {6} are stored so far; check them, and the "
		"checkins made from them, against the change."
	).format(
		escape_html(label),
		escape_html(device),
		escape_html(operation_time or _("an unknown time")),
		escape_html(modified_to or _("(no time sent)")),
		stamped,
		format_datetime(start),
		format_datetime(end),
	)
	return subject, details


def _describe_shift(shift: timedelta) -> str:
	seconds = int(shift.total_seconds())
	direction = _("forward") if seconds >= 0 else _("back")
	seconds = abs(seconds)
	hours, rest = divmod(seconds, 3600)
	minutes, seconds = divmod(rest, 60)
	parts = [
		_("{0} h").format(hours) if hours else "",
		_("{0} min").format(minutes) if minutes else "",
		_("{0} s").format(seconds) if seconds or not (hours or minutes) else "",
	]
	return f"{direction} {' '.join(p for p in parts if p)}"
