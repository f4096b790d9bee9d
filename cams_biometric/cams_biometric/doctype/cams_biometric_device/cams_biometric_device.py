# Copyright (c) 2026, cams_biometric contributors
# For license information, please see license.txt

import re

import frappe
from frappe import _
from frappe.model.document import Document

from cams_biometric import arguments
from cams_biometric.auth_failures import clear_device_failures, device_failures
from cams_biometric.constants import DEVICE
from cams_biometric.protocol.constants import MAX_SERVICE_TAG_LENGTH


class CAMSBiometricDevice(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		aes_key_derivation: DF.Data | None
		auth_token: DF.Password
		branch: DF.Link | None
		company: DF.Link | None
		device_information_error: DF.SmallText | None
		device_information_updated: DF.Datetime | None
		device_label: DF.Data | None
		device_model: DF.Data | None
		enabled: DF.Check
		gateway_last_connected: DF.Datetime | None
		last_punch_received: DF.Datetime | None
		latitude: DF.Float
		longitude: DF.Float
		mac_address: DF.Data | None
		manufacturer: DF.Data | None
		maximum_attendance_logs: DF.Int
		maximum_faces: DF.Int
		maximum_fingerprints: DF.Int
		maximum_users: DF.Int
		registered_faces: DF.Int
		registered_fingerprints: DF.Int
		registered_users: DF.Int
		reported_serial_number: DF.Data | None
		security_key: DF.Password | None
		serial_number: DF.Data | None
		service_tag_id: DF.Data
		silent_alert_sent: DF.Datetime | None
	# end: auto-generated types

	def onload(self):
		if frappe.has_permission(self.doctype, "write", self):
			self.set_onload("auth_failures", device_failures(self.name))

	def validate(self):
		self.service_tag_id = (self.service_tag_id or "").strip()
		if not re.fullmatch(rf"[A-Za-z0-9._-]{{1,{MAX_SERVICE_TAG_LENGTH}}}", self.service_tag_id):
			frappe.throw(
				_(
					"The Service Tag ID may only hold letters, digits, dots, dashes and underscores (at most {0})."
				).format(MAX_SERVICE_TAG_LENGTH)
			)
		self.serial_number = (self.serial_number or "").strip() or None
		if self.reported_serial_number and self.serial_number in (None, self.reported_serial_number):
			self.reported_serial_number = None  # corrected (or cleared): the mismatch is settled
		self.validate_auth_token()
		self.validate_coordinates()
		if self.security_key is not None and not self.is_dummy_password(self.security_key):
			# A new key (or none) must be learnt again from the next encrypted body.
			self.aes_key_derivation = None

	def validate_auth_token(self):
		if self.auth_token and not self.is_dummy_password(self.auth_token):
			self.auth_token = self.auth_token.strip()
			if len(self.auth_token) < 16:
				frappe.throw(
					_("The Auth Token looks too short: copy the whole token from the CAMS API Monitor.")
				)

	def validate_coordinates(self):
		if bool(self.latitude) != bool(self.longitude):
			frappe.throw(_("Set both latitude and longitude, or neither."))
		if self.latitude and not -90 <= self.latitude <= 90:
			frappe.throw(_("Latitude must be between -90 and 90."))
		if self.longitude and not -180 <= self.longitude <= 180:
			frappe.throw(_("Longitude must be between -180 and 180."))


@frappe.whitelist(methods=["POST"])
def clear_auth_failures(device: str) -> None:
	"""Forget a device's failed authentications, e.g. once its token is fixed."""
	device = arguments.name(device, DEVICE, "device")
	frappe.get_doc(DEVICE, device).check_permission("write")
	clear_device_failures(device)
