import frappe

from cams_biometric.constants import SETTINGS
from cams_biometric.protocol.constants import PUNCH_TYPES
from cams_biometric.tests.utils import CamsTestCase


class TestSettings(CamsTestCase):
	def tearDown(self):
		frappe.db.rollback()

	def test_every_punch_type_is_mapped_by_default(self):
		settings = frappe.get_single(SETTINGS)
		mapping = {row.punch_type: (row.create_checkin, row.log_type) for row in settings.punch_type_mapping}
		self.assertEqual(set(mapping), set(PUNCH_TYPES))
		for punch_type in ("CheckIn", "BreakIn", "OverTimeIn", "MealIn"):
			self.assertEqual(mapping[punch_type], (1, "IN"))
		for punch_type in ("CheckOut", "BreakOut", "OverTimeOut", "MealOut"):
			self.assertEqual(mapping[punch_type], (1, "OUT"))

	def test_a_type_cannot_be_mapped_twice(self):
		settings = frappe.get_single(SETTINGS)
		settings.append("punch_type_mapping", {"punch_type": "CheckIn", "log_type": "OUT"})
		self.assertRaises(frappe.ValidationError, settings.save)

	def test_retention_is_kept_long_enough_and_synced_to_log_settings(self):
		settings = frappe.get_single(SETTINGS)
		settings.raw_log_retention_days = 7
		self.assertRaises(frappe.ValidationError, settings.save)

		settings = frappe.get_single(SETTINGS)
		settings.raw_log_retention_days = 45
		settings.save()
		days = {row.ref_doctype: row.days for row in frappe.get_single("Log Settings").logs_to_clear}
		self.assertEqual(days.get("CAMS Raw Punch Log"), 45)
		self.assertEqual(days.get("CAMS Device Event"), 45)

	def test_the_callback_url_is_shown(self):
		settings = frappe.get_single(SETTINGS)
		settings.run_method("onload")
		self.assertTrue(
			settings.get_onload().callback_url.endswith("/api/method/cams_biometric.api.callback")
		)
