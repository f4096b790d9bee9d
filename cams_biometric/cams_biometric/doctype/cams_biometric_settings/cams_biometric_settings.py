# Copyright (c) 2026, cams_biometric contributors
# For license information, please see license.txt

import frappe
from frappe import _
from frappe.model.document import Document
from frappe.utils import add_days, cint, get_url, now_datetime

from cams_biometric import attendance_sync, processing
from cams_biometric.constants import (
	CALLBACK_METHOD,
	DEFAULT_RETENTION_DAYS,
	IGNORED,
	LOG_DOCTYPES,
	MIN_RETENTION_DAYS,
	RAW_PUNCH,
)
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

		alert_holiday_list: DF.Link | None
		backlog_errors: DF.Int
		backlog_unmapped: DF.Int
		enabled: DF.Check
		hold_auto_attendance: DF.Check
		keep_attendance_photos: DF.Check
		keep_biometric_templates: DF.Check
		max_photo_size_kb: DF.Int
		on_employee_leaving: DF.Literal["Disable on devices", "Delete from devices", "Do nothing"]
		punch_type_mapping: DF.Table[CAMSPunchTypeMapping]
		raw_log_retention_days: DF.Int
		restful_endpoint: DF.Data | None
		silent_after_hours: DF.Float
		working_hours_from: DF.Time | None
		working_hours_to: DF.Time | None
	# end: auto-generated types

	def onload(self):
		self.set_onload("callback_url", get_callback_url())
		self.set_onload("http_endpoint_allowed", bool(frappe.conf.get(ALLOW_HTTP_CONF)))

	def validate(self):
		self.add_missing_punch_types()
		self.validate_punch_types()
		self.validate_retention()
		self.validate_photo_size()
		if self.restful_endpoint:
			self.restful_endpoint = self.restful_endpoint.strip()
			# Only a new URL: an http one saved before the rule came must not block every
			# other change; Load Punchlog and device commands refuse to use it (gateway.client_for).
			if self.has_value_changed("restful_endpoint"):
				validate_endpoint(self.restful_endpoint)

	def on_update(self):
		sync_log_retention(cint(self.raw_log_retention_days))
		before = self.get_doc_before_save()
		if self.enabled and before and not before.enabled:
			processing.on_integration_enabled()
		self.offer_to_reprocess_ignored(before)
		if self.hold_auto_attendance and not (before and before.hold_auto_attendance):
			self.offer_to_take_over_shift_types()

	def offer_to_take_over_shift_types(self):
		"""HRMS moves Last Sync of Checkin of shifts with its own automatic update on, without
		waiting for devices; offer to switch it off there so the hold covers them too."""
		names = attendance_sync.shift_types_left_to_hrms()
		if not names:
			return
		frappe.msgprint(
			_(
				"HRMS updates Last Sync of Checkin of {0} by itself, without waiting for late devices."
				" Switch its Automatically update Last Sync of Checkin off there, so that this app keeps it?"
			).format(", ".join(names)),
			title=_("Auto attendance"),
			primary_action={
				"label": _("Let the app keep it"),
				"server_action": "cams_biometric.attendance_sync.take_over_shift_types",
				"args": {},
				"hide_on_success": True,
			},
		)

	def offer_to_reprocess_ignored(self, before):
		"""A punch type switched back on: offer to make the checkins of its Ignored punches."""
		was_on = {
			row.punch_type for row in (before.punch_type_mapping if before else []) if row.create_checkin
		}
		switched_on = [
			row.punch_type
			for row in self.punch_type_mapping
			if row.create_checkin and row.punch_type not in was_on
		]
		if not before or not switched_on:
			return
		count = len(ignored_punches(switched_on, cint(self.raw_log_retention_days)))
		if not count:
			return
		frappe.msgprint(
			_(
				"{0} punches of {1} were ignored while the type was switched off. Make their checkins now?"
			).format(count, ", ".join(switched_on)),
			title=_("Ignored punches"),
			primary_action={
				"label": _("Reprocess {0} punches").format(count),
				"server_action": "cams_biometric.api.reprocess_ignored",
				"args": {"punch_types": switched_on},
				"hide_on_success": True,
			},
		)

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

	def validate_photo_size(self):
		from cams_biometric.photos import MAX_PHOTO_KB

		if self.keep_attendance_photos and not 1 <= cint(self.max_photo_size_kb) <= MAX_PHOTO_KB:
			frappe.throw(
				_(
					"Maximum Photo Size must be between 1 and {0} KB (a callback body holds at most that)."
				).format(MAX_PHOTO_KB)
			)

	def punch_type_rule(self, punch_type: str):
		"""The mapping row of a punch type, or None for a type the table does not know."""
		return next((row for row in self.punch_type_mapping if row.punch_type == punch_type), None)


def ignored_punches(punch_types: list[str], retention_days: int) -> list[str]:
	"""Ignored raw punches of these types still within the raw log's retention window."""
	days = retention_days or DEFAULT_RETENTION_DAYS
	return frappe.get_all(
		RAW_PUNCH,
		filters={
			"status": IGNORED,
			"punch_type": ("in", punch_types),
			"received_at": (">=", add_days(now_datetime(), -days)),
		},
		pluck="name",
		order_by="punch_time asc",
	)


ALLOW_HTTP_CONF = "cams_biometric_allow_http_endpoint"


def endpoint_problem(url: str) -> str | None:
	"""Why the RESTful endpoint may not be used, or None. It receives every device's Auth
	Token: https only, unless site config allows http (tests and the simulator on localhost)."""
	if url.startswith("https://") and len(url) > len("https://"):
		return None
	if url.startswith("http://") and len(url) > len("http://") and frappe.conf.get(ALLOW_HTTP_CONF):
		return None
	return _(
		"The RESTful Endpoint URL must start with https:// (each device's Auth Token is sent to it)."
		" For a local test gateway, set {0} in site config to allow http://."
	).format(ALLOW_HTTP_CONF)


def validate_endpoint(url: str):
	if problem := endpoint_problem(url):
		frappe.throw(problem, title=_("Invalid RESTful Endpoint URL"))


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
