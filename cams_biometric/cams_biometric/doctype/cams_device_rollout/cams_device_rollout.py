# Copyright (c) 2026, cams_biometric contributors
# For license information, please see license.txt

import frappe
from frappe import _
from frappe.model.document import Document


class CAMSDeviceRollout(Document):
	"""Made by rollouts.enrol_employees and rollouts.replace_device; written by its job."""

	def validate(self):
		if self.is_new() and not self.flags.from_rollout:
			frappe.throw(_("Start a rollout from the device's form (Enrol Employees, Replace Device)."))
