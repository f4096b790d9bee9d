"""Rows stored before device strings were made harmless where they enter (protocol.text):
their angle brackets become the same look-alikes, so no stored device string is markup. The
raw JSON of each row keeps the body as sent."""

import frappe
from frappe.query_builder import CustomFunction

from cams_biometric.constants import ATTENDANCE_PHOTO, DEVICE, DEVICE_EVENT, DEVICE_USER, RAW_PUNCH

# The columns that hold a device's strings, or texts quoting them.
DEVICE_TEXT_COLUMNS = {
	RAW_PUNCH: ("device_user_id", "punch_type", "input_type", "log_time", "operation_id", "error"),
	DEVICE_EVENT: ("device_user_id", "event_time", "operation_id", "result"),
	DEVICE_USER: ("device_user_id", "full_name", "user_type", "templates_summary", "last_operation_time"),
	ATTENDANCE_PHOTO: ("device_user_id", "log_time"),
	DEVICE: (
		"reported_serial_number",
		"device_model",
		"manufacturer",
		"mac_address",
		"device_information_error",
	),
}
Replace = CustomFunction("REPLACE", ["text", "old", "new"])


def execute():
	for doctype, columns in DEVICE_TEXT_COLUMNS.items():
		table = frappe.qb.DocType(doctype)
		for column in columns:
			field = table[column]
			(
				frappe.qb.update(table)
				.set(field, Replace(Replace(field, "<", "\u2039"), ">", "\u203a"))
				.where(field.like("%<%") | field.like("%>%"))
				.run()
			)
