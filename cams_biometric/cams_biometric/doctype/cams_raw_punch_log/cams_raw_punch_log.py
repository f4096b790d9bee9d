# Copyright (c) 2026, cams_biometric contributors
# For license information, please see license.txt

import frappe
from frappe import _
from frappe.model.document import Document
from frappe.utils import add_days, now_datetime

from cams_biometric import photos
from cams_biometric.constants import FINAL_STATUSES, RAW_PUNCH


class CAMSRawPunchLog(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		attempts: DF.Int
		device: DF.Link | None
		device_user_id: DF.Data | None
		employee: DF.Link | None
		employee_checkin: DF.Link | None
		employee_name: DF.Data | None
		error: DF.SmallText | None
		face_mask: DF.Literal["", "Yes", "No"]
		input_type: DF.Data | None
		log_time: DF.Data | None
		operation_id: DF.Data | None
		processed_at: DF.Datetime | None
		punch_key: DF.Data | None
		punch_time: DF.Datetime | None
		punch_type: DF.Data | None
		raw_json: DF.Code | None
		received_at: DF.Datetime | None
		source: DF.Literal["Callback", "LoadLog"]
		status: DF.Literal["Pending", "Processed", "Duplicate", "Unmapped", "Ignored", "Error"]
		temperature: DF.Float
	# end: auto-generated types

	def validate(self):
		# What a device sent is evidence: the callback, Load Punchlog and processing write
		# rows directly, and no one changes one through the document (form, REST, import).
		# Write permission on the doctype is what Reprocess asks for, nothing more; the
		# mapping a person may change is the Employee's Attendance Device ID, which Employee's
		# Versions track.
		if not self.is_new():
			frappe.throw(
				_("A raw punch keeps what the device sent and cannot be changed. Reprocess it instead."),
				frappe.PermissionError,
			)

	def on_trash(self):
		photos.delete_photos_of_punch(self.name)

	@staticmethod
	def clear_old_logs(days: int = 90):
		"""Called by Log Settings. Rows still to be worked on or looked at are kept; the
		attendance photos of the rows purged go with them."""
		table = frappe.qb.DocType(RAW_PUNCH)
		# Frappe's clock, not the database's NOW(): `modified` is written in the site's time
		# zone, which need not be the database server's.
		cutoff = add_days(now_datetime(), -days)
		purged = (table.modified < cutoff) & table.status.isin(FINAL_STATUSES)
		photos.delete_photos_of_purged_punches(
			frappe.qb.from_(table).select(table.name).where(purged), cutoff
		)
		frappe.db.delete(table, filters=purged)


def on_doctype_update():
	# The sweep looks up Unmapped rows by user id (processing.mapped_unmapped_punches).
	frappe.db.add_index(RAW_PUNCH, ["status", "device_user_id"], index_name="status_device_user_id")
	# Device Health and the punches-per-device chart count a device's punches by time.
	frappe.db.add_index(RAW_PUNCH, ["device", "punch_time"], index_name="device_punch_time")
