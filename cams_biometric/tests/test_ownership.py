"""Biometric data goes only to its owner (issue 17): templates follow the person, not the id;
every way to send a command checks what the Employee form checks; no failure logs template
data; erasure leaves no copy; a device cannot grow a user without bound; the evidence is not
rewritable; a company User Permission reaches every report, card and chart.

Each test replays a case of the adversarial review, as the role it names, and the HTTP ones
go through Frappe's real WSGI application as that user (API key)."""

import json
import threading
from datetime import datetime, timezone

import frappe
from frappe.utils import get_test_client, getdate, now_datetime
from frappe.utils.background_jobs import execute_job
from frappe.utils.password import decrypt

from cams_biometric import commands, employee_devices, health, processing
from cams_biometric.constants import ATTENDANCE_PHOTO, DEVICE, DEVICE_EVENT, DEVICE_USER, RAW_PUNCH, SETTINGS
from cams_biometric.protocol import constants as c
from cams_biometric.protocol.logtime import format_logtime
from cams_biometric.protocol.simulator import Gateway, GatewayServer, photo_body, photo_jpeg
from cams_biometric.tests.test_permissions import make_user
from cams_biometric.tests.utils import (
	CamsTestCase,
	Step,
	cleanup,
	delete_employees,
	drop_queued_job,
	make_device,
	make_employee,
	post_callback,
	punch_body,
	run_queued_job,
	unique,
)

ASHA_FINGER = "QVNIQS1GSU5HRVJQUklOVA" * 30
STRANGER_FINGER = "U1RSQU5HRVItRklOR0VS" * 30
DONE = b'{"status":"done"}'
ALPHA_HR = "cams-test-alpha-hr-manager@example.com"


def no_sleep(seconds):
	pass


def second_company() -> str:
	"""A company besides the test site's own, kept across runs (creating one takes a while)."""
	name = "CAMS Test Beta"
	if not frappe.db.exists("Company", name):
		frappe.get_doc(
			{
				"doctype": "Company",
				"company_name": name,
				"abbr": "CTBETA",
				"default_currency": frappe.db.get_value("Company", first_company(), "default_currency"),
				"country": frappe.db.get_value("Company", first_company(), "country"),
			}
		).insert(ignore_permissions=True)
		frappe.db.commit()  # nosemgrep
	return name


def first_company() -> str:
	return frappe.defaults.get_global_default("company") or frappe.get_all("Company", pluck="name")[0]


def hr_manager() -> str:
	"""The shared HR Manager of the tests, enabled: its API key must authenticate."""
	user = make_user("HR Manager", "Employee")
	frappe.db.set_value("User", user, "enabled", 1)
	frappe.db.commit()  # nosemgrep
	return user


def hr_manager_of(company: str) -> str:
	"""An HR Manager limited by a User Permission to ``company``."""
	user = hr_manager()  # the shared user, for its roles only
	make_user(*frappe.get_roles(user), email=ALPHA_HR)
	frappe.db.delete("User Permission", {"user": ALPHA_HR})
	frappe.get_doc(
		{
			"doctype": "User Permission",
			"user": ALPHA_HR,
			"allow": "Company",
			"for_value": company,
			"apply_to_all_doctypes": 1,
		}
	).insert(ignore_permissions=True)
	frappe.db.commit()  # nosemgrep
	return ALPHA_HR


def http_as(user: str, method: str, path: str, **kwargs):
	"""One request through Frappe's WSGI application as ``user`` (API key), in its own thread."""
	from frappe.core.doctype.user.user import generate_keys

	current = frappe.session.user
	frappe.set_user("Administrator")
	secret = generate_keys(user)["api_secret"]
	api_key = frappe.db.get_value("User", user, "api_key")
	frappe.set_user(current)
	frappe.db.commit()  # nosemgrep: the request runs in its own connection
	site, result = frappe.local.site, {}
	headers = {"X-Frappe-Site-Name": site, "Authorization": f"token {api_key}:{secret}"}

	def go():
		result["response"] = get_test_client(use_cookies=False).open(
			path, method=method, headers=headers, **kwargs
		)

	thread = threading.Thread(target=go)
	thread.start()
	thread.join()
	frappe.db.rollback()
	return result["response"]


class TestOwnership(CamsTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.alpha, cls.beta = first_company(), second_company()
		cls.alpha_hr = hr_manager_of(cls.alpha)
		cls.settings_before = frappe.db.get_value(
			SETTINGS, None, ["restful_endpoint", "keep_biometric_templates"], as_dict=True
		)

	@classmethod
	def tearDownClass(cls):
		for field, value in cls.settings_before.items():
			frappe.db.set_single_value(SETTINGS, field, value)
		frappe.db.commit()  # nosemgrep
		super().tearDownClass()

	def setUp(self):
		super().setUp()
		frappe.local.conf["cams_biometric_allow_http_endpoint"] = 1
		self.gateways, self.employees = {}, []
		for key, company in (("A1", self.alpha), ("A2", self.alpha), ("B1", self.beta)):
			stgid, token = make_device(company=company, device_label=unique(f"{key} door "))
			self.gateways[key] = Gateway(stgid, token)
		self.A1, self.A2, self.B1 = (self.gateways[k].service_tag_id for k in ("A1", "A2", "B1"))
		self.devices = [self.A1, self.A2, self.B1]
		first, *more = self.gateways.values()
		self.server = GatewayServer(first, more=tuple(more)).start()
		frappe.db.set_single_value(SETTINGS, "restful_endpoint", self.server.url)
		frappe.db.set_single_value(SETTINGS, "keep_biometric_templates", 1)
		frappe.db.commit()  # nosemgrep

	def tearDown(self):
		frappe.set_user("Administrator")
		frappe.db.rollback()
		self.server.stop()
		for name in frappe.get_all(commands.COMMAND, {"device": ("in", self.devices)}, pluck="name"):
			drop_queued_job(f"cams_biometric:command:{name}")
		frappe.db.delete(commands.COMMAND, {"device": ("in", self.devices)})
		frappe.db.delete("Deleted Document", {"deleted_doctype": ("in", (ATTENDANCE_PHOTO, DEVICE_USER))})
		cleanup(self.devices, self.employees)
		delete_employees(self.employees)

	# -- helpers -----------------------------------------------------------------------------
	def employee(self, user_id, company=None, **values) -> str:
		name = make_employee(user_id, company=company or self.alpha, **values)
		self.employees.append(name)
		return name

	def user_updated(self, key: str, user_id: str, templates: list[dict], first_name="Someone"):
		"""The device ``key`` reports a user added or changed at its reader."""
		gateway = self.gateways[key]
		event = {
			"UserID": user_id,
			"FirstName": first_name,
			"LastName": "",
			"UserType": "User",
			"OperationTime": format_logtime(datetime.now(timezone.utc).replace(microsecond=0)),
			"Template": templates,
		}
		body = {
			"RealTime": {"OperationID": unique("op"), "AuthToken": gateway.auth_token, "UserUpdated": event}
		}
		response = post_callback(body, gateway.service_tag_id)
		self.assertEqual(response.get_data(), DONE)
		gateway._add_user(user_id, {"FirstName": first_name}, "User", templates)
		return response

	def fingerprint(self, user_id, data, index="0"):
		return {"Type": "Fingerprint", "UserID": user_id, "Data": data, "Index": index}

	def run_commands(self, names) -> list:
		frappe.db.commit()  # nosemgrep: the jobs are queued on commit
		for name in names:
			run_queued_job(f"cams_biometric:command:{name}")
		frappe.db.rollback()
		return [frappe.get_doc(commands.COMMAND, name) for name in names]

	def kept_template_data(self) -> str:
		"""Everything the directory keeps of these devices' users, decrypted."""
		states = frappe.get_all(DEVICE_USER, {"device": ("in", self.devices)}, pluck="state")
		return " ".join(decrypt(state) for state in states if state)

	def row(self, device, user_id):
		return frappe.get_doc(DEVICE_USER, {"device": device, "device_user_id": user_id})

	# -- 1. enrolment copies only the employee's own templates --------------------------------
	def test_a_reused_id_does_not_enrol_the_new_holder_with_the_old_holders_fingerprint(self):
		user_id = unique("R")
		asha = self.employee(user_id, first_name="Asha", last_name="Old")
		self.user_updated("A1", user_id, [self.fingerprint(user_id, ASHA_FINGER)], "Asha")

		# HR sets her Left and clears her id in one save; a new hire gets the id.
		doc = frappe.get_doc("Employee", asha)
		doc.update(
			{"status": "Left", "relieving_date": getdate(now_datetime()), "attendance_device_id": None}
		)
		doc.save()
		nina = self.employee(user_id, first_name="Nina", last_name="New")

		[command] = self.run_commands(employee_devices.enrol(nina, [self.A2], copy_templates=1))
		self.assertEqual(command.status, "Done")
		held = self.gateways["A2"].users[user_id]
		self.assertEqual(held[c.FIRST_NAME], "Nina")
		self.assertEqual(held[c.TEMPLATE], [], "Asha's fingerprint is not Nina's")
		self.assertNotIn("templates_from", command.parameters)
		# What was kept of Asha under the id she no longer has is erased; the row is Nina's now.
		row = self.row(self.A1, user_id)
		self.assertIn(f"Erased: the Attendance Device ID of {asha} changed", row.templates_summary)
		self.assertEqual((row.employee, row.template_count, row.template_owner), (nina, 0, None))
		self.assertNotIn(ASHA_FINGER, self.kept_template_data())

	def test_a_stranger_of_another_company_or_before_the_id_was_given_is_never_a_source(self):
		user_id = unique("S")
		# B1 (company Beta) holds its own user with this id, and A2 one nobody had yet.
		self.user_updated("B1", user_id, [self.fingerprint(user_id, STRANGER_FINGER)])
		self.user_updated("A2", user_id, [self.fingerprint(user_id, STRANGER_FINGER, "3")])
		vik = self.employee(user_id, first_name="Vik")
		self.assertIsNone(self.row(self.B1, user_id).employee, "Beta's user is not Alpha's Vik")
		self.assertIsNone(
			employee_devices.template_source(
				frappe._dict(name=vik, attendance_device_id=user_id, company=self.alpha, branch=None)
			)
		)

		[command] = self.run_commands(employee_devices.enrol(vik, [self.A1], copy_templates=1))
		self.assertEqual(command.status, "Done")
		self.assertEqual(self.gateways["A1"].users[user_id][c.TEMPLATE], [])

		# Once Vik gives a fingerprint himself, it is his to copy, and the stranger's is gone.
		vik_finger = unique("VIK") * 20
		self.user_updated("A1", user_id, [self.fingerprint(user_id, vik_finger)], "Vik")
		source = employee_devices.template_source(
			frappe._dict(name=vik, attendance_device_id=user_id, company=self.alpha, branch=None),
			exclude_device=self.A2,
		)
		self.assertEqual(source, self.row(self.A1, user_id).name)
		# A2's user of that id, reported before Vik had it, is kept for no one; B1's is Beta's own.
		for device in (self.A1, self.A2):
			self.assertNotIn(STRANGER_FINGER, decrypt(self.row(device, user_id).state))
		self.assertIsNone(self.row(self.A2, user_id).template_owner)

	# -- 2. every way to send a command checks the same --------------------------------------
	def test_send_command_checks_device_employee_and_scope_as_the_employee_form_does(self):
		beta_employee = self.employee(unique("B"), company=self.beta)
		asha_id = unique("R")
		asha = self.employee(asha_id, first_name="Asha")
		self.user_updated("A1", asha_id, [self.fingerprint(asha_id, ASHA_FINGER)], "Asha")
		asha_row = self.row(self.A1, asha_id).name

		frappe.set_user(self.alpha_hr)
		with self.assertRaises(frappe.PermissionError):
			employee_devices.enrol(beta_employee, [self.B1])
		for device, kwargs in (
			(self.B1, {"employee": beta_employee}),  # another company's device and employee
			(self.A1, {"employee": beta_employee}),  # an employee the user may not read
			(self.B1, {"device_user_id": "2002"}),  # a device the user may not read
		):
			with self.subTest(device=device, **kwargs), self.assertRaises(frappe.PermissionError):
				commands.send_command(device, "Delete User", **kwargs)
		with self.assertRaises(frappe.PermissionError):
			commands.send_command(
				self.B1, "Add User", device_user_id="2002", parameters={"templates_from": asha_row}
			)
		# The same as an HTTP client: 403, and nothing queued.
		response = http_as(
			self.alpha_hr,
			"POST",
			"/api/method/cams_biometric.commands.send_command",
			json={
				"device": self.B1,
				"operation": "Add User",
				"device_user_id": "2002",
				"parameters": {"templates_from": asha_row},
			},
		)
		self.assertEqual(response.status_code, 403)
		frappe.set_user("Administrator")
		self.assertFalse(frappe.get_all(commands.COMMAND, {"device": self.B1}))

		# Even a System Manager names no template source: the server picks the employee's own.
		with self.assertRaises(frappe.PermissionError):
			commands.send_command(
				self.A2, "Add User", device_user_id="2002", parameters={"templates_from": asha_row}
			)
		[added] = self.run_commands(
			[commands.send_command(self.A2, "Add User", employee=asha, parameters={"copy_templates": 1})]
		)
		self.assertEqual(added.status, "Done")
		self.assertEqual([t["Data"] for t in self.gateways["A2"].users[asha_id][c.TEMPLATE]], [ASHA_FINGER])

	# -- 3. no template in an Error Log; a command the device carried out is recorded -----------
	def enrol_asha_on_a2(self) -> tuple[str, str]:
		asha_id = unique("R")
		asha = self.employee(asha_id, first_name="Asha")
		self.user_updated("A1", asha_id, [self.fingerprint(asha_id, ASHA_FINGER)], "Asha")
		[name] = employee_devices.enrol(asha, [self.A2])
		frappe.db.commit()  # nosemgrep
		drop_queued_job(f"cams_biometric:command:{name}")  # played below
		return asha_id, name

	def lock_device(self, device) -> Step:
		step = Step(
			frappe.local.site,
			lambda: frappe.db.sql(f"select name from `tab{DEVICE}` where name = %s for update", device),
			frappe.db.rollback,
		)
		step.go()
		return step

	def test_a_command_job_failing_after_building_its_request_logs_no_template(self):
		asha_id, name = self.enrol_asha_on_a2()
		since = now_datetime()
		holder = self.lock_device(self.A2)  # the directory cannot be written meanwhile
		site, outcome = frappe.local.site, {}

		def worker():
			# As an RQ worker runs it (Frappe's execute_job), with a short lock wait.
			frappe.init(site=site)
			frappe.connect()
			try:
				frappe.local.conf["cams_biometric_retry_base_seconds"] = 0.01
				frappe.local.conf["cams_biometric_allow_http_endpoint"] = 1
				frappe.db.sql("set session innodb_lock_wait_timeout = 1")
				execute_job(
					site,
					"cams_biometric.commands.run_command_job",
					None,
					f"cams_biometric:command:{name}",
					{"name": name},
					user="Administrator",
					is_async=False,
				)
			except Exception as e:
				outcome["raised"] = repr(e)
			finally:
				frappe.destroy()

		thread = threading.Thread(target=worker)
		thread.start()
		thread.join()
		holder.go()
		frappe.db.rollback()

		logs = frappe.get_all(
			"Error Log", {"creation": (">=", since)}, ["name", "method", "error"], order_by="creation"
		)
		command = frappe.get_doc(commands.COMMAND, name)
		self.assertTrue(logs, f"the failure is logged ({outcome}, {command.status}, {command.note})")
		for log in logs:
			self.assertNotIn(ASHA_FINGER, log.error + log.method)
			self.assertNotIn(ASHA_FINGER[:40], log.error)
		self.assertNotIn("raised", outcome, "the job handles its own failure")
		command = frappe.get_doc(commands.COMMAND, name)
		# The device added the user: the command says so, and why the directory lags.
		self.assertEqual(command.status, "Done")
		self.assertIn("could not be recorded", command.note)
		self.assertIn(asha_id, self.gateways["A2"].users)
		frappe.db.delete("Error Log", {"name": ("in", [log.name for log in logs])})
		frappe.db.commit()  # nosemgrep

	def test_bookkeeping_that_fails_once_is_retried_and_the_directory_records_the_user(self):
		asha_id, name = self.enrol_asha_on_a2()
		holder = self.lock_device(self.A2)
		frappe.db.sql("set session innodb_lock_wait_timeout = 1")
		waits = []
		try:
			status = commands.run_command(name, sleep=lambda seconds: waits.append(holder.go()))
		finally:
			frappe.db.sql("set session innodb_lock_wait_timeout = @@global.innodb_lock_wait_timeout")
		self.assertEqual((status, len(waits)), ("Done", 1))
		row = self.row(self.A2, asha_id)
		self.assertEqual((row.status, row.template_count), ("Active", 1))
		self.assertIsNone(frappe.db.get_value(commands.COMMAND, name, "note"))

	# -- 4. erasure leaves nothing behind, and follows the person -----------------------------
	def test_deleting_an_employee_whose_id_was_reused_erases_their_templates(self):
		user_id = unique("R")
		asha = self.employee(user_id, first_name="Asha")
		self.user_updated("A1", user_id, [self.fingerprint(user_id, ASHA_FINGER)], "Asha")
		self.user_updated("A2", user_id, [self.fingerprint(user_id, ASHA_FINGER, "1")], "Asha")
		frappe.get_doc("Employee", asha).update({"attendance_device_id": None}).save()
		nina = self.employee(user_id, first_name="Nina")
		frappe.delete_doc("Employee", asha, ignore_permissions=True)
		self.employees.remove(asha)
		self.assertNotIn(ASHA_FINGER, self.kept_template_data())
		for device in (self.A1, self.A2):
			row = self.row(device, user_id)
			self.assertEqual((row.employee, row.template_count), (nina, 0))

	def test_a_deleted_photo_or_device_user_leaves_no_copy_that_restore_brings_back(self):
		user_id = unique("P")
		self.employee(user_id)
		gateway = self.gateways["A1"]
		moment = datetime(2024, 9, 17, 9, 2, 14, tzinfo=timezone.utc)
		jpeg = photo_jpeg(unique("photo of "))
		body = photo_body(
			{"UserID": user_id, "LogTime": format_logtime(moment)}, gateway.auth_token, jpeg=jpeg
		)
		self.assertEqual(post_callback(body, self.A1).get_data(), DONE)
		[photo] = frappe.get_all(ATTENDANCE_PHOTO, {"device": self.A1}, pluck="name")
		self.user_updated("A1", user_id, [self.fingerprint(user_id, ASHA_FINGER)])
		device_user = self.row(self.A1, user_id).name

		frappe.set_user(hr_manager())
		frappe.delete_doc(ATTENDANCE_PHOTO, photo)
		frappe.delete_doc(DEVICE_USER, device_user)
		frappe.set_user("Administrator")
		frappe.db.commit()  # nosemgrep: erased for good, as a request would

		from frappe.core.doctype.deleted_document.deleted_document import restore

		for doctype, name in ((ATTENDANCE_PHOTO, photo), (DEVICE_USER, device_user)):
			with self.subTest(doctype=doctype):
				[deleted] = frappe.get_all(
					"Deleted Document",
					{"deleted_doctype": doctype, "deleted_name": name},
					["name", "data"],
				)
				data = json.loads(deleted.data)
				self.assertFalse(data.get("photo") or data.get("state"), "no payload kept")
				self.assertNotIn(ASHA_FINGER, deleted.data)
				with self.assertRaises(frappe.PermissionError):
					restore(deleted.name)
				frappe.db.rollback()
				self.assertFalse(frappe.db.exists(doctype, name))
		response = http_as(
			hr_manager(),
			"GET",
			"/api/method/cams_biometric.photos.photo_image",
			query_string={"name": photo},
		)
		self.assertNotEqual(response.status_code, 200)
		self.assertFalse(
			frappe.get_all("Version", {"ref_doctype": ("in", (ATTENDANCE_PHOTO, DEVICE_USER))}, limit=1)
		)

	# -- 5. what is kept per user is bounded ---------------------------------------------------
	def test_a_device_cannot_grow_a_users_templates_without_bound(self):
		user_id = unique("G")
		self.employee(user_id)
		huge = "F" * (1400 * 1024)
		for index in range(3):
			face = {"Type": "Face", "UserID": user_id, "Data": huge, "Index": f"x{index}"}
			self.user_updated("A1", user_id, [face])
		oversized = {"Type": "Face", "UserID": user_id, "Data": huge, "Index": "1"}
		self.user_updated("A1", user_id, [oversized, self.fingerprint(user_id, ASHA_FINGER)])
		row = self.row(self.A1, user_id)
		self.assertEqual(row.template_count, 1, "only the fingerprint is kept")
		self.assertLess(len(frappe.db.get_value(DEVICE_USER, row.name, "state")), 64 * 1024)
		results = frappe.get_all(
			DEVICE_EVENT,
			{"device": self.A1, "event_type": "User Updated", "device_user_id": user_id},
			pluck="result",
			order_by="creation",
		)
		self.assertEqual(len(results), 4)
		self.assertIn("Face x0: the Index must be a number from 0 to 15", results[0])
		self.assertIn("Face 1: 1433600 characters, more than the 65536", results[3])
		self.assertNotIn("Fingerprint", results[3])

	# -- 6. the evidence is not rewritable -----------------------------------------------------
	def test_hr_managers_cannot_rewrite_a_raw_punch(self):
		gateway = self.gateways["A1"]
		post_callback(punch_body(gateway.auth_token, "4242", "2024-09-17 07:48:22 GMT +0300"), self.A1)
		raw = frappe.get_doc(RAW_PUNCH, {"device": self.A1})
		manager = hr_manager()
		response = http_as(
			manager,
			"PUT",
			f"/api/resource/{RAW_PUNCH}/{raw.name}",
			json={"device_user_id": "9999", "punch_time": "2024-09-18 10:00:00", "device": self.A2},
		)
		self.assertEqual(response.status_code, 403)
		frappe.set_user(manager)
		doc = frappe.get_doc(RAW_PUNCH, raw.name)
		doc.device_user_id = "9999"
		with self.assertRaises(frappe.PermissionError):
			doc.save()
		frappe.set_user("Administrator")
		after = frappe.get_doc(RAW_PUNCH, raw.name)
		self.assertEqual(
			(after.device_user_id, after.punch_time, after.device),
			(raw.device_user_id, raw.punch_time, raw.device),
		)

	def test_commands_are_made_only_by_the_apps_own_paths(self):
		manager = hr_manager()
		response = http_as(
			manager,
			"POST",
			f"/api/resource/{commands.COMMAND}",
			json={"device": self.A1, "operation": "Delete All Users", "status": "Done"},
		)
		self.assertEqual(response.status_code, 403)
		self.assertFalse(frappe.get_all(commands.COMMAND, {"device": self.A1}))
		[name] = self.run_commands([commands.send_command(self.A1, "Resend All Users")])
		frappe.set_user(manager)
		doc = frappe.get_doc(commands.COMMAND, name.name)
		doc.status = "Failed"
		with self.assertRaises(frappe.PermissionError):
			doc.save(ignore_permissions=True)

	# -- 7. a company User Permission reaches reports, cards and the chart ---------------------
	def test_company_user_permissions_reach_every_report_card_and_the_chart(self):
		from frappe.desk.query_report import run

		from cams_biometric.cams_biometric.dashboard_chart_source.cams_punches_per_device import (
			cams_punches_per_device as chart,
		)
		from cams_biometric.workspace import silent_devices_card, unmapped_device_users_card

		today = format_logtime(datetime.now(timezone.utc).replace(microsecond=0))
		for key in ("A1", "B1"):
			gateway = self.gateways[key]
			post_callback(punch_body(gateway.auth_token, unique("U"), today), gateway.service_tag_id)
		processing.process_pending_punches(grace_seconds=0)  # the drain a worker would run
		frappe.db.commit()  # nosemgrep
		b1_label = frappe.db.get_value(DEVICE, self.B1, "device_label")
		frappe.db.set_value(DEVICE, self.B1, "last_punch_received", "2020-01-01 00:00:00")  # silent
		unmapped_everywhere = unmapped_device_users_card()["value"]
		silent_everywhere = silent_devices_card()["value"]

		frappe.set_user(self.alpha_hr)
		alpha_devices = set(frappe.get_list(DEVICE, pluck="name", limit_page_length=0))
		with self.assertRaises(frappe.PermissionError):
			frappe.get_doc(DEVICE, self.B1).check_permission("read")
		health_rows = [row["device"] for row in run("Device Health")["result"] if isinstance(row, dict)]
		self.assertIn(self.A1, health_rows)
		self.assertNotIn(self.B1, health_rows)
		unmapped = [r["device"] for r in run("Unmapped Device Users")["result"] if isinstance(r, dict)]
		self.assertIn(self.A1, unmapped)
		self.assertNotIn(self.B1, unmapped)
		with self.assertRaises(frappe.PermissionError):
			run("Daily Punches", filters={"company": self.beta})
		series = [d["name"] for d in chart.get(no_cache=1)["datasets"]]
		self.assertNotIn(b1_label, series)
		self.assertFalse(frappe.get_list(RAW_PUNCH, {"device": self.B1}))
		self.assertTrue(frappe.get_list(RAW_PUNCH, {"device": self.A1}))
		self.assertEqual(unmapped_device_users_card()["value"], unmapped_everywhere - 1)
		frappe.set_user("Administrator")
		beta_silent = [d.name for d in health.silent_devices() if d.name not in alpha_devices]
		frappe.set_user(self.alpha_hr)
		self.assertIn(self.B1, beta_silent)
		self.assertEqual(silent_devices_card()["value"], silent_everywhere - len(beta_silent))
		punches_today = frappe.get_doc("Number Card", "CAMS Punches Today")
		from frappe.desk.doctype.number_card.number_card import get_result

		visible = get_result(punches_today, punches_today.filters_json)
		frappe.set_user("Administrator")
		self.assertEqual(visible, get_result(punches_today, punches_today.filters_json) - 1)

		response = http_as(
			self.alpha_hr,
			"GET",
			"/api/method/frappe.desk.query_report.run",
			query_string={"report_name": "Device Health"},
		)
		self.assertEqual(response.status_code, 200)
		self.assertNotIn(self.B1, response.get_data(as_text=True))

	def test_a_devices_notifications_go_only_to_who_may_read_it(self):
		from cams_biometric.protocol.simulator import date_modified_body

		everyone = hr_manager()
		events = {}
		for key in ("A1", "B1"):
			gateway = self.gateways[key]
			body = date_modified_body("2024-09-17 09:05:00 GMT +0530", gateway.auth_token)
			self.assertEqual(post_callback(body, gateway.service_tag_id).get_data(), DONE)
			events[key] = frappe.get_doc(
				DEVICE_EVENT, {"device": gateway.service_tag_id, "event_type": "Date Modified"}
			)
		notified = {
			key: set(
				frappe.get_all(
					"Notification Log", {"document_name": event.name}, pluck="for_user", order_by="for_user"
				)
			)
			for key, event in events.items()
		}
		self.assertLessEqual({self.alpha_hr, everyone}, notified["A1"])
		self.assertIn(everyone, notified["B1"])
		self.assertNotIn(self.alpha_hr, notified["B1"])
		self.assertNotIn(self.alpha_hr, events["B1"].result)
