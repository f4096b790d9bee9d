# Copyright (c) 2026, cams_biometric contributors
# For license information, please see license.txt

import frappe
from frappe import _
from frappe.model.document import Document


class CAMSAttendancePhoto(Document):
	"""The photo a device took at a punch, encrypted; see cams_biometric.photos."""

	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		device: DF.Link
		device_user_id: DF.Data
		employee: DF.Link | None
		employee_checkin: DF.Link | None
		employee_name: DF.Data | None
		log_time: DF.Data | None
		photo: DF.LongText | None
		photo_key: DF.Data | None
		photo_size: DF.Int
		punch_time: DF.Datetime | None
		raw_punch: DF.Link | None
		received_at: DF.Datetime | None
	# end: auto-generated types

	def before_insert(self):
		# Photos come from the devices (photos.apply_event, which inserts them directly).
		# Nothing else makes one: not a REST POST, an import, nor Restore of a Deleted Document.
		frappe.throw(_("Attendance photos are recorded from what the devices send."), frappe.PermissionError)

	def after_delete(self):
		# Frappe keeps a Deleted Document of the record as it was, once this returns: without
		# the photo, so that deleting one (erasure on request) leaves no copy to restore.
		self.photo = None
