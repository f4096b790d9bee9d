# Copyright (c) 2026, cams_biometric contributors
# For license information, please see license.txt

import frappe
from frappe import _
from frappe.model.document import Document

from cams_biometric import arguments
from cams_biometric.constants import DEVICE_USER


class CAMSDeviceUser(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		access_enabled: DF.Check
		access_end: DF.Datetime | None
		access_start: DF.Datetime | None
		device: DF.Link
		device_user_id: DF.Data
		directory_key: DF.Data | None
		employee: DF.Link | None
		employee_name: DF.Data | None
		full_name: DF.Data | None
		last_change: DF.Datetime | None
		last_operation_time: DF.Data | None
		source: DF.Literal["Callback", "Command", "Resend"]
		state: DF.LongText | None
		status: DF.Literal["Active", "Deleted"]
		template_count: DF.Int
		template_owner: DF.Link | None
		templates_summary: DF.SmallText | None
		user_type: DF.Data | None
	# end: auto-generated types

	def before_insert(self):
		# Rows come from the device (device_users, which inserts them directly). Nothing else
		# makes one: not a REST POST, an import, nor Restore of a Deleted Document.
		frappe.throw(_("Device users are recorded from what the devices report."), frappe.PermissionError)

	def after_delete(self):
		# Frappe keeps a Deleted Document of the row as it was, once this returns: without the
		# state (names and templates), it keeps nothing biometric that Restore could bring back.
		self.state = None


@frappe.whitelist(methods=["POST"])
def remove_biometric_data(name: str) -> None:
	"""Erase the templates kept for a device user (on request); the device keeps its own."""
	from cams_biometric.device_users import erase_templates

	name = arguments.name(name, DEVICE_USER, "name")
	frappe.get_doc(DEVICE_USER, name).check_permission("delete")
	erase_templates([name], _("removed on request by {0}").format(frappe.session.user))
