"""The Enrolment Gaps report as an HR Manager meets it (issue 22, part 3): a device of one
branch, its gaps, one row fixed from its button, two fixed as a selection, each carried out
by the simulated device (the worker browser/run starts runs the commands), and the No
Employee row's Map opening the Unmapped Device Users dialog.

The tests run in order and build on each other; one whose predecessor failed skips.
"""

import secrets

import frappe
from frappe.utils import add_days, nowdate

from browser.harness import HRManagerDeskTestCase, fresh_snapshot
from cams_biometric.constants import SETTINGS
from cams_biometric.protocol import constants as c
from cams_biometric.protocol.simulator import Gateway, GatewayServer
from cams_biometric.tests.utils import cleanup, delete_employees, make_device, make_employee

ROLLOUT = "CAMS Device Rollout"
COMMAND = "CAMS Device Command"
REPORT = "Enrolment Gaps"


class TestEnrolmentGaps(HRManagerDeskTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.state, cls.employees, cls.server = {}, [], None
		try:
			cls.prepare()
		except Exception:
			cls.tearDownClass()
			raise

	@classmethod
	def prepare(cls):
		tag = secrets.token_hex(3).upper()
		# A branch of its own: the site's other Employees are not this device's to enrol.
		cls.branch = (
			frappe.get_doc({"doctype": "Branch", "branch": f"Gaps Branch {tag}"})
			.insert(ignore_permissions=True)
			.name
		)
		company = frappe.defaults.get_global_default("company") or frappe.get_all("Company", pluck="name")[0]
		cls.stgid, cls.token = make_device(
			service_tag_id=f"GAP{tag}", device_label="Front Gate", company=company, branch=cls.branch
		)
		cls.gateway = Gateway(cls.stgid, cls.token, label="Front Gate")
		cls.server = GatewayServer(cls.gateway).start()
		cls.endpoint_before = frappe.db.get_single_value(SETTINGS, "restful_endpoint")
		frappe.db.set_single_value(SETTINGS, "restful_endpoint", cls.server.url)
		cls.ids = {key: f"G{tag}{i}" for i, key in enumerate(("asha", "visitor", "ravi", "meera", "john"))}

		def employee(key, first_name, **values):
			name = make_employee(cls.ids[key], first_name=first_name, branch=cls.branch, **values)
			cls.employees.append(name)
			return name

		cls.asha = employee("asha", "Asha")  # Active, not on the device: Enrol
		cls.ravi = employee("ravi", "Ravi", status="Left", relieving_date=add_days(nowdate(), -7))
		cls.meera = employee("meera", "Meera")
		other = frappe.get_doc({"doctype": "Branch", "branch": f"Gaps Elsewhere {tag}"}).insert(
			ignore_permissions=True
		)
		cls.other_branch = other.name
		cls.john = make_employee(cls.ids["john"], first_name="John", branch=cls.other_branch)
		cls.employees.append(cls.john)
		from cams_biometric import device_users

		for key, name, enabled in (
			("visitor", "Visitor", True),  # no Employee has the id: Map or Remove
			("ravi", "Ravi", True),  # left a week ago, still enabled: Disable
			("meera", "Meera", False),  # Active, disabled: Enable
			("john", "John", True),  # another branch's: Remove
		):
			device_users.apply_event(
				cls.stgid, "User Updated", {"UserID": cls.ids[key], "FirstName": name, "LastName": ""}
			)
			cls.gateway._add_user(cls.ids[key], {"FirstName": name}, "User", [])
			if not enabled:
				device_users.apply_command(cls.stgid, cls.ids[key], "Disable User")
				cls.gateway.users[cls.ids[key]][c.ACCESS] = c.ACCESS_DISABLE
		frappe.db.commit()  # nosemgrep: the web server and the worker read it

	@classmethod
	def tearDownClass(cls):
		try:
			fresh_snapshot()
			if getattr(cls, "stgid", None):
				frappe.db.delete(COMMAND, {"device": cls.stgid})
				for name in frappe.get_all(ROLLOUT, {"device": cls.stgid}, pluck="name"):
					frappe.db.delete("Notification Log", {"document_type": ROLLOUT, "document_name": name})
					frappe.delete_doc(ROLLOUT, name, force=True, ignore_permissions=True)
				cleanup([cls.stgid], cls.employees)
				frappe.db.set_single_value(SETTINGS, "restful_endpoint", cls.endpoint_before)
			delete_employees(cls.employees)
			for branch in (getattr(cls, "branch", None), getattr(cls, "other_branch", None)):
				if branch:
					frappe.delete_doc("Branch", branch, force=True, ignore_permissions=True)
			frappe.db.commit()  # nosemgrep
		finally:
			if cls.server:
				cls.server.stop()
			super().tearDownClass()

	def needs(self, key: str, by: str):
		if key not in self.state:
			self.skipTest(f"needs what {by} does, and it did not get that far")
		return self.state[key]

	# -- helpers -----------------------------------------------------------------------------
	def open_report(self) -> list[dict]:
		self.open(f"/app/query-report/{REPORT}?device={self.stgid}")
		return self.report_rows()

	def report_rows(self, condition=None) -> list[dict]:
		"""The report's rows once loaded (and ``condition(rows)`` holds)."""
		return self.wait_for(
			lambda d: (
				(
					rows := d.execute_script(
						"const r = frappe.query_report; return r && r.report_name === arguments[0]"
						" && !r.loading && r.data && r.datatable ? r.data : null",
						REPORT,
					)
				)
				is not None
				and (condition is None or condition(rows))
				and rows
			),
			message="the Enrolment Gaps report did not load as expected",
		)

	def gaps(self, rows) -> dict:
		return {row["device_user_id"]: row["gap"] for row in rows}

	def row_button(self, user_id: str, label: str):
		def find(_driver):
			for button in self.visible(".cams-gap-fix"):
				if button.get_attribute("data-device-user-id") == user_id and button.text.strip() == label:
					return button
			return None

		return self.wait_for(find, message=f"no {label} button on the row of {user_id}")

	def dialog_text(self) -> str:
		return " ".join(
			self.js(
				"return $('.modal.show .modal-body').filter(':visible').toArray().map((e) => e.innerText)"
			)
		)

	def confirm(self):
		self.wait_for(lambda d: self.visible(".modal.show .btn-primary"))[0].click()

	def dialog_saying(self, words: str, title: str = "") -> str:
		"""The open dialog's text, once it says ``words`` (under a title saying ``title``)."""

		def said(_driver):
			text = self.dialog_text()
			titles = self.js("return $('.modal.show .modal-title').text()")
			return text if words in text and title in titles else None

		return self.wait_for(said, message=f"no dialog said {words!r}")

	def result(self) -> str:
		return self.dialog_saying("queued", "Fixes")

	def close_dialog(self):
		"""Close what is open, as its X does (a message may open as the confirmation closes)."""

		def closed(_driver):
			for button in self.visible(".modal.show .btn-modal-close"):
				try:
					button.click()
				except Exception:
					pass  # closing, or redrawn meanwhile: looked at again on the next poll
			return not self.visible(".modal.show")

		self.wait_for(closed)

	# ----------------------------------------------------------------------------------
	def test_01_the_devices_gaps_show_with_their_fixes(self):
		rows = self.open_report()
		self.assertEqual(
			self.gaps(rows),
			{
				self.ids["asha"]: "Not on Device",
				self.ids["visitor"]: "No Employee",
				self.ids["ravi"]: "Enabled while Left",
				self.ids["meera"]: "Disabled while Active",
				self.ids["john"]: "Outside Company or Branch",
			},
		)
		for user_id, label in (
			(self.ids["asha"], "Enrol"),
			(self.ids["visitor"], "Map"),
			(self.ids["visitor"], "Remove"),
			(self.ids["ravi"], "Disable"),
			(self.ids["meera"], "Enable"),
			(self.ids["john"], "Remove"),
		):
			self.row_button(user_id, label)
		self.screenshot("enrolment-gaps")
		self.state["report"] = True

	def test_02_map_opens_the_mapping_dialog_for_the_row(self):
		self.needs("report", "test_01")
		self.row_button(self.ids["visitor"], "Map").click()
		self.wait_for(
			lambda d: self.js(
				"return !!(window.cur_dialog && cur_dialog.fields_dict.employee"
				" && cur_dialog.get_value('device_user_id') === arguments[0])",
				self.ids["visitor"],
			),
			message="the Map dialog did not open with the row's device user id",
		)
		self.close_dialog()

	def test_03_one_row_is_fixed_from_its_button(self):
		self.needs("report", "test_01")
		self.row_button(self.ids["meera"], "Enable").click()
		plan = self.dialog_saying("Enable")
		self.assertIn("Meera", plan)
		self.assertIn("Front Gate", plan)
		self.confirm()
		result = self.result()
		self.assertIn("Enable User queued on Front Gate", result)
		self.close_dialog()
		# The worker carries it out; the device's answer closes the gap.
		self.wait_for_worker(
			lambda d: self.gateway.users[self.ids["meera"]][c.ACCESS] == c.ACCESS_ENABLE,
			message="the simulated device did not enable Meera (is a worker running?)",
		)
		self.state["one"] = True

	def test_04_a_selection_is_fixed_at_once(self):
		self.needs("one", "test_03")
		rows = self.open_report()
		self.assertNotIn(self.ids["meera"], self.gaps(rows), "the fixed row is still a gap")
		index = {row["device_user_id"]: i for i, row in enumerate(rows)}
		# Tick Asha's and Ravi's rows, as the boxes on the left do.
		for key in ("asha", "ravi"):
			self.js(
				"frappe.query_report.datatable.rowmanager.checkRow(arguments[0], true)", index[self.ids[key]]
			)
		self.page_button("Fix Selected").click()
		plan = self.dialog_saying("Enrol")
		self.assertIn("Enrol Asha", plan)
		self.assertIn("Disable Ravi", plan)
		self.screenshot("enrolment-gaps-confirm")
		self.confirm()
		result = self.result()
		self.assertIn("2 queued", self.js("return $('.modal.show .modal-title').text()"))
		self.assertRegex(result, r"enrolled on \S+ by rollout CAMS-ROLL-")  # Enrol: a rollout per device
		self.assertIn("Disable User queued", result)
		self.assertEqual(
			self.js("return frappe.query_report.datatable.rowmanager.getCheckedRows().length"),
			0,
			"the ticks stayed on the refreshed rows",
		)
		self.screenshot("enrolment-gaps-fixed")
		self.close_dialog()
		self.wait_for_worker(
			lambda d: (
				self.ids["asha"] in self.gateway.users
				and self.gateway.users[self.ids["ravi"]][c.ACCESS] == c.ACCESS_DISABLE
			),
			message="the simulated device did not enrol Asha and disable Ravi",
		)
		# Once the device has answered, only the rows left to fix remain.
		self.wait_for_worker(
			lambda d: (
				not fresh_snapshot()
				and frappe.db.count(COMMAND, {"device": self.stgid, "status": ("in", ("Queued", "Sent"))})
				== 0
				and frappe.db.count(ROLLOUT, {"device": self.stgid, "status": ("in", ("Queued", "Running"))})
				== 0
			),
			message="the commands did not finish",
		)
		rows = self.open_report()
		self.assertEqual(set(self.gaps(rows)), {self.ids["visitor"], self.ids["john"]})
