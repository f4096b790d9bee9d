"""Rolling devices out, as an HR Manager does it: a team enrolled from the device's form, the
selected Employees from the Employee list, and a device replaced by another; each a rollout
whose form follows it to the end without socket.io.

The tests run in order and build on each other (test_03 replaces the device the others filled).
"""

import secrets

import frappe
from selenium.webdriver.common.by import By

from browser.harness import HRManagerDeskTestCase, fresh_snapshot
from cams_biometric import commands, rollouts
from cams_biometric.constants import DEVICE, SETTINGS
from cams_biometric.protocol.simulator import Gateway, GatewayServer
from cams_biometric.tests.utils import cleanup, delete_employees, make_device, make_employee, reset_settings

TEAM = ("Asha", "Ravi", "Meera", "Arjun", "Fatima", "Wei")  # the Stores team, in screenshots
LATE = ("John", "Lakshmi")  # chosen in the Employee list
COMMAND_DELAY_SECONDS = 0.8  # the simulated device answers slowly, so progress can be watched


class TestRollouts(HRManagerDeskTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.state = {}
		tag = secrets.token_hex(3).upper()
		reset_settings()
		company = frappe.defaults.get_global_default("company") or frappe.get_all("Company", pluck="name")[0]
		cls.stgid, token = make_device(
			service_tag_id=f"ROLL{tag}", device_label="Stores Gate", company=company
		)
		cls.new_stgid, cls.new_token = f"NEWROLL{tag}", secrets.token_urlsafe(24)[:32]
		cls.gateway = Gateway(cls.stgid, token, label="Stores Gate")
		cls.new_gateway = Gateway(cls.new_stgid, cls.new_token, label="Stores Gate (new)")
		cls.server = GatewayServer(cls.gateway, more=(cls.new_gateway,)).start()
		cls.endpoint_before = frappe.db.get_single_value(SETTINGS, "restful_endpoint")
		frappe.db.set_single_value(SETTINGS, "restful_endpoint", cls.server.url)
		cls.department = (
			frappe.get_doc({"doctype": "Department", "department_name": f"Stores {tag}", "company": company})
			.insert(ignore_permissions=True)
			.name
		)
		cls.team = [
			make_employee(f"S{tag}{i}", first_name=first, department=cls.department)
			for i, first in enumerate(TEAM)
		]
		cls.no_id = make_employee(None, first_name="Tom", department=cls.department)
		cls.late = [make_employee(f"L{tag}{i}", first_name=first) for i, first in enumerate(LATE)]
		cls.employees = [*cls.team, cls.no_id, *cls.late]
		frappe.db.commit()  # nosemgrep: the web server and the worker read it

	@classmethod
	def tearDownClass(cls):
		try:
			fresh_snapshot()
			devices = [cls.stgid, cls.new_stgid]
			frappe.db.delete(commands.COMMAND, {"device": ("in", devices)})
			for name in frappe.get_all(rollouts.ROLLOUT, {"device": ("in", devices)}, pluck="name"):
				frappe.db.delete(
					"Notification Log", {"document_type": rollouts.ROLLOUT, "document_name": name}
				)
				frappe.delete_doc(rollouts.ROLLOUT, name, force=True, ignore_permissions=True)
			for device in devices:
				if frappe.db.exists(DEVICE, device):
					frappe.db.set_value(DEVICE, device, {"replaces": None, "replaced_by": None})
			cleanup([d for d in devices if frappe.db.exists(DEVICE, d)], cls.employees)
			delete_employees(cls.employees)
			frappe.db.delete("Department", {"name": cls.department})
			frappe.db.set_single_value(SETTINGS, "restful_endpoint", cls.endpoint_before)
			frappe.db.commit()  # nosemgrep
		finally:
			cls.server.stop()
			super().tearDownClass()

	def needs(self, key: str, by: str):
		if key not in self.state:
			self.skipTest(f"needs what {by} makes, and it did not get that far")
		return self.state[key]

	# -- helpers ---------------------------------------------------------------------------
	def group_button(self, group: str, label: str):
		"""Click ``label`` in the form's button group ``group``."""
		self.page_button(group).click()
		item = self.wait_for(
			lambda d: [
				e
				for e in self.visible(".inner-group-button .dropdown-menu .dropdown-item")
				if e.text.strip() == label
			],
			message=f"no {label!r} in the {group!r} group",
		)[0]
		item.click()

	def wait_for_dialog(self, field: str):
		self.wait_for(lambda d: self.js(f"return !!(window.cur_dialog && cur_dialog.fields_dict.{field})"))

	def follow_rollout(self, message: str) -> str:
		"""The rollout form the action opened, followed to Completed; returns its name."""
		name = self.wait_for(
			lambda d: self.js(
				"return window.cur_frm && cur_frm.doctype === 'CAMS Device Rollout' && cur_frm.docname"
			),
			message=message,
		)
		seen = []

		def completed(_driver):
			status, percent = self.js(
				"const bar = $('.form-dashboard .progress-bar:visible')[0];"
				" return [cur_frm.doc.status, bar ? parseFloat(bar.style.width) : null]"
			)
			if percent is not None and (not seen or seen[-1] != (status, percent)):
				seen.append((status, percent))
			return status == "Completed"

		self.wait_for_worker(
			completed, timeout=90, moving=lambda: len(seen), message=f"not Completed: {seen}"
		)
		self.assertEqual(seen[-1], ("Completed", 100), seen)
		self.assertNotIn("Save", self.button_labels(), "a rollout written by its job offers Save")
		return name

	# ----------------------------------------------------------------------------------
	def test_01_a_team_is_enrolled_from_the_devices_form(self):
		self.gateway.fail_next(*[{"delay": COMMAND_DELAY_SECONDS}] * len(TEAM))
		self.open_form(DEVICE, self.stgid)
		self.group_button("Rollout", "Enrol Employees")
		self.wait_for_dialog("department")
		# The device is for one company: the dialog keeps to it.
		self.assertTrue(self.js("return cur_dialog.get_value('company')"))
		self.js("cur_dialog.set_value('department', arguments[0])", self.department)
		preview = self.wait_for(
			lambda d: (
				(e := self.visible(".modal.show .cams-enrol-preview"))
				and f"{len(TEAM)} Employees will be sent" in e[0].text
				and e[0].text
			),
			message="the dialog shows no preview of the department's team",
		)
		self.assertIn("1 without an Attendance Device ID", preview)
		self.screenshot("enrol-employees")
		self.visible(".modal.show .btn-primary")[0].click()

		name = self.follow_rollout("Enrol did not open the rollout")
		self.wait_for(lambda d: any("Finished" in m for m in self.form_messages()))
		self.screenshot("rollout")
		fresh_snapshot()
		rollout = frappe.get_doc(rollouts.ROLLOUT, name)
		self.assertEqual(
			(rollout.done, rollout.skipped_no_id, rollout.requested_by), (len(TEAM), 1, self.hr_manager)
		)
		self.assertEqual(len(self.gateway.users), len(TEAM))
		self.state["enrolled"] = name

	def test_02_chosen_employees_are_enrolled_from_the_employee_list(self):
		self.needs("enrolled", "test_01")
		self.open("/app/employee?status=Active")
		for employee in self.late:
			box = self.wait_for(
				lambda d, e=employee: self.visible(
					f".list-row-container .list-row-checkbox[data-name='{e}']"
				),
				message=f"{employee} is not in the list",
			)[0]
			box.click()
		self.page_button("Actions").click()
		item = self.wait_for(
			lambda d: [
				e
				for e in self.visible(".dropdown-menu .dropdown-item")
				if e.text.strip() == "Enrol on CAMS Device"
			],
			message="no Enrol on CAMS Device action",
		)[0]
		item.click()
		self.wait_for_dialog("device")
		self.js("cur_dialog.set_value('device', arguments[0])", self.stgid)
		self.wait_for(
			lambda d: (
				(e := self.visible(".modal.show .cams-enrol-preview"))
				and f"{len(LATE)} Employees" in e[0].text
			),
			message="the dialog shows no preview",
		)
		self.visible(".modal.show .btn-primary")[0].click()
		self.follow_rollout("Enrol on CAMS Device did not open the rollout")
		self.assertEqual(len(self.gateway.users), len(TEAM) + len(LATE))

	def test_03_the_device_is_replaced_without_enrolling_anyone_again(self):
		self.needs("enrolled", "test_01")
		self.open_form(DEVICE, self.stgid)
		self.group_button("Rollout", "Replace Device")
		self.wait_for_dialog("new_service_tag_id")
		self.js(
			"cur_dialog.set_value('new_service_tag_id', arguments[0]); cur_dialog.set_value('auth_token', arguments[1]);",
			self.new_stgid,
			self.new_token,
		)
		self.screenshot("replace-device")
		self.visible(".modal.show .btn-primary")[0].click()
		self.follow_rollout("Replace did not open the rollout")
		self.wait_for(lambda d: any("is disabled and replaced by" in m for m in self.form_messages()))
		self.assertEqual(set(self.new_gateway.users), set(self.gateway.users))

		self.open_form(DEVICE, self.stgid)
		banner = self.wait_for(lambda d: [m for m in self.form_messages() if m.startswith("Replaced by")])
		self.assertIn(self.new_stgid, banner[0])
		self.driver.find_element(By.CSS_SELECTOR, f".form-message a[href$='{self.new_stgid}']").click()
		self.wait_for_form(DEVICE, self.new_stgid)
		self.screenshot("device-replaced")
		fresh_snapshot()
		self.assertEqual(
			frappe.db.get_value(DEVICE, self.stgid, ["enabled", "replaced_by"]), (0, self.new_stgid)
		)
