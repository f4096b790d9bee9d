import frappe

from cams_biometric.constants import SETTINGS


def execute():
	# A Single's new Check field starts unset (0) on existing sites; its default is on.
	if not frappe.db.exists("Singles", {"doctype": SETTINGS, "field": "keep_biometric_templates"}):
		frappe.db.set_single_value(SETTINGS, "keep_biometric_templates", 1)
