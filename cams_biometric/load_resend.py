"""Load Punchlog when LoadLog is switched off.

CAMS switches LoadLog off by default while a callback URL is set, so most gateways answer a
LoadLog with StatusCode 15. The load then stops and offers the other way: ResendAttendance
(#33) for the same range, by which the gateway posts those punches to our callback again.
The raw log's unique key keeps each punch once; the load counts the new ones that arrive
for its range.
"""

import frappe
from frappe import _
from frappe.utils import now_datetime

from cams_biometric import arguments, commands
from cams_biometric.constants import RAW_PUNCH

LOAD_REQUEST = "CAMS Load Request"
RESEND_REQUESTED = "Resend Requested"


def offer(doc, error) -> str:
	"""Mark a load stopped by StatusCode 15; returns the message the load shows."""
	doc.db_set("loadlog_unavailable", 1)
	return _(
		"{0}: the gateway has LoadLog switched off for this device (CAMS switches it off while a"
		" callback URL is set). Use Request Resend: the device sends the punches of this range to"
		" the callback URL again, and those not received yet are added. Or ask CAMS support to"
		" enable LoadLog for the device."
	).format(error)


@frappe.whitelist(methods=["POST"])
def request_resend(name: str) -> str:
	"""Send ResendAttendance for the load's range; returns the device command's name."""
	doc = frappe.get_doc(LOAD_REQUEST, arguments.name(name, LOAD_REQUEST, "name"), for_update=True)
	doc.check_permission("write")
	frappe.has_permission(commands.COMMAND, "create", throw=True)
	if not doc.loadlog_unavailable:
		frappe.throw(_("This load did not meet LoadLog switched off; resume it instead."))
	if doc.status == RESEND_REQUESTED:
		frappe.throw(_("A resend is already requested: {0}.").format(doc.resend_command))
	command = commands.queue_command(
		doc.device,
		"Resend Attendance",
		params={"start": str(doc.from_time), "end": str(doc.to_time)},
	)
	doc.db_set(
		{
			"status": RESEND_REQUESTED,
			"resend_command": command,
			"resend_requested_at": now_datetime(),
		}
	)
	return command


def punches_arrived(doc) -> int:
	"""New raw punches of the load's device and range received since the resend was asked."""
	if not doc.resend_requested_at:
		return 0
	table = frappe.qb.DocType(RAW_PUNCH)
	count = frappe.query_builder.functions.Count("*")
	return (
		frappe.qb.from_(table)
		.select(count)
		.where(
			(table.device == doc.device)
			& (table.punch_time >= doc.from_time)
			& (table.punch_time <= doc.to_time)
			& (table.received_at >= doc.resend_requested_at)
		)
		.run()[0][0]
	)
