"""Telling HR Managers what needs them: a device gone silent (once, and once more when it is
back), and a daily summary when the Error or Unmapped backlog grows.

"Once" is kept in the database (the device's Silent Alert Sent, the settings' backlog
figures of the last summary), so a restart or a second worker does not repeat an alert.
Notifications are Notification Log rows (the bell); Frappe e-mails them too to users who
keep e-mail notifications on.
"""

import html
from datetime import datetime, time, timedelta

import frappe
from frappe import _
from frappe.desk.doctype.notification_settings.notification_settings import is_notifications_enabled
from frappe.query_builder.functions import Count
from frappe.utils import cint, escape_html, format_datetime, get_time, now_datetime

from cams_biometric import health
from cams_biometric.constants import DEVICE, ERROR, RAW_PUNCH, SETTINGS, UNMAPPED

HR_MANAGER = "HR Manager"


def hr_managers(device: str | None = None) -> list[str]:
	"""Enabled desk users with the HR Manager role (Administrator included if given it) who
	have not switched notifications off; with ``device``, those who may read it (a User
	Permission on Company keeps another company's devices out of their notifications)."""
	user, has_role = frappe.qb.DocType("User"), frappe.qb.DocType("Has Role")
	users = (
		frappe.qb.from_(user)
		.join(has_role)
		.on((has_role.parent == user.name) & (has_role.parenttype == "User"))
		.select(user.name)
		.distinct()
		.where(
			(has_role.role == HR_MANAGER)
			& (user.enabled == 1)
			& (user.user_type == "System User")
			& (user.name != "Guest")
		)
		.orderby(user.name)
		.run(pluck=True)
	)
	return [
		name
		for name in users
		if is_notifications_enabled(name)
		and (device is None or frappe.has_permission(DEVICE, "read", doc=device, user=name))
	]


def notify(
	subject: str,
	message: str = "",
	document_type: str | None = None,
	document_name=None,
	link=None,
	users: list[str] | None = None,
) -> list[str]:
	"""A bell notification to each of ``users`` (default: the HR Managers); returns them."""
	users = hr_managers() if users is None else users
	for user in users:
		frappe.get_doc(
			{
				"doctype": "Notification Log",
				"for_user": user,
				"type": "Alert",
				"subject": subject,
				"email_content": message or subject,
				"document_type": document_type,
				"document_name": document_name,
				"link": link,
			}
		).insert(ignore_permissions=True)
	return users


# ------------------------------------------------------------------------- silent devices


def working_period_start(now: datetime) -> datetime | None:
	"""Start of today's working hours if ``now`` is within them on a working day, else None."""
	settings = frappe.db.get_value(
		SETTINGS,
		None,
		["alert_holiday_list", "working_hours_from", "working_hours_to"],
		as_dict=True,
	)
	if settings.alert_holiday_list and _is_holiday(settings.alert_holiday_list, now.date()):
		return None
	start = get_time(settings.working_hours_from) if settings.working_hours_from else time.min
	end = get_time(settings.working_hours_to) if settings.working_hours_to else None
	if now.time() < start or (end and now.time() >= end):
		return None
	return datetime.combine(now.date(), start)


def _is_holiday(holiday_list: str, day) -> bool:
	return bool(frappe.db.exists("Holiday", {"parent": holiday_list, "holiday_date": day}))


def silent_in_working_time(device, now: datetime, working_start: datetime, threshold: timedelta) -> bool:
	"""Silent for the threshold counted in today's working time: nobody punching overnight
	or over a weekend is no silence, a device not heard from two working hours is."""
	heard = health.last_heard(device)
	quiet_since = max(heard, working_start) if heard else working_start
	return now - quiet_since > threshold


def check_silent_devices(now: datetime | None = None, devices: list[str] | None = None):
	"""Scheduled: alert each device newly silent in working time, and each one back. (Every
	enabled device; tests narrow ``devices`` to their own.)"""
	now = now or now_datetime()
	threshold = health.silent_after()
	working_start = working_period_start(now)
	for device in health.enabled_devices():
		if devices is not None and device.name not in devices:
			continue
		# Locked and read again: a second run (another worker) must not alert twice.
		sent = frappe.db.get_value(DEVICE, device.name, "silent_alert_sent", for_update=True)
		heard = health.last_heard(device)
		# The bell shows the subject as HTML: the label is text (stored escaped by a form's save).
		label = escape_html(html.unescape(device.device_label or device.name))
		if sent:
			if heard and heard > sent:
				frappe.db.set_value(DEVICE, device.name, "silent_alert_sent", None, update_modified=False)
				notify(
					_("CAMS device {0} is back: heard from at {1}").format(label, format_datetime(heard)),
					document_type=DEVICE,
					document_name=device.name,
					users=hr_managers(device.name),
				)
		elif working_start and silent_in_working_time(device, now, working_start, threshold):
			frappe.db.set_value(DEVICE, device.name, "silent_alert_sent", now, update_modified=False)
			since = format_datetime(heard) if heard else _("never")
			notify(
				_("CAMS device {0} is silent: last heard from {1}").format(label, since),
				_(
					"No punch and no gateway connection from {0} for more than {1} hours of working time."
					" Check its power and network, and that the CAMS API Monitor still has this site's"
					" callback URL. Punches it holds arrive when it is back, or with Load Punchlog."
				).format(label, threshold.total_seconds() / 3600),
				document_type=DEVICE,
				document_name=device.name,
				users=hr_managers(device.name),
			)
		frappe.db.commit()  # nosemgrep: a scheduled job; each device's alert stands by itself


# ------------------------------------------------------------------------- backlog summary


def backlog() -> dict:
	counts = dict(backlog_query().run())
	return {"errors": counts.get(ERROR, 0), "unmapped": counts.get(UNMAPPED, 0)}


def backlog_query():
	raw = frappe.qb.DocType(RAW_PUNCH)
	return (
		frappe.qb.from_(raw)
		.select(raw.status, Count("*"))
		.where(raw.status.isin([ERROR, UNMAPPED]))
		.groupby(raw.status)
	)


def send_backlog_summary():
	"""Daily: tell HR Managers when the Error or Unmapped backlog grew since the last summary."""
	now = backlog()
	before = {
		"errors": cint(frappe.db.get_single_value(SETTINGS, "backlog_errors")),
		"unmapped": cint(frappe.db.get_single_value(SETTINGS, "backlog_unmapped")),
	}
	grew = now["errors"] > before["errors"] or now["unmapped"] > before["unmapped"]
	frappe.db.set_single_value(
		SETTINGS, {"backlog_errors": now["errors"], "backlog_unmapped": now["unmapped"]}
	)
	if not grew:
		return
	lines = [
		_("Error rows: {0} ({1:+d} since the last summary)").format(
			now["errors"], now["errors"] - before["errors"]
		),
		_("Unmapped rows: {0} ({1:+d}), of {2} device user ids").format(
			now["unmapped"], now["unmapped"] - before["unmapped"], unmapped_device_users()
		),
	]
	notify(
		_("CAMS punches waiting: {0} Error, {1} Unmapped").format(now["errors"], now["unmapped"]),
		"<br>".join(lines)
		+ "<br>"
		+ _(
			"Unmapped punches need an Employee with that Attendance Device ID (report Unmapped Device"
			" Users); Error rows say what is wrong in their Error field."
		),
		link="/app/query-report/Unmapped Device Users",
	)


def unmapped_device_users(devices: list[str] | None = None) -> int:
	"""Distinct device user ids with Unmapped rows (of ``devices`` when given): one Attendance
	Device ID maps an id on every device (within the device's company and branch)."""
	return unmapped_device_users_query(devices).run()[0][0] or 0


def unmapped_device_users_query(devices: list[str] | None = None):
	raw = frappe.qb.DocType(RAW_PUNCH)
	query = frappe.qb.from_(raw).select(Count(raw.device_user_id).distinct()).where(raw.status == UNMAPPED)
	if devices is not None:
		query = query.where(raw.device.isin(devices or [""]))
	return query
