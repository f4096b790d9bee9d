"""The CAMS Biometric workspace as an HR Manager gets it: installed by migrate with its
cards, chart and setup block, and their figures."""

import json

import frappe
from frappe.desk.desktop import get_desktop_page

from cams_biometric import alerts, health, workspace
from cams_biometric.constants import DEVICE, SETTINGS
from cams_biometric.tests.test_alerts import ensure_hr_manager
from cams_biometric.tests.utils import CamsTestCase, cleanup, make_device, reset_settings


class TestWorkspace(CamsTestCase):
	def tearDown(self):
		frappe.set_user("Administrator")
		reset_settings()

	def test_an_hr_manager_gets_the_cards_the_chart_and_the_setup_block(self):
		frappe.set_user(ensure_hr_manager())
		page = get_desktop_page(
			json.dumps({"name": "CAMS Biometric", "title": "CAMS Biometric", "public": 1})
		)
		self.assertEqual(
			{card.number_card_name for card in page["number_cards"]["items"]},
			{"CAMS Punches Today", "CAMS Unmapped Device Users", "CAMS Error Punches", "CAMS Silent Devices"},
		)
		self.assertEqual([chart.chart_name for chart in page["charts"]["items"]], ["CAMS Punches per Device"])
		self.assertEqual(
			[block.custom_block_name for block in page["custom_blocks"]["items"]], ["CAMS Biometric Setup"]
		)
		shortcuts = {item.label for item in page["shortcuts"]["items"]}
		self.assertTrue({"Settings", "Devices", "Unmapped Device Users", "Daily Punches"} <= shortcuts)
		# Every widget the page's layout names is one the page delivers (matched by label).
		labels = {
			"number_card_name": {card.label for card in page["number_cards"]["items"]},
			"chart_name": {chart.label for chart in page["charts"]["items"]},
			"custom_block_name": {block.label for block in page["custom_blocks"]["items"]},
			"shortcut_name": shortcuts,
		}
		content = json.loads(frappe.db.get_value("Workspace", "CAMS Biometric", "content"))
		for block in content:
			for key, known in labels.items():
				if key in block["data"]:
					self.assertIn(block["data"][key], known, block)

	def test_the_custom_cards_count_what_the_alerts_count(self):
		stgid, _token = make_device()
		self.addCleanup(cleanup, [stgid])
		frappe.set_user(ensure_hr_manager())
		self.assertEqual(workspace.unmapped_device_users_card()["value"], alerts.unmapped_device_users())
		silent = workspace.silent_devices_card()["value"]
		self.assertEqual(silent, len(health.silent_devices()))
		self.assertIn(stgid, [device.name for device in health.silent_devices()], "never heard from")

	def test_the_setup_steps_follow_the_data(self):
		stgid, _token = make_device()
		self.addCleanup(cleanup, [stgid])
		frappe.db.set_single_value(SETTINGS, "enabled", 0)
		state = workspace.setup_state()
		self.assertFalse(state["complete"])
		self.assertEqual(state["steps"][0]["key"], "enabled")
		steps = {step["key"]: step for step in state["steps"]}
		self.assertTrue(steps["device"]["done"], "a device exists")
		self.assertEqual(steps["device"]["route"], ["Form", DEVICE, "new"])
		self.assertIn("/api/method/cams_biometric.api.callback", steps["callback"]["description"])

		frappe.db.set_single_value(SETTINGS, "enabled", 1)
		self.assertNotIn("enabled", [step["key"] for step in workspace.setup_state()["steps"]])

	def test_other_users_get_no_figures(self):
		frappe.set_user("Guest")
		for method in (
			workspace.setup_state,
			workspace.silent_devices_card,
			workspace.unmapped_device_users_card,
		):
			with self.assertRaises(frappe.PermissionError):
				method()
