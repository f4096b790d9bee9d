# Copyright (c) 2026, cams_biometric contributors
# For license information, please see license.txt

import frappe
from frappe import _
from frappe.model.document import Document
from frappe.utils import cint, get_url

from cams_biometric.constants import CALLBACK_METHOD, LOG_DOCTYPES, MIN_RETENTION_DAYS
from cams_biometric.protocol.constants import DEFAULT_LOG_TYPES, PUNCH_TYPES


class CAMSBiometricSettings(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		from cams_biometric.cams_biometric.doctype.cams_punch_type_mapping.cams_punch_type_mapping import (
			CAMSPunchTypeMapping,
		)

		enabled: DF.Check
		punch_type_mapping: DF.Table[CAMSPunchTypeMapping]
		raw_log_retention_days: DF.Int
		restful_endpoint: DF.Data | None
	# end: auto-generated types

	def onload(self):
		self.set_onload("callback_url", get_callback_url())

	def validate(self):
		self.add_missing_punch_types()
		self.validate_punch_types()
		self.validate_retention()
		if self.restful_endpoint:
			self.restful_endpoint = self.restful_endpoint.strip()
			if not self.restful_endpoint.startswith(("http://", "https://")):
				frappe.throw(_("The RESTful Endpoint URL must start with http:// or https://"))

	def on_update(self):
		sync_log_retention(cint(self.raw_log_retention_days))

	def add_missing_punch_types(self) -> bool:
		"""Append the default row of every punch type the table lacks; True if any was added."""
		present = {row.punch_type for row in self.punch_type_mapping}
		missing = [t for t in PUNCH_TYPES if t not in present]
		for punch_type in missing:
			self.append(
				"punch_type_mapping",
				{"punch_type": punch_type, "create_checkin": 1, "log_type": DEFAULT_LOG_TYPES[punch_type]},
			)
		return bool(missing)

	def validate_punch_types(self):
		seen = set()
		for row in self.punch_type_mapping:
			if row.punch_type in seen:
				frappe.throw(
					_("Row {0}: punch type {1} is mapped twice.").format(row.idx, frappe.bold(row.punch_type))
				)
			seen.add(row.punch_type)

	def validate_retention(self):
		days = cint(self.raw_log_retention_days)
		if days and days < MIN_RETENTION_DAYS:
			frappe.throw(
				_(
					"Keep raw punches for at least {0} days: the gateway can send punches up to 30 days old,"
					" and the raw log is how they are recognised."
				).format(MIN_RETENTION_DAYS)
			)

	def punch_type_rule(self, punch_type: str):
		"""The mapping row of a punch type, or None for a type the table does not know."""
		return next((row for row in self.punch_type_mapping if row.punch_type == punch_type), None)


def get_callback_url() -> str:
	return get_url(f"/api/method/{CALLBACK_METHOD}")


def sync_log_retention(days: int):
	"""Keep Log Settings' purge interval of our logs equal to the settings' retention."""
	if not days:
		return
	log_settings = frappe.get_single("Log Settings")
	for doctype in LOG_DOCTYPES:
		log_settings.register_doctype(doctype, days)
	log_settings.flags.ignore_permissions = True
	log_settings.save()
