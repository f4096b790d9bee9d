import json
import threading
from datetime import datetime, timedelta, timezone

import frappe
from frappe.deferred_insert import save_to_db
from frappe.utils import get_system_timezone
from frappe.utils.background_jobs import get_job

from cams_biometric import api, processing
from cams_biometric.auth import (
	DEVICE_DISABLED,
	NO_KEY_OPENS,
	REDACTED,
	SERIAL_OF_ANOTHER_DEVICE,
	WRONG_TOKEN,
)
from cams_biometric.auth_failures import device_failures
from cams_biometric.cams_biometric.doctype.cams_biometric_device.cams_biometric_device import (
	clear_auth_failures,
)
from cams_biometric.constants import DEVICE, DEVICE_EVENT, RAW_PUNCH
from cams_biometric.protocol import aes
from cams_biometric.protocol.logtime import parse_logtime, to_local_naive
from cams_biometric.tests.utils import (
	CamsTestCase,
	cleanup,
	delete_employees,
	make_device,
	make_employee,
	post_callback,
	punch_body,
	raw_rows,
	request,
	unique,
)

DONE = b'{"status":"done"}'
DEVICE_TIME = datetime(2024, 9, 17, 7, 48, 22, tzinfo=timezone(timedelta(hours=3)))


class TestCallback(CamsTestCase):
	def setUp(self):
		self.devices = []
		self.stgid, self.token = self.device()

	def tearDown(self):
		cleanup(self.devices)

	def device(self, **values):
		stgid, token = make_device(**values)
		self.devices.append(stgid)
		return stgid, token

	def test_punch_is_stored_answered_done_and_queued(self):
		body = punch_body(self.token, "2", DEVICE_TIME, Temperature="36.8")
		response = post_callback(body, stgid=self.stgid)

		self.assertEqual(response.status_code, 200)
		self.assertEqual(response.get_data(), DONE)
		[row] = raw_rows(self.stgid)
		self.assertEqual(row.status, "Pending")
		self.assertEqual(row.device_user_id, "2")
		self.assertEqual(row.source, "Callback")
		self.assertEqual(row.log_time, "2024-09-17 07:48:22 GMT +0300")
		self.assertEqual(row.punch_time, to_local_naive(DEVICE_TIME, get_system_timezone()))
		self.assertEqual(row.temperature, 36.8)
		self.assertEqual(row.operation_id, body["RealTime"]["OperationID"])
		self.assertNotIn(self.token, row.raw_json)
		self.assertEqual(json.loads(row.raw_json)["RealTime"]["PunchLog"]["UserId"], "2")
		self.assertTrue(frappe.db.get_value(DEVICE, self.stgid, "last_punch_received"))

		job = get_job(frappe.cache.get_value(processing.DRAIN_JOB_KEY))
		self.assertIsNotNone(job, "the callback must queue a drain job after commit")
		self.assertEqual(job.kwargs["method"], "cams_biometric.processing.drain_job")

	def test_last_punch_received_is_written_at_most_once_a_minute(self):
		def post_new_punch(second: int):
			body = punch_body(self.token, "2", DEVICE_TIME + timedelta(seconds=second))
			self.assertEqual(post_callback(body, stgid=self.stgid).get_data(), DONE)
			return frappe.db.get_value(DEVICE, self.stgid, "last_punch_received")

		def store_last_punch_received(value):
			frappe.db.set_value(DEVICE, self.stgid, "last_punch_received", value, update_modified=False)

		first = post_new_punch(0)
		self.assertIsNotNone(first)
		self.assertEqual(post_new_punch(1), first, "written again within the minute")

		store_last_punch_received(first - timedelta(seconds=api.LAST_PUNCH_INTERVAL + 1))
		self.assertGreaterEqual(post_new_punch(2), first)

		# A time ahead of now (the server clock went back) does not stop the writes.
		store_last_punch_received(first + timedelta(days=1))
		self.assertLess(post_new_punch(3), first + timedelta(days=1))

	def test_without_stgid_the_serial_number_or_token_finds_the_device(self):
		self.assertEqual(post_callback(punch_body(self.token, "3", DEVICE_TIME)).get_data(), DONE)
		self.assertEqual(len(raw_rows(self.stgid)), 1)
		serial = unique("SN")
		stgid, token = self.device(serial_number=serial)
		body = punch_body(token, "3", DEVICE_TIME, serial_number=serial)
		self.assertEqual(post_callback(body).get_data(), DONE)
		self.assertEqual(len(raw_rows(stgid)), 1)

	def test_the_same_punch_is_stored_once(self):
		body = punch_body(self.token, "4", DEVICE_TIME)
		for _ in range(3):
			self.assertEqual(post_callback(body, stgid=self.stgid).get_data(), DONE)
		# The same instant written with another offset is the same punch.
		same = punch_body(self.token, "4", "2024-09-17 10:18:22 GMT +05:30")
		self.assertEqual(post_callback(same, stgid=self.stgid).get_data(), DONE)
		self.assertEqual(len(raw_rows(self.stgid)), 1)

	def test_concurrent_retries_store_one_row(self):
		body = json.dumps(punch_body(self.token, "5", DEVICE_TIME)).encode()
		frappe.db.commit()  # nosemgrep
		site, responses = frappe.local.site, []
		threads = [
			threading.Thread(target=lambda: responses.append(request(site, body, stgid=self.stgid)))
			for _ in range(6)
		]
		for thread in threads:
			thread.start()
		for thread in threads:
			thread.join()
		self.assertEqual([r.get_data() for r in responses], [DONE] * 6)
		self.assertEqual(len(raw_rows(self.stgid)), 1)

	def test_wrong_or_missing_token_is_refused_and_nothing_stored(self):
		other_stgid, other_token = self.device()
		cases = {
			"wrong token": (punch_body("x" * 32, "6", DEVICE_TIME), self.stgid),
			"no token": ({"RealTime": {"PunchLog": {"UserId": "6"}}}, self.stgid),
			"unknown stgid": (punch_body(self.token, "6", DEVICE_TIME), "NOSUCHDEVICE"),
			"token of another device": (punch_body(other_token, "6", DEVICE_TIME), self.stgid),
		}
		for case, (body, stgid) in cases.items():
			with self.subTest(case):
				response = post_callback(body, stgid=stgid, address=unique("10.9."))
				self.assertEqual(response.status_code, 401)
				self.assertNotIn(b"done", response.get_data())
				self.assertNotIn(b"6", response.get_data())
		self.assertEqual(raw_rows(self.stgid) + raw_rows(other_stgid), [])

	def test_a_disabled_device_cannot_post(self):
		frappe.db.set_value(DEVICE, self.stgid, "enabled", 0)
		response = post_callback(
			punch_body(self.token, "7", DEVICE_TIME), stgid=self.stgid, address="10.7.0.1"
		)
		self.assertEqual(response.status_code, 401)
		self.assertEqual(raw_rows(self.stgid), [])

	def test_a_serial_number_that_differs_by_a_typo_is_taken_and_flagged(self):
		serial = unique("UXSN")
		typo = serial[:-1] + ("l" if serial[-1] != "l" else "1")
		stgid, token = self.device(serial_number=serial)
		for user_id, named in (("8", stgid), ("9", None)):  # by ?stgid=, and by token alone
			with self.subTest(stgid=named):
				body = punch_body(token, user_id, DEVICE_TIME, serial_number=typo)
				self.assertEqual(post_callback(body, stgid=named, address="10.8.0.1").get_data(), DONE)
		self.assertEqual(len(raw_rows(stgid)), 2)
		device = frappe.db.get_value(
			DEVICE, stgid, ["reported_serial_number", "last_punch_received"], as_dict=True
		)
		self.assertEqual(device.reported_serial_number, typo)
		self.assertIsNotNone(device.last_punch_received)
		self.assertIsNone(device_failures(stgid))

		# Correcting the Serial Number settles the mismatch.
		doc = frappe.get_doc(DEVICE, stgid)
		doc.serial_number = typo
		doc.save()
		self.assertIsNone(frappe.db.get_value(DEVICE, stgid, "reported_serial_number"))

	def test_a_serial_number_of_another_registered_device_is_refused(self):
		stgid, token = self.device(serial_number=unique("SN"))
		other_serial = unique("SN")
		self.device(serial_number=other_serial)
		body = punch_body(token, "8", DEVICE_TIME, serial_number=other_serial)
		self.assertEqual(post_callback(body, address="10.8.0.2").status_code, 401)
		self.assertEqual(post_callback(body, stgid=stgid, address="10.8.0.2").status_code, 401)
		self.assertEqual(raw_rows(stgid), [])
		failures = device_failures(stgid)
		self.assertEqual(failures["count"], 1, "only the request that named the device counts on it")
		self.assertEqual(failures["last_reason"], SERIAL_OF_ANOTHER_DEVICE)

	def test_unreadable_bodies_get_400_with_a_reason(self):
		for body, reason in (
			(b"\xff\xfe not utf-8", b"neither JSON nor Base64"),
			(b"{not json", b"not valid JSON"),
			(b"[1, 2, 3]", b"must be an object"),
			(b"", b"empty"),
		):
			with self.subTest(body=body):
				response = post_callback(body, stgid=self.stgid, content_type="text/plain")
				self.assertEqual(response.status_code, 400)
				self.assertIn(reason, response.get_data())
		self.assertEqual(raw_rows(self.stgid), [])

	def test_bodies_labelled_json_that_are_not_get_our_400_and_no_error_log(self):
		# Frappe parses these before the app runs; see api.after_request.
		logs_before = set(frappe.get_all("Error Log", pluck="name"))
		truncated = json.dumps(punch_body(self.token, "9", DEVICE_TIME)).encode()[:-20]
		for body in (truncated, b"{not json", b'"a string"', b"42", b"null", b"[" * 5000):
			with self.subTest(body=body[:30]):
				response = post_callback(body, stgid=self.stgid, content_type="application/json")
				self.assertEqual(response.status_code, 400)
				answer = response.get_data()
				self.assertIn(b"labelled application/json but is not a JSON object", answer)
				self.assertNotIn(b"Traceback", answer)
				self.assertNotIn(self.token.encode(), answer)
		self.assertEqual(raw_rows(self.stgid), [])

		# Frappe's own Error Log of each (the truncated body, token and all) was withdrawn.
		save_to_db()
		new_logs = frappe.get_all(
			"Error Log", filters={"name": ("not in", list(logs_before) or [""])}, pluck="error"
		)
		self.assertFalse([error for error in new_logs if "make_form_dict" in error])
		self.assertFalse([error for error in new_logs if self.token in error])

	def test_aes_punches_labelled_json_are_stored_once_and_leave_no_error_log(self):
		stgid, token = self.device(security_key="device secret key")
		employee = make_employee(unique("A"))
		user_id = frappe.db.get_value("Employee", employee, "attendance_device_id")
		try:
			body = aes.encrypt(
				json.dumps(punch_body(token, user_id, DEVICE_TIME)), "device secret key", "sha256"
			)
			for _ in range(2):  # the gateway's resend is recognised
				response = post_callback(body, stgid=stgid, content_type="application/json")
				self.assertEqual(response.get_data(), DONE)
			[row] = raw_rows(stgid)
			processing.process_pending_punches(grace_seconds=0)
			self.assertEqual(frappe.db.get_value(RAW_PUNCH, row.name, "status"), "Processed")
			self.assertEqual(frappe.db.count("Employee Checkin", {"employee": employee}), 1)

			# Without ?stgid= too; and a body no device's key opens is refused, not stored.
			other = aes.encrypt(
				json.dumps(punch_body(token, user_id, DEVICE_TIME + timedelta(hours=1))),
				"device secret key",
				"sha256",
			)
			self.assertEqual(post_callback(other, content_type="application/json").get_data(), DONE)
			stranger = aes.encrypt(
				json.dumps(punch_body(token, user_id, DEVICE_TIME)), "not a key of ours", "sha256"
			)
			response = post_callback(
				stranger, stgid=stgid, content_type="application/json", address="10.14.0.1"
			)
			self.assertEqual(response.status_code, 401)
			self.assertEqual(device_failures(stgid)["last_reason"], NO_KEY_OPENS)
			self.assertEqual(len(raw_rows(stgid)), 2)
		finally:
			delete_employees([employee])

	def test_a_thousand_aes_punches_labelled_json_leave_no_error_log(self):
		stgid, token = self.device(security_key="device secret key")
		logs_before = set(frappe.get_all("Error Log", pluck="name"))
		bodies = [
			aes.encrypt(
				json.dumps(punch_body(token, str(n % 40), DEVICE_TIME + timedelta(minutes=n))),
				"device secret key",
				"sha256",
			)
			for n in range(1000)
		]
		frappe.db.commit()  # nosemgrep
		site = frappe.local.site
		answers = [request(site, body, stgid=stgid).get_data() for body in bodies]
		frappe.db.rollback()
		self.assertEqual(answers, [DONE] * 1000)
		self.assertEqual(len(raw_rows(stgid)), 1000)
		save_to_db()
		self.assertEqual(
			frappe.get_all(
				"Error Log", filters={"name": ("not in", list(logs_before) or [""])}, pluck="name"
			),
			[],
		)

	def test_error_logs_never_keep_a_device_secret(self):
		_stgid, token = self.device(security_key="a device security key")
		log = frappe.log_error("CAMS test", f"body: {token} and a device security key, {self.token}")
		error = frappe.db.get_value("Error Log", log.name, "error")
		self.assertNotIn(token, error)
		self.assertNotIn(self.token, error)
		self.assertNotIn("a device security key", error)
		self.assertEqual(error.count(REDACTED), 3)

	def test_bad_punch_data_is_accepted_and_recorded_as_error(self):
		body = punch_body(self.token, "9", "2024-13-45 99:00:00 GMT +0300")
		for _ in range(2):  # the gateway's resend is recognised too
			response = post_callback(body, stgid=self.stgid)
			self.assertEqual(response.get_data(), DONE)
		[row] = raw_rows(self.stgid)
		self.assertEqual(row.status, "Error")
		self.assertIn("not a valid date", row.error)
		self.assertEqual(row.device_user_id, "9")

	def test_only_post_is_allowed(self):
		response = post_callback(b"", stgid=self.stgid, method="GET")
		self.assertNotEqual(response.status_code, 200)
		self.assertEqual(raw_rows(self.stgid), [])

	def test_every_other_event_is_kept_for_an_admin(self):
		envelope = {"OperationID": "op1", "AuthToken": self.token, "Time": "2024-09-17 03:30:01 GMT +0000"}
		bodies = {
			"Attendance Photo": {
				"Log": {"UserID": "3", "LogPhoto": "/9j/4AAQ", "LogTime": "2020-09-17 07:48:30 GMT +0530"}
			},
			"User Updated": {
				"UserUpdated": {"UserID": "7", "FirstName": "Asha", "Template": [{"Type": "Card"}]}
			},
			"User Deleted": {
				"UserDeleted": {"UserID": "7", "OperationTime": "2024-09-17 09:01:00 GMT +0530"}
			},
			"Date Modified": {"DateModified": {"ModifiedTo": "2024-09-17 09:05:00 GMT +0530"}},
			"Command Reply": {"AddUser": {"StatusCode": 0}},
		}
		for event_type, event in bodies.items():
			with self.subTest(event_type):
				self.assertEqual(
					post_callback({"RealTime": {**envelope, **event}}, stgid=self.stgid).get_data(), DONE
				)
		reply = {"Status": "done", "StatusCode": 0, "OperationID": "op2", "AuthToken": self.token}
		self.assertEqual(post_callback(reply, stgid=self.stgid).get_data(), DONE)

		events = frappe.get_all(
			DEVICE_EVENT, filters={"device": self.stgid}, fields=["event_type", "raw_json", "device_user_id"]
		)
		self.assertCountEqual(
			[e.event_type for e in events],
			[
				"Attendance Photo",
				"User Updated",
				"User Deleted",
				"Date Modified",
				"Command Reply",
				"Command Reply",
			],
		)
		self.assertTrue(all(self.token not in e.raw_json for e in events))
		self.assertIn("3", [e.device_user_id for e in events])
		self.assertEqual(raw_rows(self.stgid), [])

	def test_aes_bodies_are_decrypted_and_the_derivation_recorded(self):
		stgid, token = self.device(security_key="device secret key")
		body = json.dumps(punch_body(token, "11", DEVICE_TIME))
		encrypted = aes.encrypt(body, "device secret key", "sha1-128")
		response = post_callback(encrypted, stgid=stgid, content_type="text/plain")
		self.assertEqual(response.get_data(), DONE)
		self.assertEqual(len(raw_rows(stgid)), 1)
		self.assertEqual(frappe.db.get_value(DEVICE, stgid, "aes_key_derivation"), "sha1-128")

		# Without stgid the key of each device with one is tried.
		other = aes.encrypt(json.dumps(punch_body(token, "12", DEVICE_TIME)), "device secret key", "sha1-128")
		self.assertEqual(post_callback(other, content_type="text/plain").get_data(), DONE)
		self.assertEqual(len(raw_rows(stgid)), 2)

		wrong_key = aes.encrypt(body, "another key", "sha256")
		response = post_callback(wrong_key, stgid=stgid, content_type="text/plain", address="10.11.0.1")
		self.assertEqual(response.status_code, 401)
		self.assertEqual(len(raw_rows(stgid)), 2)

	def test_failed_authentication_is_rate_limited_but_valid_punches_flow(self):
		address = unique("10.12.")
		statuses = [
			post_callback(
				punch_body("w" * 32, "13", DEVICE_TIME), stgid=self.stgid, address=address
			).status_code
			for _ in range(25)
		]
		self.assertEqual(statuses[:20], [401] * 20)
		self.assertEqual(statuses[20:], [429] * 5)
		response = post_callback(punch_body(self.token, "13", DEVICE_TIME), stgid=self.stgid, address=address)
		self.assertEqual(response.get_data(), DONE)
		self.assertEqual(len(raw_rows(self.stgid)), 1)

	def test_a_forged_forwarded_for_header_does_not_escape_the_limit(self):
		address = unique("10.15.")
		statuses = [
			post_callback(
				punch_body("w" * 32, "13", DEVICE_TIME),
				stgid=self.stgid,
				address=address,
				headers={"X-Forwarded-For": f"192.0.2.{n}"},
			).status_code
			for n in range(25)
		]
		self.assertEqual(statuses[:20], [401] * 20)
		self.assertEqual(statuses[20:], [429] * 5)

	def test_failed_authentications_are_recorded_on_the_named_device_without_secrets(self):
		modified = frappe.db.get_value(DEVICE, self.stgid, "modified")
		wrong = punch_body("w" * 32, "16", DEVICE_TIME)
		for _ in range(3):
			self.assertEqual(post_callback(wrong, stgid=self.stgid, address="10.16.0.1").status_code, 401)
		failures = device_failures(self.stgid)
		self.assertEqual(failures["count"], 3)
		self.assertEqual(failures["reasons"], {WRONG_TOKEN: 3})
		self.assertTrue(failures["last_at"] and failures["since"])
		self.assertNotIn("w" * 32, json.dumps(failures))
		# Redis only: a flood writes nothing to the database.
		self.assertEqual(frappe.db.get_value(DEVICE, self.stgid, "modified"), modified)

		doc = frappe.get_doc(DEVICE, self.stgid)
		doc.run_method("onload")
		self.assertEqual(doc.get_onload().auth_failures["count"], 3)
		clear_auth_failures(self.stgid)
		self.assertIsNone(device_failures(self.stgid))

		frappe.db.set_value(DEVICE, self.stgid, "enabled", 0)
		post_callback(punch_body(self.token, "16", DEVICE_TIME), stgid=self.stgid, address="10.16.0.1")
		self.assertEqual(device_failures(self.stgid)["last_reason"], DEVICE_DISABLED)

	def test_the_raw_log_has_a_database_unique_key(self):
		post_callback(punch_body(self.token, "14", DEVICE_TIME), stgid=self.stgid)
		[row] = raw_rows(self.stgid)
		copy = frappe.get_doc(RAW_PUNCH, row.name).as_dict()
		copy.pop("name")
		with self.assertRaises(frappe.UniqueValidationError):
			frappe.get_doc({**copy, "doctype": RAW_PUNCH}).insert(ignore_permissions=True)
		frappe.db.rollback()
		self.assertEqual(parse_logtime(row.log_time), DEVICE_TIME)
