import frappe

from cams_biometric.constants import SETTINGS
from cams_biometric.photos import DEFAULT_MAX_PHOTO_KB


def execute():
	# A Single's new fields start unset on existing sites: photos on, at most 200 KB.
	for field, value in (("keep_attendance_photos", 1), ("max_photo_size_kb", DEFAULT_MAX_PHOTO_KB)):
		if not frappe.db.exists("Singles", {"doctype": SETTINGS, "field": field}):
			frappe.db.set_single_value(SETTINGS, field, value)
