"""What the desk gets from the server: the scripts each doctype brings, and the connections
this app adds to HRMS' Employee Checkin form."""

from datetime import datetime, timedelta, timezone

import frappe
from frappe.desk.form.meta import get_meta as get_form_meta
from frappe.desk.notifications import get_open_count

from cams_biometric import processing
from cams_biometric.constants import CHECKIN, DEVICE, RAW_PUNCH, SETTINGS
from cams_biometric.tests.utils import (
	CamsTestCase,
	cleanup,
	delete_employees,
	make_device,
	make_employee,
	post_callback,
	punch_body,
	unique,
)

IST = timezone(timedelta(hours=5, minutes=30))


class TestDeskScripts(CamsTestCase):
	def test_the_shared_actions_come_with_each_doctype_that_uses_them(self):
		# Served from the app's folder with the doctype: the buttons work without `bench build`.
		for doctype in (DEVICE, SETTINGS, RAW_PUNCH):
			script = get_form_meta(doctype, cached=False).get("__js") or ""
			self.assertIn("cams_biometric.load_punchlog_dialog = function", script, doctype)
			self.assertIn("cams_biometric.reprocess = function", script, doctype)
		list_script = get_form_meta(RAW_PUNCH, cached=False).get("__list_js") or ""
		self.assertIn("cams_biometric.reprocess = function", list_script)

	def test_no_asset_needs_building(self):
		# A desk asset that `bench build` must make would 404 on a bench where it did not run.
		self.assertFalse(frappe.get_hooks("app_include_js", app_name="cams_biometric"))
		self.assertFalse(frappe.get_hooks("app_include_css", app_name="cams_biometric"))


class TestCheckinConnections(CamsTestCase):
	def setUp(self):
		self.user_id = unique("C")
		self.employee = make_employee(self.user_id)
		self.stgid, self.token = make_device()

	def tearDown(self):
		cleanup([self.stgid], [self.employee])
		delete_employees([self.employee])

	def test_a_checkin_connects_to_the_raw_punch_it_was_made_from(self):
		moment = datetime(2024, 9, 17, 9, 2, 14, tzinfo=IST)
		response = post_callback(punch_body(self.token, self.user_id, moment), stgid=self.stgid)
		self.assertEqual(response.status_code, 200)
		raw = frappe.get_all(RAW_PUNCH, filters={"device": self.stgid}, pluck="name")
		self.assertEqual(len(raw), 1)
		processing.process_raw_punch(raw[0])
		checkin = frappe.db.get_value(RAW_PUNCH, raw[0], "employee_checkin")
		self.assertTrue(checkin, frappe.db.get_value(RAW_PUNCH, raw[0], "error"))

		dashboard = frappe.get_meta(CHECKIN).get_dashboard_data()
		items = [item for group in dashboard.transactions for item in group["items"]]
		self.assertIn(RAW_PUNCH, items)
		self.assertEqual(dashboard.non_standard_fieldnames[RAW_PUNCH], "employee_checkin")
		# What the form's Connections ask for: the raw punch, counted once. get_open_count sets
		# the session's statement timeout to 1 s and leaves it so: later tests in this process
		# (test_indexes' 100,000-row insert) would be cut short.
		self.addCleanup(frappe.db.set_execution_timeout, 0)
		counts = get_open_count(CHECKIN, checkin)["count"]["external_links_found"]
		found = {link["doctype"]: link["count"] for link in counts}
		self.assertEqual(found.get(RAW_PUNCH), 1)
