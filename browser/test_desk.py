"""The desk as an admin meets it: settings, a device, Load Punchlog against the simulator to
Completed, the raw punches it stored, and the checkins they made.

The tests of this class run in order (unittest sorts them by name) and build on each other,
as an admin's first session would: the device made through its form in test_03 is the one
test_04 loads from, and so on. A test whose predecessor failed says so and skips.

Then the three reports and the workspace over the same data, and the devices managed from
ERPNext: an Employee enrolled on the device from their form, and the device's information.
"""

import secrets
import time
from datetime import datetime, timezone

import frappe
from frappe.utils import add_days, now_datetime, nowdate
from frappe.utils.background_jobs import get_queue, get_queue_list
from selenium.common.exceptions import ElementClickInterceptedException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from browser.harness import DeskTestCase, fresh_snapshot
from cams_biometric.constants import CHECKIN, DEVICE, RAW_PUNCH, SETTINGS
from cams_biometric.protocol.simulator import Gateway, GatewayServer, generate_punches
from cams_biometric.tests.utils import cleanup, delete_employees, make_device, make_employee, reset_settings

LOAD_REQUEST = "CAMS Load Request"
USERS = 12  # x 4 punches x 3 days = 144 punches: LoadLog pages of 50, 50 and 44
MAPPED = 8  # users 0-7 are Employees; user 8 joins tomorrow (Error rows); 9-11 are no one's
FIRST_NAMES = ("Asha", "Ravi", "Meera", "Arjun", "Fatima", "John", "Lakshmi", "Wei")  # in screenshots
PAGE_DELAY_SECONDS = 3  # the simulated gateway answers slowly, so progress can be watched


class TestDesk(DeskTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.state = {}
		tag = secrets.token_hex(3)
		cls.stgid = f"BRW{tag}".upper()
		cls.token = secrets.token_urlsafe(24)[:32]
		cls.user_ids = [f"B{tag}{i:02d}" for i in range(USERS)]
		now = datetime.now(timezone.utc)
		cls.punches = generate_punches(USERS, days=3, per_day=4, end=now, user_ids=cls.user_ids)
		cls.gateway = Gateway(cls.stgid, cls.token, cls.punches, label="Browser Gate")
		cls.server = GatewayServer(cls.gateway).start()

		reset_settings()
		cls.endpoint_before = frappe.db.get_single_value(SETTINGS, "restful_endpoint")
		frappe.db.set_single_value(SETTINGS, "restful_endpoint", cls.server.url)
		cls.employees = [
			make_employee(user_id, first_name=first)
			for user_id, first in zip(cls.user_ids[:MAPPED], FIRST_NAMES, strict=True)
		]
		# Joins tomorrow (in the site's time zone): each of their punches falls before it.
		cls.late_joiner = make_employee(
			cls.user_ids[MAPPED], first_name="Priya", date_of_joining=add_days(nowdate(), 1)
		)
		cls.unmapped_employee = make_employee(None, first_name="Tom")  # for the Map to Employee dialog
		cls.all_employees = [*cls.employees, cls.late_joiner, cls.unmapped_employee]
		frappe.db.commit()  # nosemgrep: the web server and the worker read it

	@classmethod
	def tearDownClass(cls):
		try:
			fresh_snapshot()
			cls.drop_queued_jobs()
			frappe.db.delete(LOAD_REQUEST, {"device": cls.stgid})
			frappe.db.delete("CAMS Device Command", {"device": cls.stgid})
			if frappe.db.exists(DEVICE, cls.stgid):
				cleanup([cls.stgid], cls.all_employees)
			delete_employees(cls.all_employees)
			frappe.db.set_single_value(SETTINGS, "restful_endpoint", cls.endpoint_before)
			frappe.db.commit()  # nosemgrep
		finally:
			cls.server.stop()
			super().tearDownClass()

	@classmethod
	def drop_queued_jobs(cls):
		"""Jobs for this class's load and users that no worker took (suspended workers, a
		failed test): run later, a page job would retry against the stopped simulator for
		minutes, holding the worker the next run needs."""
		loads = set(frappe.get_all(LOAD_REQUEST, filters={"device": cls.stgid}, pluck="name"))
		for queue in get_queue_list():
			for job in get_queue(queue).get_jobs():
				arguments = job.kwargs.get("kwargs") or {}
				if job.kwargs.get("site") == frappe.local.site and (
					arguments.get("load_request") in loads or arguments.get("device_user_id") in cls.user_ids
				):
					job.delete()

	def needs(self, key: str, by: str):
		if key not in self.state:
			self.skipTest(f"needs what {by} makes, and it did not get that far")
		return self.state[key]

	# ----------------------------------------------------------------------------------
	def test_01_login_reaches_the_desk(self):
		self.open("/app")
		self.assertEqual(self.js("return frappe.session.user"), "Administrator")

	def test_02_settings_show_and_copy_the_callback_url(self):
		self.driver.execute_cdp_cmd(
			"Browser.grantPermissions",
			{"origin": self.base_url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
		)
		self.open("/app/cams-biometric-settings")
		self.wait_for_form(SETTINGS)
		field = self.wait_for(lambda d: self.visible("[data-fieldname='callback_url_html'] input"))[0]
		url = field.get_attribute("value")
		self.assertTrue(url.endswith("/api/method/cams_biometric.api.callback"), url)
		self.page_button("Copy").click()
		self.wait_for(
			lambda d: any("Copied to clipboard" in text for text, _ in self.alerts()),
			message="no 'Copied to clipboard' alert",
		)
		copied = self.driver.execute_async_script(
			"const done = arguments[0]; navigator.clipboard.readText().then(done, (e) => done('! ' + e));"
		)
		self.assertEqual(copied, url)
		self.screenshot("settings")

	def test_03_a_device_saved_through_its_form(self):
		self.open("/app/cams-biometric-device/new")
		self.wait_for(lambda d: self.js("return !!(window.cur_frm && cur_frm.is_new())"))
		self.type_into("service_tag_id", self.stgid)
		self.type_into("device_label", "Browser Gate")
		self.type_into("auth_token", self.token)
		time.sleep(1.5)  # the meter would show 0.5 s after typing, once the server rated the text
		self.assertFalse(
			self.visible("[data-fieldname='auth_token'] .password-strength-indicator"),
			"the Auth Token shows a password-strength meter",
		)
		self.driver.find_element(By.TAG_NAME, "body").send_keys(Keys.CONTROL, "s")
		self.wait_for_form(DEVICE, self.stgid)
		self.state["device"] = self.stgid

		# The Service Tag ID is what the callback URL needs: it stays on the saved form.
		field = self.visible(
			"[data-fieldname='service_tag_id'] .control-value, [data-fieldname='service_tag_id'] input"
		)
		self.assertTrue(field, "the Service Tag ID is not shown once the device is saved")
		self.assertIn(self.stgid, field[0].text or field[0].get_attribute("value"))
		messages = self.wait_for(lambda d: self.form_messages(), message="no banner on a new device")
		no_punch = [m for m in messages if m.startswith("No punch received yet")]
		self.assertEqual(len(no_punch), 1, messages)
		self.screenshot("device")

	def test_04_load_punchlog_shows_progress_to_completed(self):
		device = self.state.get("device")
		if not device:  # test_03 failed: load from a device made directly, to test the rest
			make_device(service_tag_id=self.stgid, auth_token=self.token, device_label="Browser Gate")
			self.state["device"] = device = self.stgid
		self.gateway.fail_next(*[{"delay": PAGE_DELAY_SECONDS}] * 3)
		self.open_form(DEVICE, device)
		self.page_button("Load Punchlog").click()
		self.wait_for(lambda d: self.js("return !!(window.cur_dialog && cur_dialog.fields_dict.from_time)"))
		# A date-and-time field shows a time too (it showed a bare date).
		shown = self.visible(".modal.show [data-fieldname='from_time'] input")[0].get_attribute("value")
		self.assertRegex(shown, r"\d{1,2}:\d{2}", "Load Punchlog's From shows no time")
		self.js(
			"cur_dialog.set_value('from_time', arguments[0]); cur_dialog.set_value('to_time', arguments[1]);",
			str(add_days(now_datetime(), -4)).split(".")[0],
			str(now_datetime()).split(".")[0],
		)
		self.visible(".modal.show .btn-primary")[0].click()
		name = self.wait_for(
			lambda d: self.js(
				"return window.cur_frm && cur_frm.doctype === 'CAMS Load Request' && cur_frm.docname"
			),
			message="Load Punchlog did not open the new load",
		)
		self.state["load"] = name
		self.assertNotIn("Save", self.button_labels(), "a load written by its jobs offers Save")

		# No socket.io server here: the form must follow the load by itself.
		seen = []

		def form_completed(_driver):
			status, percent = self.js(
				"const bar = $('.form-dashboard .progress-bar:visible')[0];"
				" return [cur_frm.doc.status, bar ? parseFloat(bar.style.width) : null]"
			)
			if percent is not None and (not seen or seen[-1] != (status, percent)):
				seen.append((status, percent))
				if status == "Running" and 0 < percent < 100:
					# A running load is no stuck one, whatever the browser's time zone.
					self.assertNotIn("Resume", self.button_labels())
					self.screenshot("load-request-running")
			return status == "Completed"

		self.wait_for_worker(
			form_completed,
			timeout=120,
			moving=lambda: len(seen),
			message=f"the form did not reach Completed: {seen}",
		)
		status = seen[-1][0]
		self.assertEqual(status, "Completed", f"the form saw {seen}")
		self.assertTrue(
			any(0 < percent < 100 for _, percent in seen), f"no progress between 0 and 100 was shown: {seen}"
		)
		self.assertEqual(seen[-1], ("Completed", 100))
		self.wait_for(lambda d: any("The whole range was read" in m for m in self.form_messages()))
		self.assertIn("Unmapped Device Users", self.button_labels())
		self.screenshot("load-request")

		fresh_snapshot()
		load = frappe.get_doc(LOAD_REQUEST, name)
		unmapped_rows = 4 * 3 * (USERS - MAPPED - 1)
		self.assertEqual(
			(load.rows_received, load.unmapped, load.errors, load.progress), (144, unmapped_rows, 12, 100)
		)

	def test_05_the_load_list_shows_progress(self):
		name = self.needs("load", "test_04")
		self.open(f"/app/cams-load-request?device={self.stgid}")
		row = self.wait_for(
			lambda d: self.visible(f".list-row-container .list-row:has(a[data-name='{name}'])"),
			message="the load is not in the list",
		)[0]
		self.assertIn("100%", row.text)

	def test_06_unmapped_count_leads_to_the_report(self):
		name = self.needs("load", "test_04")
		self.open_form(LOAD_REQUEST, name)
		self.page_button("Unmapped Device Users")
		if not frappe.db.exists("Report", "Unmapped Device Users"):
			self.skipTest(
				"the Unmapped Device Users report is not on this site yet: only its button was checked"
			)
		self.page_button("Unmapped Device Users").click()
		self.wait_for(lambda d: "query-report/Unmapped" in d.current_url.replace("%20", " "))
		# Frappe hands the filter over as route options, not in the URL.
		self.wait_for(
			lambda d: (
				self.js("return frappe.query_report && frappe.query_report.get_filter_value('load_request')")
				== name
			),
			message="the report is not filtered to the load",
		)

	def test_07_reprocess_an_error_row(self):
		load = self.needs("load", "test_04")
		fresh_snapshot()
		row = frappe.get_all(
			RAW_PUNCH, filters={"load_request": load, "status": "Error"}, pluck="name", limit=1
		)[0]
		self.open_form(RAW_PUNCH, row)
		banner = self.wait_for(lambda d: [m for m in self.form_messages() if "made no checkin" in m])
		self.assertIn("joining", banner[0].lower())
		self.assertNotIn("Save", self.button_labels(), "a raw punch offers Save")
		history = self.wait_for(lambda d: [e.text for e in self.visible(".timeline-item") if e.text])
		self.assertFalse([h for h in history if "Guest" in h], history)
		self.assertTrue([h for h in history if f"Received from device {self.stgid}" in h], history)
		sidebar = " ".join(e.text for e in self.visible(".form-sidebar .created-by"))
		self.assertIn(f"Received from device {self.stgid}", sidebar)
		self.screenshot("raw-punch-error")

		# Still before the Employee's date of joining: reprocessing changes nothing, and says so in red.
		self.page_button("Reprocess").click()
		self.wait_for(lambda d: self.alerts(), message="Reprocess showed no alert")
		self.assertIn(("Reprocessed: Error", "red"), self.alerts())

		# Fixed: the same button makes the checkin, in green.
		frappe.db.set_value("Employee", self.late_joiner, "date_of_joining", add_days(nowdate(), -30))
		frappe.db.commit()  # nosemgrep: the web server reads it
		self.js("$('.desk-alert').remove()")
		self.page_button("Reprocess").click()
		self.wait_for(
			lambda d: ("Reprocessed: Processed", "green") in self.alerts(), message=str(self.alerts())
		)
		self.wait_for(lambda d: self.js("return cur_frm.doc.status") == "Processed")

	def test_08_an_unmapped_row_is_mapped_from_its_form(self):
		load = self.needs("load", "test_04")
		fresh_snapshot()
		row, user_id = frappe.get_all(
			RAW_PUNCH,
			filters={"load_request": load, "status": "Unmapped"},
			fields=["name", "device_user_id"],
			as_list=True,
			limit=1,
		)[0]
		self.open_form(RAW_PUNCH, row)
		banner = self.wait_for(lambda d: [m for m in self.form_messages() if "No Employee has" in m])
		self.assertIn(user_id, banner[0])
		self.assertTrue(self.visible(".form-message a[href^='/app/employee']"), "no way to the Employees")
		self.page_button("Map to Employee").click()
		self.wait_for(lambda d: self.js("return !!(window.cur_dialog && cur_dialog.fields_dict.employee)"))
		# An Employee with an id of their own: the dialog says whose id is replaced, and asks.
		self.pick_employee(self.employees[1])
		note = self.wait_for(
			lambda d: self.mapping_note() if self.user_ids[1] in self.mapping_note() else None
		)
		self.assertIn("will be replaced", note)
		self.assertTrue(self.visible(".modal.show [data-fieldname='replace'] input"), "no Replace box")
		self.visible(".modal.show .btn-primary")[0].click()
		self.wait_for(
			lambda d: "Tick Replace" in self.mapping_note(),
			message="Set replaced another Employee's id without asking",
		)
		fresh_snapshot()
		self.assertEqual(
			frappe.db.get_value("Employee", self.employees[1], "attendance_device_id"), self.user_ids[1]
		)
		# The Employee without one: what the waiting punches become, before anything changes.
		self.pick_employee(self.unmapped_employee)
		note = self.wait_for(lambda d: self.mapping_note() if "Tom" in self.mapping_note() else None)
		self.assertRegex(note, r"\d+ become checkins of Tom")
		self.screenshot("raw-punch-map-forecast")
		self.visible(".modal.show .btn-primary")[0].click()
		# After: what they became, counted in the dialog as the pickup job processes them.
		outcome = self.wait_for_worker(
			lambda d: (
				self.mapping_note()
				if "became checkins" in self.mapping_note() and "waiting" not in self.mapping_note()
				else None
			),
			timeout=60,
			message="the dialog did not count what the punches became (is a worker running?)",
		)
		self.assertNotIn("Error", outcome)
		self.screenshot("raw-punch-map-outcome")
		self.visible(".modal.show .btn-primary")[0].click()  # Close
		self.wait_for(lambda d: self.js("return cur_frm.doc.status") == "Processed")
		fresh_snapshot()
		self.assertEqual(frappe.db.get_value(RAW_PUNCH, row, "status"), "Processed")
		self.assertEqual(
			frappe.db.get_value("Employee", self.unmapped_employee, "attendance_device_id"), user_id
		)

	def pick_employee(self, employee: str):
		"""As a user does: type into the dialog's Employee, then pick it from the suggestions."""
		field = self.visible(".modal.show [data-fieldname='employee'] input")[0]
		field.clear()
		field.send_keys(employee)

		def click_suggestion(_driver):
			# The list is redrawn as the search answers: a suggestion found may be gone when clicked.
			try:
				for item in self.visible(".modal.show .awesomplete [role='option']"):
					if employee in item.text:
						item.click()
						return True
			except (StaleElementReferenceException, ElementClickInterceptedException):
				return False  # redrawn, or a closing message still fades out over it
			return False

		self.wait_for(click_suggestion, message="the Employee is not among the suggestions")
		self.wait_for(lambda d: self.js("return cur_dialog.get_value('employee')") == employee)

	def texts(self, selector: str) -> list[str]:
		"""The visible text of what matches, read in one go: the Employee form redraws its
		CAMS block while it follows commands, which makes element references stale."""
		return self.js(
			"return $(arguments[0]).filter(':visible').toArray().map((e) => e.innerText)", selector
		)

	def mapping_note(self) -> str:
		return " ".join(self.texts(".modal.show .cams-mapping-note"))

	def test_09_raw_punch_list_shows_time_and_employee(self):
		self.needs("load", "test_04")
		self.open(f"/app/cams-raw-punch-log?device={self.stgid}")
		self.wait_for(lambda d: self.visible(".list-row-container"), message="the raw punch list is empty")
		self.assertEqual(self.js("return cur_list.sort_by"), "punch_time", "the list is not by Punch Time")
		headers = [h.text.strip() for h in self.visible(".list-row-head .list-row-col")]
		self.assertIn("Punch Time", headers)
		self.assertIn("Employee", headers)
		clipped = self.js(
			"return $('.list-row-container:visible .list-row-col').filter((i, el) =>"
			" /\\d{2}:\\d{2}/.test(el.textContent) && el.scrollWidth > el.clientWidth + 1).length"
		)
		self.assertEqual(clipped, 0, "punch times are cut off in the list")
		self.screenshot("raw-punch-list")

	def test_10_a_checkin_connects_to_its_raw_punch(self):
		load = self.needs("load", "test_04")
		fresh_snapshot()
		checkin = frappe.get_all(
			RAW_PUNCH,
			filters={"load_request": load, "status": "Processed"},
			pluck="employee_checkin",
			limit=1,
		)[0]
		self.open_form(CHECKIN, checkin)
		count = self.wait_for(
			lambda d: [
				c.text.strip()
				for c in self.visible(
					".form-dashboard .document-link[data-doctype='CAMS Raw Punch Log'] .count"
				)
				if c.text.strip()
			],
			message="the checkin's Connections do not show its raw punch",
		)
		self.assertEqual(count, ["1"])
		self.js("$('.form-dashboard')[0].scrollIntoView()")
		self.screenshot("checkin-connections")

	def test_11_unmapped_device_users_report_shows_the_loads_users(self):
		load = self.needs("load", "test_04")
		rows = self.assert_report_renders("Unmapped Device Users", {"load_request": load})
		# The users no Employee has: not the late joiner (Error rows), nor the one test_08 mapped.
		self.assertEqual(rows, USERS - MAPPED - 2)
		buttons = self.visible(".cams-map-device-user")
		self.assertTrue(buttons, "no Set on Employee button")
		right = self.js("return arguments[0].getBoundingClientRect().right", buttons[0])
		self.assertLessEqual(right, self.js("return window.innerWidth"), "Set on Employee is off-screen")
		self.screenshot("report-unmapped-device-users")

	def test_12_device_health_report_shows_the_device(self):
		self.needs("load", "test_04")
		self.assert_report_renders("Device Health", {"device": self.stgid})
		self.screenshot("report-device-health")

	def test_13_daily_punches_report_shows_the_employees_days(self):
		self.needs("load", "test_04")
		company = frappe.db.get_value("Employee", self.employees[0], "company")
		rows = self.assert_report_renders(
			"Daily Punches",
			{"company": company, "from_date": add_days(nowdate(), -4), "to_date": nowdate()},
		)
		self.assertGreaterEqual(rows, MAPPED, "a row per employee and day at least for each employee")
		crumbs = " ".join(e.text for e in self.visible("#navbar-breadcrumbs a"))
		self.assertIn("CAMS Biometric", crumbs)
		self.assertNotIn("HR", crumbs.split())
		cut = self.js(
			"const body = $('.dt-scrollable:visible')[0]; return body ? body.scrollWidth - body.clientWidth : -1"
		)
		self.assertLessEqual(cut, 0, "Daily Punches is wider than the screen")
		# First IN shows the time of the day's first IN (the day has its own column), as Frappe
		# shows a datetime: in the user's time zone, which may differ from the site's.
		shown, first_in, as_frappe_shows = self.js(
			"const row = frappe.query_report.data.find((r) => r.first_in);"
			" const cell = $(`.dt-cell__content:contains('${row.employee_name}')`).first().closest('.dt-row')"
			".find('.dt-cell__content').toArray().map((c) => c.textContent.trim());"
			" return [cell, String(row.first_in), frappe.datetime.str_to_user(row.first_in)]"
		)
		self.assertIn(as_frappe_shows.split(" ")[1][:5], " ".join(shown), (shown, first_in, as_frappe_shows))
		self.screenshot("report-daily-punches")

	def test_14_the_workspace_shows_numbers(self):
		self.needs("load", "test_04")
		cards = self.assert_workspace_numbers("CAMS Biometric")
		self.assertEqual(len(cards), 4, cards)
		# No warning colour on a count that may well be 0 (errors, silent devices, unmapped).
		red = self.js(
			"return $('.number-widget-box .number').toArray()"
			".filter((n) => /rgb\\(203, 41, 41\\)|rgb\\(236, 173, 75\\)/.test(getComputedStyle(n).color)).length"
		)
		self.assertEqual(red, 0, "a number card is red or orange whatever its value")
		errors = self.console_errors()  # also keeps the entries for the report of tearDown
		self.assertEqual(errors, [])
		warnings = [e["message"] for e in self.console_seen if "is not a valid color" in e["message"]]
		self.assertEqual(warnings, [], "the chart has no colour")
		# The setup block is gone once the setup is done, with no empty strip left in its place.
		strips = self.js(
			"return $('.ce-block:visible').toArray().filter((b) => {"
			" const host = [...b.querySelectorAll('*')].find((e) => e.shadowRoot);"
			" const setup = host && host.shadowRoot.querySelector('.cams-setup');"
			" return setup && !setup.innerHTML.trim(); }).length"
		)
		self.assertEqual(strips, 0, "an empty strip above the cards")
		self.screenshot("workspace")

	def test_15_an_employee_is_enrolled_from_their_form(self):
		self.needs("device", "test_03")
		employee, user_id = self.employees[0], self.user_ids[0]
		self.open_form("Employee", employee)
		menu = self.page_button("CAMS Devices")
		menu.click()
		self.wait_for(
			lambda d: [a for a in self.visible(".dropdown-menu.show .dropdown-item") if "Enrol" in a.text]
		)[0].click()
		self.wait_for(
			lambda d: (
				self.js("return !!(window.cur_dialog && cur_dialog.fields_dict.devices)")
				and self.visible(".modal.show input[type='checkbox']")
			),
			message="the Enrol on Devices dialog did not open",
		)
		# Every device of the employee's company is ticked; this site may have others than ours.
		self.js("cur_dialog.fields_dict.devices.select_all(true)")  # as Deselect All does
		ours = self.visible(f".modal.show input[data-unit='{self.stgid}']")[0]
		# The list may be longer than the dialog: bring the box into view, as a user scrolls.
		self.js("arguments[0].scrollIntoView({block: 'center'})", ours)
		ours.click()
		self.screenshot("employee-enrol")
		self.js("window.cams_not_reloaded = true")
		self.wait_for(lambda d: self.visible(".modal.show .btn-primary"))[0].click()
		# The form follows the command by itself (no reload, no socket.io): in progress, then
		# the device's row once it is done.
		self.wait_for(
			lambda d: any("Add User on Browser Gate" in text for text, _ in self.alerts()),
			message=f"no alert followed the Add User command: {self.alerts()}",
		)
		self.js("cur_frm.scroll_to_field('attendance_device_id')")
		block = self.wait_for_worker(
			lambda d: [
				text
				for text in self.texts(".cams-devices-block")
				if "Browser Gate" in text and "Enabled" in text
			],
			message="the Employee form did not show the device the employee is now on",
		)[0]
		self.assertNotIn("In progress", block)
		self.assertTrue(self.js("return window.cams_not_reloaded === true"), "the page was reloaded")
		self.assertIn(user_id, self.gateway.users, "the simulated device holds the employee")
		if "load" in self.state:  # test_04 loaded the employee's punches from this device
			self.assertIn("Punches seen from: Browser Gate", block, "the device's punches are not mentioned")
		self.screenshot("employee-devices")

	def test_16_device_information_is_refreshed_from_the_device_form(self):
		self.needs("device", "test_03")
		self.open_form(DEVICE, self.stgid)
		labels = self.button_labels()
		self.assertIn("Danger Zone", labels, "a System Manager has the danger zone")
		self.page_button("Actions").click()
		self.wait_for(
			lambda d: [
				a
				for a in self.visible(".dropdown-menu.show .dropdown-item")
				if "Device Information" in a.text
			]
		)[0].click()
		# The person stays on the device form, which shows the information once the device answered.
		shown = self.wait_for_worker(
			lambda d: self.js("return cur_frm.doctype === arguments[0] && cur_frm.doc.device_model", DEVICE),
			message="the device form did not show the Device Information (or was left)",
		)
		self.assertEqual(shown, "SIM-1")
		self.assertEqual(self.js("return cur_frm.docname"), self.stgid)
		self.js("cur_frm.scroll_to_field('device_model')")
		self.screenshot("device-information")

	def test_17_remote_enrolment_says_it_waits_until_a_fingerprint_comes_back(self):
		self.needs("device", "test_03")
		employee = self.employees[2]
		self.open_form("Employee", employee)
		self.page_button("CAMS Devices").click()
		self.wait_for(
			lambda d: [a for a in self.visible(".dropdown-menu.show .dropdown-item") if "Remote" in a.text]
		)[0].click()
		self.wait_for(lambda d: self.js("return !!(window.cur_dialog && cur_dialog.fields_dict.device)"))
		options = self.js("return cur_dialog.fields_dict.device.df.options.map((o) => o.value)")
		if len(options) == 1:
			self.assertEqual(self.js("return cur_dialog.get_value('device')"), self.stgid, "the only device")
		self.js("cur_dialog.set_value('device', arguments[0])", self.stgid)
		self.visible(".modal.show .btn-primary")[0].click()
		alerts = self.wait_for(lambda d: self.alerts(), message="Remote Enrolment showed no alert")
		self.assertFalse([a for a, _ in alerts if "waiting for a finger" in a], alerts)
		# This gateway posts no callbacks: the device took the command, no finger came back.
		self.js("cur_frm.scroll_to_field('attendance_device_id')")
		waiting = self.wait_for_worker(
			lambda d: [
				text
				for text in self.texts(".cams-employee-activity p")
				if "no fingerprint has come back" in text
			],
			message="the form does not say the enrolment still waits for a finger",
		)
		self.assertIn("Browser Gate", waiting[0])
		self.screenshot("employee-remote-enrolment")

	def test_18_the_device_form_toolbar_fits_a_narrow_screen(self):
		self.needs("device", "test_03")
		self.driver.set_window_size(1100, 900)
		try:
			self.open_form(DEVICE, self.stgid)
			self.wait_for(lambda d: self.page_button("Load Punchlog"))
			overlap = self.js(
				"const main = $('.layout-main-section:visible')[0].getBoundingClientRect().left;"
				" return $('.page-head .page-actions button:visible').toArray()"
				".filter((b) => b.getBoundingClientRect().left < main - 1).map((b) => b.textContent.trim())"
			)
			self.assertEqual(overlap, [], "buttons over the sidebar at 1100 px")
		finally:
			self.driver.set_window_size(1440, 900)

	# -- helpers -------------------------------------------------------------------------
	def type_into(self, fieldname: str, value: str):
		field = self.wait_for(lambda d: self.visible(f"[data-fieldname='{fieldname}'] input"))[0]
		field.clear()
		field.send_keys(value)
		field.send_keys(Keys.TAB)
		self.wait_for(lambda d: self.js("return cur_frm.doc[arguments[0]]", fieldname) == value)
