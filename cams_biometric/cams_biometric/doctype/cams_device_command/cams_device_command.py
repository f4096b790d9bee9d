# Copyright (c) 2026, cams_biometric contributors
# For license information, please see license.txt

import frappe
from frappe import _
from frappe.model.document import Document
from frappe.utils import add_days, now_datetime


class CAMSDeviceCommand(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		attempts: DF.Int
		device: DF.Link
		device_user_id: DF.Data | None
		employee: DF.Link | None
		error: DF.SmallText | None
		finished_at: DF.Datetime | None
		note: DF.SmallText | None
		operation: DF.Literal[
			"Device Information",
			"Add User",
			"Delete User",
			"Enable User",
			"Disable User",
			"Update Access Time",
			"Enroll Fingerprint",
			"Resend Attendance",
			"Resend All Users",
			"Delete All Users",
			"Delete All Logs",
			"Delete Attendance Photos",
		]
		operation_id: DF.Data | None
		parameters: DF.Code | None
		reply: DF.Code | None
		request: DF.Code | None
		sent_at: DF.Datetime | None
		status: DF.Literal["Queued", "Sent", "Done", "Failed"]
		status_code: DF.Int
		status_meaning: DF.Data | None
	# end: auto-generated types

	def before_insert(self):
		# Only the app's own paths make commands (commands.queue_command, after the checks of
		# whoever asked): a REST POST or an import could name any device, employee or status.
		if not self.flags.from_outbox:
			frappe.throw(
				_(
					"Device commands are sent from the Employee and device forms, or with"
					" cams_biometric.commands.send_command."
				),
				frappe.PermissionError,
			)

	def validate(self):
		if not self.is_new():
			frappe.throw(_("A device command's outcome is written by its job only."), frappe.PermissionError)

	@staticmethod
	def clear_old_logs(days: int = 90):
		"""Called by Log Settings: finished commands go, those still queued or sent stay."""
		table = frappe.qb.DocType("CAMS Device Command")
		# Frappe's clock, not the database's NOW(): see CAMSRawPunchLog.clear_old_logs.
		frappe.db.delete(
			table,
			filters=(table.modified < add_days(now_datetime(), -days))
			& table.status.isin(("Done", "Failed")),
		)
