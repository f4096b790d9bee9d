"""Strings from a device never run in the desk (issue 18).

Hostile strings go into every field a device supplies, through the real callback (punch,
photo, UserUpdated, UserDeleted, DateModified, a command reply) and through the simulated
gateway's REST replies (LoadLog rows, Device Information, a refused Add User). Then an HR
Manager opens every page that can show them: the lists and report views, the forms, the
three reports, the workspace, the Employee form's devices, a checkin's connections, the
dialogs and the notifications. Any alert, any element the strings injected, any script they
ran, and any console error fails the test.
"""

import secrets
import time
from datetime import datetime, timedelta, timezone

import frappe
import requests
from frappe.utils import add_days, now_datetime, nowdate
from selenium.common.exceptions import NoAlertPresentException, UnexpectedAlertPresentException
from selenium.webdriver.support.ui import WebDriverWait

from browser import harness
from browser.harness import HRManagerDeskTestCase, fresh_snapshot
from cams_biometric import commands, loads, processing
from cams_biometric.constants import CHECKIN, DEVICE, DEVICE_EVENT, DEVICE_USER, RAW_PUNCH, SETTINGS
from cams_biometric.protocol import constants as c
from cams_biometric.protocol.logtime import format_logtime
from cams_biometric.protocol.simulator import Gateway, GatewayServer
from cams_biometric.protocol.simulator.callbacks import (
	date_modified_body,
	photo_body,
	post_callbacks,
	realtime_body,
)
from cams_biometric.tests.utils import cleanup, delete_employees, make_device, make_employee, reset_settings

MARK = "data-cams-xss"
# Each would show itself: an alert, an element carrying MARK, or window.__cams_xss set.
IMG = f"<img src=x {MARK} onerror=alert(1)>"
SVG = f'"><svg {MARK} onload=alert(2)>'
SCRIPT = "<script>window.__cams_xss=3</script>"
HOSTILE = IMG + SVG + SCRIPT
# What the desk shows of them once they are text.
SHOWN = "img src=x"
LOAD_REQUEST = "CAMS Load Request"
# A list has drawn its rows, or said it has none; a report view its first row.
LIST_READY = ".list-row-container, .no-result"
REPORT_VIEW_READY = ".dt-scrollable .dt-row, .dt-scrollable__no-data"
COMMAND = "CAMS Device Command"
ROLLOUT = "CAMS Device Rollout"


class TestHostileStrings(HRManagerDeskTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		try:
			cls.prepare()
		except Exception:
			cls.tearDownClass()
			raise

	@classmethod
	def prepare(cls):
		tag = secrets.token_hex(3).upper()
		cls.stgid = f"XSS{tag}"
		cls.token = secrets.token_urlsafe(24)[:32]
		cls.mapped_id, cls.unmapped_id = f"X{tag}1", f"X{tag}2"
		now = datetime.now(timezone(timedelta(hours=5, minutes=30))).replace(microsecond=0)
		cls.times = [format_logtime(now - timedelta(hours=6, minutes=i)) for i in range(8)]

		reset_settings()
		cls.endpoint_before = frappe.db.get_single_value(SETTINGS, "restful_endpoint")
		make_device(service_tag_id=cls.stgid, auth_token=cls.token, device_label="Hostile Gate")
		cls.employee = make_employee(cls.mapped_id, first_name="Nila")
		cls.spare_employee = make_employee(None, first_name="Omar")

		# The gateway's REST replies: LoadLog rows and Device Information, hostile (the
		# simulator needs readable LogTimes to page by; the callbacks send hostile ones).
		rows = [
			{"Type": IMG, "InputType": HOSTILE, "UserID": cls.unmapped_id, "LogTime": cls.times[0]},
			{"Type": "CheckIn", "InputType": HOSTILE, "UserID": HOSTILE, "LogTime": cls.times[1]},
			{
				"Type": "CheckOut",
				"InputType": SVG,
				"UserID": cls.mapped_id,
				"LogTime": cls.times[2],
			},
			{"Type": "CheckIn", "InputType": SCRIPT, "UserID": cls.mapped_id, "LogTime": cls.times[3]},
		]
		cls.gateway = Gateway(cls.stgid, cls.token, rows, label=HOSTILE, serial_number=HOSTILE)
		information = cls.gateway.device_information
		cls.gateway.device_information = lambda: {
			**information(),
			"DeviceModel": HOSTILE,
			"Manufacturer": SVG,
			"MacAddress": SCRIPT,
		}
		# The device already holds the mapped user, under a hostile name: Add User is refused,
		# and the command's error quotes that name.
		with cls.gateway.lock:
			cls.gateway._add_user(cls.mapped_id, {c.FIRST_NAME: IMG, c.LAST_NAME: SVG}, "User", [])
		cls.server = GatewayServer(cls.gateway).start()
		frappe.db.set_single_value(SETTINGS, "restful_endpoint", cls.server.url)
		frappe.db.commit()  # nosemgrep: the web server and the worker read it

		cls.send_callbacks()
		name = loads.start_load(cls.stgid, str(now_datetime() - timedelta(days=1)), str(now_datetime()))
		commands.queue_command(cls.stgid, "Device Information")
		commands.queue_command(cls.stgid, "Add User", employee=cls.employee)
		frappe.db.commit()  # nosemgrep
		cls.wait_for_jobs(name)
		cls.store_raw_markup()

	@classmethod
	def store_raw_markup(cls):
		"""Markup as the landed app stored it (rows of before the fix, or written by some other
		way than the callback): the pages must escape it, not rely on the callback's cleaning."""
		fresh_snapshot()
		[error_row, *_] = frappe.get_all(
			RAW_PUNCH, filters={"device": cls.stgid, "status": "Error"}, pluck="name"
		)
		frappe.db.set_value(RAW_PUNCH, error_row, {"error": HOSTILE, "punch_type": IMG, "input_type": SVG})
		frappe.db.set_value(
			RAW_PUNCH,
			{"device": cls.stgid, "status": "Unmapped"},
			{"device_user_id": IMG, "error": HOSTILE},
		)
		frappe.db.set_value(
			DEVICE_USER, {"device": cls.stgid}, {"full_name": HOSTILE, "templates_summary": HOSTILE}
		)
		frappe.db.set_value(DEVICE_EVENT, {"device": cls.stgid}, {"result": HOSTILE, "event_time": IMG})
		frappe.db.set_value(COMMAND, {"device": cls.stgid}, {"error": HOSTILE, "note": SVG})
		frappe.db.set_value(LOAD_REQUEST, {"device": cls.stgid}, {"error": HOSTILE})
		frappe.db.set_value(
			DEVICE,
			cls.stgid,
			{
				"device_model": HOSTILE,
				"manufacturer": IMG,
				"reported_serial_number": HOSTILE,
				"device_information_error": HOSTILE,
			},
			update_modified=False,
		)
		# A rollout's rows keep the names a device knew and the errors it gave (written
		# directly, as its job does).
		rollout = frappe.get_doc(
			{
				"doctype": ROLLOUT,
				"kind": "Enrol Employees",
				"device": cls.stgid,
				"status": "Completed",
				"total": 1,
				"failed": 1,
				"items": [{"device_user_id": "H1", "status": "Failed"}],
			}
		)
		rollout.flags.from_rollout = True
		rollout.insert(ignore_permissions=True)
		frappe.db.set_value(ROLLOUT, rollout.name, {"message": HOSTILE, "criteria": HOSTILE})
		frappe.db.set_value(
			"CAMS Device Rollout Item", rollout.items[0].name, {"full_name": HOSTILE, "reason": HOSTILE}
		)
		frappe.db.commit()  # nosemgrep: the web server reads it

	@classmethod
	def send_callbacks(cls):
		"""Every callback event, each field a device fills hostile, to the real callback URL."""
		session = requests.Session()
		session.headers["Host"] = harness.SITE
		url = f"http://127.0.0.1:{harness.PORT}/api/method/cams_biometric.api.callback?stgid={cls.stgid}"

		def body(key, event):
			built = realtime_body(key, event, cls.token, serial_number=HOSTILE, label=HOSTILE)
			built[c.REALTIME][c.OPERATION_ID] = IMG
			return built

		def punch(user_id, log_time, punch_type="CheckIn", input_type=HOSTILE):
			return {"Type": punch_type, "InputType": input_type, "UserId": user_id, "LogTime": log_time}

		template = {"Type": IMG, "Index": SVG, "UserID": cls.mapped_id, "Data": "AAAA", "Size": SCRIPT}
		bodies = [
			body(c.PUNCH_LOG, punch(HOSTILE, cls.times[4])),
			body(c.PUNCH_LOG, punch(cls.unmapped_id, cls.times[5], punch_type=SVG)),
			body(c.PUNCH_LOG, punch(cls.unmapped_id, cls.times[6], punch_type="CheckIn")),
			body(c.PUNCH_LOG, punch(cls.mapped_id, cls.times[7], punch_type="CheckIn")),
			body(c.PUNCH_LOG, punch(cls.mapped_id, f"2024-09-17 {SCRIPT}")),
			photo_body({"UserID": cls.mapped_id, "LogTime": cls.times[7]}, cls.token, HOSTILE, HOSTILE),
			photo_body({"UserID": HOSTILE, "LogTime": HOSTILE}, cls.token, HOSTILE, HOSTILE),
			body(
				c.USER_UPDATED,
				{
					"UserID": cls.mapped_id,
					"FirstName": IMG,
					"LastName": SVG,
					"UserType": SCRIPT,
					"OperationTime": HOSTILE,
					"Template": [template],
				},
			),
			body(c.USER_UPDATED, {"UserID": cls.unmapped_id, "FirstName": HOSTILE, "LastName": SCRIPT}),
			body(c.USER_DELETED, {"UserID": HOSTILE, "OperationTime": HOSTILE}),
			date_modified_body(
				HOSTILE, cls.token, operation_time=HOSTILE, serial_number=HOSTILE, label=HOSTILE
			),
			# A lazy reply to a RESTful command, shaped as the gateway's replies are.
			{
				"Status": HOSTILE,
				"StatusCode": 0,
				"OperationID": IMG,
				"AuthToken": cls.token,
				"Message": HOSTILE,
			},
		]
		outcomes = post_callbacks(url, bodies, session=session, timeout=30)
		assert outcomes == ["200"] * len(bodies), outcomes

	@classmethod
	def wait_for_jobs(cls, load: str, timeout: float = 180):
		"""The worker takes the load's pages, the commands and the punches' checkins."""
		started = time.monotonic()
		deadline = started + timeout
		while time.monotonic() < deadline:
			# RQ's suspension (a tier-2 run on this Redis) holds the worker: wait it out, up to
			# the 5 minutes a suspension lasts at most.
			if harness.workers_suspended():
				deadline = min(max(deadline, time.monotonic() + 10), started + timeout + 330)
			fresh_snapshot()
			load_done = frappe.db.get_value(LOAD_REQUEST, load, "status") not in ("Queued", "Running")
			commands_done = not frappe.db.exists(
				COMMAND, {"device": cls.stgid, "status": ("in", ("Queued", "Sent"))}
			)
			punches_done = not frappe.db.exists(RAW_PUNCH, {"device": cls.stgid, "status": "Pending"})
			if load_done and commands_done and punches_done:
				return
			if load_done and commands_done and time.monotonic() - started > 30:
				# The every-minute sweep's part (browser/run starts no scheduler): a punch stored
				# while a drain was finishing waits for the sweep, by design.
				processing.process_pending_punches(grace_seconds=0)
				frappe.db.commit()  # nosemgrep
			time.sleep(1)
		raise AssertionError(
			"the worker did not take the load, the commands and the punches in time: "
			f"load {frappe.db.get_value(LOAD_REQUEST, load, ['status', 'error'])}, commands "
			f"{frappe.get_all(COMMAND, {'device': cls.stgid}, ['operation', 'status', 'error'], as_list=True)}, "
			f"pending {frappe.db.count(RAW_PUNCH, {'device': cls.stgid, 'status': 'Pending'})}"
		)

	@classmethod
	def tearDownClass(cls):
		try:
			if getattr(cls, "stgid", None):
				fresh_snapshot()
				frappe.db.delete(LOAD_REQUEST, {"device": cls.stgid})
				frappe.db.delete(COMMAND, {"device": cls.stgid})
				for name in frappe.get_all(ROLLOUT, {"device": cls.stgid}, pluck="name"):
					frappe.delete_doc(ROLLOUT, name, force=True, ignore_permissions=True)
				frappe.db.delete("Notification Log", {"for_user": cls.hr_manager})
				cleanup([cls.stgid], [cls.employee, cls.spare_employee])
				delete_employees([cls.employee, cls.spare_employee])
				frappe.db.set_single_value(SETTINGS, "restful_endpoint", cls.endpoint_before)
				frappe.db.commit()  # nosemgrep
		finally:
			if getattr(cls, "server", None):
				cls.server.stop()
			super().tearDownClass()

	# -- checks ----------------------------------------------------------------------------
	def assert_clean(self, where: str, shows_device_text: bool = False):
		"""No alert, no injected element, no script of the strings ran; and the page does show
		them (as text) where it should, so that nothing is proven by a page that showed nothing."""
		time.sleep(0.8)  # banners, dashboards and report cells render after the page
		try:
			alert = self.driver.switch_to.alert
			text = alert.text
			alert.dismiss()
			self.fail(f"{where}: a device string ran a script (alert {text!r})")
		except NoAlertPresentException:
			pass
		injected, ran = self.js(
			"return [document.querySelectorAll(arguments[0]).length, window.__cams_xss || null]", f"[{MARK}]"
		)
		self.assertEqual(injected, 0, f"{where}: a device string made an element")
		self.assertIsNone(ran, f"{where}: a device string ran a script")
		if shows_device_text:
			self.assertIn(SHOWN, self.js("return document.body.innerText"), f"{where} shows no device string")

	def visit(self, path: str, ready_css: str | None = None, **check):
		try:
			self.open(path)
			if ready_css:
				self.wait_for(
					lambda d: self.visible(ready_css), message=f"{path}: nothing matches {ready_css}"
				)
		except UnexpectedAlertPresentException as e:
			self.fail(f"{path}: a device string ran a script ({e.alert_text!r})")
		self.assert_clean(path, **check)

	def visit_report(self, report: str, query: str, **check):
		path = f"/app/query-report/{report}?{query}"
		try:
			self.open(path)
			self.wait_for(
				lambda d: d.execute_script(
					"const r = frappe.query_report; return !!(r && r.report_name === arguments[0]"
					" && !r.loading && r.data)",
					report,
				),
				message=f"the report {report} did not load",
			)
		except UnexpectedAlertPresentException as e:
			self.fail(f"{path}: a device string ran a script ({e.alert_text!r})")
		self.assert_clean(path, **check)

	def visit_form(self, doctype: str, name: str, **check):
		path = f"/app/{frappe.scrub(doctype).replace('_', '-')}/{name}"
		try:
			self.open_form(doctype, name)
		except UnexpectedAlertPresentException as e:
			self.fail(f"{path}: a device string ran a script ({e.alert_text!r})")
		self.assert_clean(path, **check)

	def names(self, doctype: str, **filters) -> list[str]:
		fresh_snapshot()
		return frappe.get_all(doctype, filters={"device": self.stgid, **filters}, pluck="name")

	# -- the pages -------------------------------------------------------------------------
	def test_01_lists_and_report_views(self):
		for doctype in (
			RAW_PUNCH,
			DEVICE_EVENT,
			DEVICE_USER,
			COMMAND,
			LOAD_REQUEST,
			"CAMS Attendance Photo",
			ROLLOUT,
		):
			slug = frappe.scrub(doctype).replace("_", "-")
			shows = doctype in (RAW_PUNCH, DEVICE_USER)
			self.visit(f"/app/{slug}?device={self.stgid}", LIST_READY, shows_device_text=shows)
			self.visit(
				f"/app/{slug}/view/report?device={self.stgid}", REPORT_VIEW_READY, shows_device_text=shows
			)
		self.visit("/app/cams-biometric-device", LIST_READY)

	def test_02_forms(self):
		for doctype in (RAW_PUNCH, DEVICE_EVENT, DEVICE_USER, COMMAND, LOAD_REQUEST, "CAMS Attendance Photo"):
			for name in self.names(doctype):
				self.visit_form(doctype, name)
		# What the device sent shows, as text, on the Error rows that keep it (a row whose user
		# id was refused keeps only the reason; its raw JSON, collapsed, has the rest).
		showing = 0
		for name in self.names(RAW_PUNCH, status="Error"):
			self.visit_form(RAW_PUNCH, name)
			showing += SHOWN in self.js("return document.body.innerText")
		self.assertGreaterEqual(showing, 3, "the Error rows do not show what the device sent")
		self.visit_form(DEVICE, self.stgid)
		[refused] = self.names(COMMAND, operation="Add User")
		self.visit_form(COMMAND, refused, shows_device_text=True)
		[rollout] = self.names(ROLLOUT)
		self.visit_form(ROLLOUT, rollout, shows_device_text=True)
		# Its rows, opened from the table: the name and reason the device gave.
		self.js("cur_frm.fields_dict.items.grid.grid_rows[0].toggle_view(true)")
		self.assert_clean(f"{rollout}'s row", shows_device_text=True)
		self.js("cur_frm.fields_dict.items.grid.grid_rows[0].toggle_view(false)")
		self.visit_report("Enrolment Gaps", f"device={self.stgid}")

	def test_03_the_map_dialog_of_an_unmapped_punch(self):
		[name, *_] = self.names(RAW_PUNCH, status="Unmapped")
		self.visit_form(RAW_PUNCH, name)
		self.page_button("Map to Employee").click()
		self.wait_for(lambda d: self.visible(".modal.show .modal-title"))
		self.assert_clean("the Map to Employee dialog")
		self.js("cur_dialog.hide()")

	def test_04_the_three_reports(self):
		self.visit_report("Unmapped Device Users", f"device={self.stgid}", shows_device_text=True)
		# Set on Employee opens its dialog over the row's user.
		self.wait_for(lambda d: self.visible(".cams-map-device-user"))[0].click()
		self.wait_for(lambda d: self.visible(".modal.show .modal-title"))
		self.assert_clean("the Set on Employee dialog")
		self.js("cur_dialog.hide()")
		self.visit_report("Device Health", f"device={self.stgid}")
		company = frappe.db.get_value("Employee", self.employee, "company")
		self.visit_report(
			"Daily Punches",
			f"company={company}&employee={self.employee}&from_date={add_days(nowdate(), -2)}&to_date={nowdate()}",
		)

	def test_05_the_workspace(self):
		self.visit("/app/cams-biometric", ".number-widget-box")

	def test_06_the_employees_devices_and_a_checkin(self):
		self.open_form("Employee", self.employee)
		self.js("cur_frm.scroll_to_field('attendance_device_id')")
		self.wait_for(
			lambda d: self.visible(".cams-devices-block"), message="no devices block on the Employee"
		)
		self.assert_clean("the Employee form's devices", shows_device_text=True)
		# The enrol dialog lists the devices by label.
		self.page_button("CAMS Devices").click()
		self.wait_for(
			lambda d: [a for a in self.visible(".dropdown-menu.show .dropdown-item") if "Enrol" in a.text]
		)[0].click()
		self.wait_for(lambda d: self.visible(".modal.show input[type='checkbox']"))
		self.assert_clean("the Enrol on Devices dialog")
		self.js("cur_dialog.hide()")

		fresh_snapshot()
		checkins = frappe.get_all(
			RAW_PUNCH, filters={"device": self.stgid, "status": "Processed"}, pluck="employee_checkin"
		)
		self.assertTrue(checkins, "no punch of the mapped user became a checkin")
		self.visit_form(CHECKIN, checkins[0])
		self.wait_for(
			lambda d: self.visible(".form-dashboard .document-link[data-doctype='CAMS Raw Punch Log']"),
			message="the checkin's connections do not show its raw punch",
		)
		self.assert_clean("the checkin's connections")

	def test_07_notifications(self):
		fresh_snapshot()
		notifications = frappe.get_all(
			"Notification Log", filters={"for_user": self.hr_manager}, pluck="name"
		)
		self.assertTrue(notifications, "the clock change notified no HR Manager")
		self.open("/app")
		self.wait_for(lambda d: self.visible(".dropdown-notifications .nav-link"))[0].click()
		WebDriverWait(self.driver, 10).until(
			lambda d: self.visible(".notification-item-tabs, .notifications-list")
		)
		self.assert_clean("the notifications dropdown", shows_device_text=True)
		self.visit("/app/notification-log", ".list-row-container")
		for name in notifications:
			self.visit_form("Notification Log", name)
