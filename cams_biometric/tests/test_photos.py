"""Attendance photos: kept encrypted, joined to their punch either way round, shown on the
checkin to HR and System Managers only, never in a log, purged with the raw punch."""

import base64
import json
from datetime import datetime, timedelta, timezone
from unittest.mock import patch

import frappe
from frappe.deferred_insert import save_to_db
from frappe.utils import add_days, get_test_client, now_datetime

from cams_biometric import photos, processing
from cams_biometric.cams_biometric.doctype.cams_raw_punch_log.cams_raw_punch_log import CAMSRawPunchLog
from cams_biometric.constants import ATTENDANCE_PHOTO, CHECKIN, DEVICE_EVENT, RAW_PUNCH, SETTINGS
from cams_biometric.protocol.logtime import format_logtime
from cams_biometric.protocol.payload import JPEG_START, punch_key
from cams_biometric.protocol.simulator import photo_body, photo_jpeg
from cams_biometric.tests.test_permissions import make_user
from cams_biometric.tests.utils import (
	CamsTestCase,
	cleanup,
	delete_employees,
	make_device,
	make_employee,
	post_callback,
	punch_body,
	raw_rows,
	reset_settings,
	unique,
)

DONE = b'{"status":"done"}'
IST = timezone(timedelta(hours=5, minutes=30))
PHOTO_METHOD = "/api/method/cams_biometric.photos.photo_image"


class TestPhotos(CamsTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.hr_manager = make_user("HR Manager", "Employee")
		cls.hr_user = make_user("HR User", "Employee")
		cls.employee_user = make_user("Employee")  # enabled: their API keys must authenticate

	def setUp(self):
		self.user_id = unique("P")
		self.employee = make_employee(self.user_id)
		self.stgid, self.token = make_device(device_label="Photo Gate")
		self.devices, self.employees = [self.stgid], [self.employee]
		self.moment = datetime(2024, 9, 17, 9, 2, 14, tzinfo=IST)
		self.jpeg = photo_jpeg(unique("photo of "))

	def tearDown(self):
		frappe.set_user("Administrator")
		frappe.db.set_single_value(SETTINGS, {"keep_attendance_photos": 1, "max_photo_size_kb": 200})
		reset_settings()
		cleanup(self.devices, self.employees)
		delete_employees(self.employees)

	# -- helpers -------------------------------------------------------------------------
	def send_photo(self, jpeg: bytes | None = None, moment=None, user_id=None) -> str:
		"""POST the photo callback; returns its device event's result."""
		row = {"UserID": user_id or self.user_id, "LogTime": format_logtime(moment or self.moment)}
		body = photo_body(row, self.token, jpeg=self.jpeg if jpeg is None else jpeg)
		self.assertEqual(post_callback(body, stgid=self.stgid).get_data(), DONE)
		return frappe.get_all(
			DEVICE_EVENT,
			filters={"device": self.stgid, "event_type": "Attendance Photo"},
			pluck="result",
			order_by="creation desc",
			limit=1,
		)[0]

	def send_punch(self, moment=None) -> str:
		body = punch_body(self.token, self.user_id, moment or self.moment)
		self.assertEqual(post_callback(body, stgid=self.stgid).get_data(), DONE)
		return raw_rows(self.stgid)[-1].name

	def process(self, raw_punch: str) -> str:
		outcome = processing.process_raw_punch(raw_punch)
		frappe.db.commit()  # nosemgrep: as the drain job does
		self.assertEqual(outcome.status, "Processed", outcome.error)
		return outcome.employee_checkin

	def photo_rows(self) -> list:
		return frappe.get_all(ATTENDANCE_PHOTO, filters={"device": self.stgid}, fields=["*"])

	def image_as(self, user: str, name: str):
		"""GET the photo through the site's real WSGI application, as ``user`` (API key)."""
		headers = {"X-Frappe-Site-Name": frappe.local.site}
		if user != "Guest":
			frappe.set_user("Administrator")
			from frappe.core.doctype.user.user import generate_keys

			secret = generate_keys(user)["api_secret"]
			api_key = frappe.db.get_value("User", user, "api_key")
			headers["Authorization"] = f"token {api_key}:{secret}"
		frappe.db.commit()  # nosemgrep: the request runs in its own connection
		return get_test_client(use_cookies=False).get(
			PHOTO_METHOD, query_string={"name": name}, headers=headers
		)

	# -- tests ---------------------------------------------------------------------------
	def test_a_photo_after_its_punch_shows_on_the_checkin(self):
		raw = self.send_punch()
		checkin = self.process(raw)
		result = self.send_photo()
		[photo] = self.photo_rows()
		self.assertEqual(result, f"Kept as {photo.name}, with raw punch {raw}")
		self.assertEqual(
			(photo.raw_punch, photo.employee, photo.employee_checkin, photo.device_user_id),
			(raw, self.employee, checkin, self.user_id),
		)
		self.assertEqual(photo.punch_time, frappe.db.get_value(RAW_PUNCH, raw, "punch_time"))
		self.assertEqual(photo.punch_time, frappe.db.get_value(CHECKIN, checkin, "time"))
		self.assertEqual(photo.photo_size, len(self.jpeg))

		frappe.set_user(self.hr_manager)
		[shown] = photos.photos_of_checkin(checkin)
		self.assertEqual((shown.name, shown.photo_size), (photo.name, len(self.jpeg)))
		self.assertNotIn("photo", shown)
		self.assertEqual(photos.photo_image(photo.name).get_data(), self.jpeg)

		# Through HTTP, as the checkin form asks for it: the JPEG, not to be stored anywhere.
		response = self.image_as(self.hr_manager, photo.name)
		self.assertEqual(response.status_code, 200)
		self.assertEqual(response.mimetype, "image/jpeg")
		self.assertEqual(response.get_data(), self.jpeg)
		self.assertIn("no-store", response.headers["Cache-Control"])

		# A resend stores nothing new.
		self.assertEqual(self.send_photo(), f"Already kept as {photo.name}")
		self.assertEqual(len(self.photo_rows()), 1)

	def test_a_photo_before_its_punch_is_joined_when_the_punch_comes(self):
		result = self.send_photo()
		[photo] = self.photo_rows()
		self.assertEqual(result, f"Kept as {photo.name}; its punch has not arrived yet")
		self.assertIsNone(photo.raw_punch)

		raw = self.send_punch()
		self.assertEqual(frappe.db.get_value(ATTENDANCE_PHOTO, photo.name, "raw_punch"), raw)
		checkin = self.process(raw)
		joined = frappe.db.get_value(
			ATTENDANCE_PHOTO, photo.name, ["employee", "employee_name", "employee_checkin"], as_dict=True
		)
		self.assertEqual((joined.employee, joined.employee_checkin), (self.employee, checkin))
		self.assertEqual(
			joined.employee_name, frappe.db.get_value("Employee", self.employee, "employee_name")
		)
		frappe.set_user(self.hr_manager)
		self.assertEqual([p.name for p in photos.photos_of_checkin(checkin)], [photo.name])

	def test_a_punch_of_another_instant_or_user_is_not_joined(self):
		self.send_photo()
		self.send_punch(self.moment + timedelta(seconds=1))
		self.send_photo(user_id=unique("other"))
		self.assertEqual([p.raw_punch for p in self.photo_rows()], [None, None])

	def test_oversized_and_non_jpeg_photos_are_refused_with_the_reason_and_answered_done(self):
		frappe.db.set_single_value(SETTINGS, "max_photo_size_kb", 1)
		self.assertEqual(
			self.send_photo(JPEG_START + bytes(2048 - len(JPEG_START))),
			"Refused: The photo is 2 KB, more than the 1 KB allowed"
			" (Maximum Photo Size in CAMS Biometric Settings)",
		)
		self.assertEqual(
			self.send_photo(b"\x89PNG\r\n\x1a\n" + bytes(100)), "Refused: The photo is not a JPEG image"
		)
		self.assertEqual(self.send_photo(b""), "Refused: The photo event carries no LogPhoto")
		self.assertEqual(self.photo_rows(), [])
		self.assertTrue(self.send_photo(photo_jpeg("small")).startswith("Kept as "))

	def test_with_the_setting_off_nothing_is_kept(self):
		frappe.db.set_single_value(SETTINGS, "keep_attendance_photos", 0)
		self.assertEqual(
			self.send_photo(), "Not kept: Keep Attendance Photos is off in CAMS Biometric Settings"
		)
		self.assertEqual(self.photo_rows(), [])
		[event] = frappe.get_all(DEVICE_EVENT, filters={"device": self.stgid}, pluck="raw_json")
		self.assertNotIn(base64.b64encode(self.jpeg).decode(), event)

	def test_the_photo_size_setting_is_bounded(self):
		settings = frappe.get_single(SETTINGS)
		for kb in (0, photos.MAX_PHOTO_KB + 1):
			settings.max_photo_size_kb = kb
			with self.subTest(kb=kb), self.assertRaises(frappe.ValidationError):
				settings.save()

	def test_only_hr_and_system_managers_read_photos(self):
		raw = self.send_punch()
		checkin = self.process(raw)
		self.send_photo()
		[photo] = self.photo_rows()

		for user in (self.hr_user, self.employee_user, "Guest"):
			frappe.set_user(user)
			with self.subTest(user=user):
				self.assertFalse(frappe.has_permission(ATTENDANCE_PHOTO, "read"))
				with self.assertRaises(frappe.PermissionError):
					photos.photo_image(photo.name)
				with self.assertRaises(frappe.PermissionError):
					frappe.get_list(ATTENDANCE_PHOTO)
			if user != "Guest":
				with self.subTest(user=user, via="HTTP"):
					response = self.image_as(user, photo.name)
					self.assertEqual(response.status_code, 403)
					self.assertNotIn(self.jpeg, response.get_data())
		frappe.set_user(self.hr_user)
		with self.assertRaises(frappe.PermissionError):  # HR User reads checkins, not photos
			photos.photos_of_checkin(checkin)
		response = self.image_as("Guest", photo.name)
		self.assertEqual(response.status_code, 403)
		self.assertNotIn(self.jpeg, response.get_data())

		# Those who may read the record never get the encrypted field either.
		frappe.set_user(self.hr_manager)
		doc = frappe.get_doc(ATTENDANCE_PHOTO, photo.name)
		doc.apply_fieldlevel_read_permissions()
		self.assertFalse(doc.get("photo"))
		[listed] = frappe.get_list(ATTENDANCE_PHOTO, filters={"name": photo.name}, fields=["name", "photo"])
		self.assertFalse(listed.get("photo"))
		self.assertFalse(frappe.has_permission(ATTENDANCE_PHOTO, "write"))

	def test_photo_data_never_sits_in_a_log_and_is_encrypted_at_rest(self):
		logs_before = set(frappe.get_all("Error Log", pluck="name"))
		text = base64.b64encode(self.jpeg).decode()
		self.send_photo()  # kept
		frappe.db.set_single_value(SETTINGS, "max_photo_size_kb", 1)
		big = photo_jpeg(unique("big "), JPEG_START + bytes(4096))
		self.send_photo(big, moment=self.moment + timedelta(minutes=1))  # refused
		frappe.db.set_single_value(SETTINGS, "max_photo_size_kb", 200)
		# The database fails while the photo is stored: the gateway is told to send it again.
		with patch.object(photos, "encrypt_photo", side_effect=RuntimeError("the disk is full")):
			body = photo_body(
				{"UserID": self.user_id, "LogTime": format_logtime(self.moment + timedelta(minutes=2))},
				self.token,
				jpeg=self.jpeg,
			)
			self.assertEqual(post_callback(body, stgid=self.stgid).status_code, 503)
		# Frappe's own variables-and-all Error Log of a request, as its snapshot would write it.
		frappe.log_error("CAMS test", json.dumps(body))

		save_to_db()  # Frappe defers some Error Logs
		new_logs = frappe.get_all(
			"Error Log",
			filters={"name": ("not in", list(logs_before) or [""])},
			fields=["method", "error"],
		)
		self.assertIn("CAMS callback could not be stored", [log.method for log in new_logs])
		self.assertTrue(any("<withheld>" in log.error for log in new_logs))
		[photo] = frappe.db.sql(
			f"select * from `tab{ATTENDANCE_PHOTO}` where device = %s", self.stgid, as_dict=True
		)
		stored = {
			"events": frappe.get_all(DEVICE_EVENT, filters={"device": self.stgid}, pluck="raw_json"),
			"error logs": new_logs,
			"raw punches": frappe.get_all(RAW_PUNCH, filters={"device": self.stgid}, pluck="raw_json"),
			"photo row": photo,
		}
		for secret in (text, text[100:160], base64.b64encode(big).decode()[200:260]):
			for where, what in stored.items():
				with self.subTest(where=where):
					self.assertNotIn(secret, json.dumps(what, default=str))
		self.assertEqual(photos.decrypt_photo(photo.photo), self.jpeg)
		self.assertFalse(
			frappe.db.exists("File", {"attached_to_doctype": ("in", [ATTENDANCE_PHOTO, RAW_PUNCH])})
		)

	def test_photos_go_with_their_raw_punch_when_log_settings_purges_it(self):
		old = self.moment - timedelta(days=120)
		purged_raw = self.send_punch(old)
		self.process(purged_raw)
		self.send_photo(moment=old)  # goes with its raw punch
		self.send_photo(moment=old + timedelta(minutes=5))  # its punch never came: goes too
		self.send_photo(moment=self.moment)  # waiting for its punch since just now: stays
		# An Unmapped punch is still to be worked on: it stays, and its photo with it.
		employee_user_id, self.user_id = self.user_id, unique("S")
		unmapped_raw = self.send_punch(old + timedelta(minutes=10))
		self.send_photo(moment=old + timedelta(minutes=10))
		self.assertEqual(processing.process_raw_punch(unmapped_raw).status, "Unmapped")
		frappe.db.commit()  # nosemgrep

		# Everything but the waiting photo was received 100 days ago.
		long_ago = add_days(now_datetime(), -100)
		raw, photo = frappe.qb.DocType(RAW_PUNCH), frappe.qb.DocType(ATTENDANCE_PHOTO)
		frappe.qb.update(raw).set(raw.modified, long_ago).where(raw.device == self.stgid).run()
		waiting_key = punch_key(self.stgid, employee_user_id, self.moment)
		frappe.qb.update(photo).set(photo.received_at, long_ago).where(
			(photo.device == self.stgid) & (photo.photo_key != waiting_key)
		).run()
		CAMSRawPunchLog.clear_old_logs(days=90)

		self.assertEqual([r.name for r in raw_rows(self.stgid)], [unmapped_raw])
		left = {p.photo_key: p.raw_punch for p in self.photo_rows()}
		self.assertEqual(
			left, {waiting_key: None, frappe.db.get_value(RAW_PUNCH, unmapped_raw, "punch_key"): unmapped_raw}
		)

	def test_deleting_the_raw_punch_or_the_employee_deletes_the_photo(self):
		raw = self.send_punch()
		self.process(raw)
		self.send_photo()
		frappe.delete_doc(RAW_PUNCH, raw, ignore_permissions=True)
		self.assertEqual(self.photo_rows(), [])

		later = self.moment + timedelta(hours=9)
		self.process(self.send_punch(later))
		self.send_photo(moment=later)
		[photo] = self.photo_rows()
		self.assertEqual(photo.employee, self.employee)
		frappe.delete_doc("Employee", self.employee, force=True, ignore_permissions=True)
		self.assertEqual(self.photo_rows(), [])
