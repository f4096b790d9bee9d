"""A clock changed at the device (DateModified): HR Managers are notified once per change."""

import json
from datetime import datetime, timedelta, timezone
from unittest.mock import patch
from urllib.parse import parse_qs, urlsplit

import frappe

from cams_biometric import clock_changes
from cams_biometric.constants import DEVICE_EVENT
from cams_biometric.protocol.simulator import date_modified_body
from cams_biometric.tests.test_permissions import make_user
from cams_biometric.tests.utils import (
	CamsTestCase,
	cleanup,
	make_device,
	post_callback,
	punch_body,
	raw_rows,
)

DONE = b'{"status":"done"}'
IST = timezone(timedelta(hours=5, minutes=30))
CHANGED_AT = "2024-09-17 09:02:00 GMT +0530"
MODIFIED_TO = "2024-09-17 09:05:00 GMT +0530"


class TestClockChanges(CamsTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.hr_manager = make_user("HR Manager", "Employee")
		cls.hr_user = make_user("HR User", "Employee")

	def setUp(self):
		self.stgid, self.token = make_device(device_label="Clock <Gate>")
		self.devices = [self.stgid]

	def tearDown(self):
		frappe.set_user("Administrator")
		cleanup(self.devices)  # their notifications too

	def send_change(self, modified_to=MODIFIED_TO, operation_time=CHANGED_AT) -> str:
		body = date_modified_body(modified_to, self.token, operation_time=operation_time)
		self.assertEqual(post_callback(body, stgid=self.stgid).get_data(), DONE)
		return body

	def events(self) -> list:
		return frappe.get_all(
			DEVICE_EVENT,
			filters={"device": self.stgid, "event_type": "Date Modified"},
			fields=["name", "result"],
			order_by="creation asc",
		)

	def notifications(self, user: str) -> list:
		names = [event.name for event in self.events()]
		return frappe.get_all(
			"Notification Log",
			filters={"for_user": user, "document_type": DEVICE_EVENT, "document_name": ("in", names or [""])},
			fields=["subject", "email_content", "link", "document_name", "type"],
		)

	def test_hr_managers_are_notified_once_per_change_with_the_punches_around_it(self):
		moment = datetime(2024, 9, 17, 9, 2, tzinfo=IST)
		for offset in (timedelta(hours=-1), timedelta(hours=3), timedelta(days=-3)):
			post_callback(punch_body(self.token, "5", moment + offset), stgid=self.stgid)
		self.assertEqual(len(raw_rows(self.stgid)), 3)

		body = self.send_change()
		# The gateway sends the same callback again (it did not see our answer).
		self.assertEqual(post_callback(body, stgid=self.stgid).get_data(), DONE)
		first, resent = self.events()
		self.assertTrue(first.result.startswith("Notified HR Manager: "), first.result)
		self.assertIn(self.hr_manager, first.result)
		self.assertEqual(resent.result, f"Already notified with device event {first.name}")

		[notification] = self.notifications(self.hr_manager)
		self.assertEqual((notification.type, notification.document_name), ("Alert", first.name))
		self.assertIn("Clock &lt;Gate&gt;", notification.subject)  # escaped: a device name is data
		self.assertNotIn("<Gate>", notification.subject)
		self.assertIn(MODIFIED_TO, notification.subject)
		self.assertIn("moved forward 3 min", notification.subject)
		self.assertIn("2 raw punches", notification.email_content)
		self.assertEqual(self.notifications(self.hr_user), [])

		# The link opens the raw punches the device stamped a day either side of the change.
		url = urlsplit(notification.link)
		self.assertEqual(url.path, "/app/cams-raw-punch-log")
		query = parse_qs(url.query)
		self.assertEqual(query["device"], [self.stgid])
		operator, (start, end) = json.loads(query["punch_time"][0])
		self.assertEqual(operator, "Between")
		shown = frappe.get_all(
			"CAMS Raw Punch Log",
			filters={"device": self.stgid, "punch_time": ("between", [start, end])},
			pluck="log_time",
		)
		self.assertCountEqual(shown, ["2024-09-17 08:02:00 GMT +0530", "2024-09-17 12:02:00 GMT +0530"])

		# Another change of the same device is another notification.
		self.send_change("2024-09-17 09:00:00 GMT +0530", "2024-09-17 09:10:00 GMT +0530")
		subjects = [n.subject for n in self.notifications(self.hr_manager)]
		self.assertEqual(len(subjects), 2)
		self.assertEqual(len([s for s in subjects if "moved back 10 min" in s]), 1)

	def test_a_failure_to_notify_never_fails_the_callback(self):
		with patch.object(clock_changes.alerts, "hr_managers", side_effect=RuntimeError("Redis is down")):
			self.send_change()
		[event] = self.events()
		self.assertEqual(event.result, "HR Managers could not be notified; see the Error Log")
		self.assertEqual(self.notifications(self.hr_manager), [])
		self.assertTrue(
			frappe.db.exists("Error Log", {"reference_doctype": DEVICE_EVENT, "reference_name": event.name})
		)
		# The gateway's resend (or the next change) is notified: the failed one counts for nothing.
		self.send_change()
		self.assertEqual(len(self.notifications(self.hr_manager)), 1)

	def test_a_change_without_times_is_still_notified(self):
		body = date_modified_body("not a time", self.token)
		del body["RealTime"]["DateModified"]["OperationTime"]
		self.assertEqual(post_callback(body, stgid=self.stgid).get_data(), DONE)
		[event] = self.events()
		self.assertTrue(event.result.startswith("Notified HR Manager"), event.result)
		[notification] = self.notifications(self.hr_manager)
		self.assertIn("was set to not a time: its punches", notification.subject)
