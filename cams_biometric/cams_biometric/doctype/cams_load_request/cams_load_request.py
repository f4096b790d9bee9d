# Copyright (c) 2026, cams_biometric contributors
# For license information, please see license.txt

import frappe
from frappe import _
from frappe.model.document import Document

from cams_biometric.constants import DEVICE
from cams_biometric.loads import enqueue_page, overlapping_active_load, validate_range


class CAMSLoadRequest(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		device: DF.Link
		duplicates: DF.Int
		error: DF.SmallText | None
		errors: DF.Int
		finished_at: DF.Datetime | None
		from_time: DF.Datetime
		gateway_retries: DF.Int
		loadlog_unavailable: DF.Check
		new_punches: DF.Int
		next_offset: DF.Int
		next_start_time: DF.Datetime | None
		pages_fetched: DF.Int
		progress: DF.Percent
		recoveries: DF.Int
		resend_command: DF.Link | None
		resend_requested_at: DF.Datetime | None
		resumes: DF.Int
		retries: DF.Int
		rows_received: DF.Int
		started_at: DF.Datetime | None
		status: DF.Literal[
			"Queued", "Running", "Completed", "Partially Completed", "Failed", "Resend Requested"
		]
		stop_reason: DF.Data | None
		to_time: DF.Datetime
		unmapped: DF.Int
	# end: auto-generated types

	def onload(self):
		if self.resend_requested_at:
			from cams_biometric.load_resend import punches_arrived

			self.set_onload("resend_punches_arrived", punches_arrived(self))

	def validate(self):
		if not self.is_new():
			return
		if not frappe.db.get_value(DEVICE, self.device, "enabled"):
			frappe.throw(_("Device {0} is disabled.").format(self.device))
		validate_range(self.from_time, self.to_time)
		# Serialise concurrent starts for one device, so two clicks cannot both pass the check.
		frappe.db.get_value(DEVICE, self.device, "name", for_update=True)
		if other := overlapping_active_load(self.device, self.from_time, self.to_time):
			frappe.throw(
				_("{0} is already loading an overlapping range of device {1}; wait for it to finish.").format(
					frappe.bold(other), self.device
				),
				title=_("Load already running"),
			)

	def after_insert(self):
		enqueue_page(self.name)
