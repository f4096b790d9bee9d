# Copyright (c) 2026, cams_biometric contributors
# For license information, please see license.txt

import frappe
from frappe.model.document import Document
from frappe.utils import add_days, now_datetime

from cams_biometric.constants import DEVICE_EVENT


class CAMSDeviceEvent(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		device: DF.Link | None
		device_user_id: DF.Data | None
		event_time: DF.Data | None
		event_type: DF.Literal[
			"Attendance Photo", "User Updated", "User Deleted", "Date Modified", "Command Reply", "Unknown"
		]
		operation_id: DF.Data | None
		raw_json: DF.Code | None
		received_at: DF.Datetime | None
		result: DF.SmallText | None
	# end: auto-generated types

	@staticmethod
	def clear_old_logs(days: int = 90):
		"""Called by Log Settings."""
		table = frappe.qb.DocType(DEVICE_EVENT)
		# Frappe's clock, not the database's NOW(): see CAMSRawPunchLog.clear_old_logs.
		frappe.db.delete(table, filters=table.modified < add_days(now_datetime(), -days))
