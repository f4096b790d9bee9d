"""Silent-device alerts fire once and clear once; the backlog summary goes out only when the
backlog grew. Times are the site's (now_datetime), passed in so the test does not depend on
the hour it runs at."""

from datetime import datetime, time, timedelta

import frappe
from frappe.utils import getdate, now_datetime

from cams_biometric import alerts, health
from cams_biometric.constants import DEVICE, SETTINGS
from cams_biometric.tests.utils import (
	CamsTestCase,
	cleanup,
	make_device,
	post_callback,
	punch_body,
	reset_settings,
	unique,
)

HR_USER = "cams-alerts-hr-manager@example.com"


def ensure_hr_manager() -> str:
	if not frappe.db.exists("User", HR_USER):
		user = frappe.get_doc(
			{"doctype": "User", "email": HR_USER, "first_name": "CAMS Alerts", "send_welcome_email": 0}
		).insert(ignore_permissions=True)
		user.add_roles("HR Manager")
	frappe.db.set_value("User", HR_USER, "enabled", 1)
	frappe.db.commit()  # nosemgrep
	return HR_USER


def reset_alert_settings():
	frappe.db.set_single_value(
		SETTINGS,
		{
			"silent_after_hours": 2,
			"alert_holiday_list": None,
			"working_hours_from": "09:00:00",
			"working_hours_to": "18:00:00",
		},
	)
	frappe.db.commit()  # nosemgrep


class TestSilentDeviceAlerts(CamsTestCase):
	def setUp(self):
		super().setUp()
		self.user = ensure_hr_manager()
		reset_alert_settings()
		self.day = getdate(now_datetime())
		self.stgid, self.token = make_device(device_label=unique("Gate "))
		self.other, _token = make_device()
		self.addCleanup(cleanup, [self.stgid, self.other])

	def tearDown(self):
		frappe.db.delete(
			"Notification Log", {"document_type": DEVICE, "document_name": ("in", [self.stgid, self.other])}
		)
		reset_alert_settings()
		reset_settings()

	def at(self, clock: str) -> datetime:
		return datetime.combine(self.day, time.fromisoformat(clock))

	def heard(self, device: str, clock: str):
		frappe.db.set_value(DEVICE, device, "last_punch_received", self.at(clock))
		frappe.db.commit()  # nosemgrep

	def check(self, clock: str):
		alerts.check_silent_devices(self.at(clock), devices=[self.stgid, self.other])

	def notifications(self, device: str) -> list[str]:
		return frappe.get_all(
			"Notification Log",
			filters={"for_user": self.user, "document_type": DEVICE, "document_name": device},
			pluck="subject",
			order_by="creation asc",
		)

	def test_a_silent_device_is_reported_once_and_once_more_when_back(self):
		self.heard(self.stgid, "08:00:00")  # before work: quiet since 09:00 counts
		self.heard(self.other, "11:00:00")
		self.check("10:30:00")
		self.assertEqual(self.notifications(self.stgid), [], "1.5 working hours are not 2")

		self.check("11:05:00")
		[subject] = self.notifications(self.stgid)
		self.assertIn("is silent", subject)
		self.assertEqual(frappe.db.get_value(DEVICE, self.stgid, "silent_alert_sent"), self.at("11:05:00"))
		self.assertEqual(self.notifications(self.other), [])

		self.check("11:10:00")
		self.check("15:00:00")
		self.assertEqual(len(self.notifications(self.stgid)), 1, "once, however often the job runs")

		# Heard from again (a callback's punch writes Last Punch Received).
		self.heard(self.stgid, "15:20:00")
		self.check("15:25:00")
		subjects = self.notifications(self.stgid)
		self.assertEqual(len(subjects), 2)
		self.assertIn("is back", subjects[1])
		self.assertIsNone(frappe.db.get_value(DEVICE, self.stgid, "silent_alert_sent"))
		self.check("15:30:00")
		self.assertEqual(len(self.notifications(self.stgid)), 2, "back once")

	def test_no_alert_outside_working_hours_or_on_a_holiday(self):
		self.heard(self.stgid, "06:00:00")
		self.heard(self.other, "06:00:00")
		self.check("08:30:00")  # before work
		self.check("19:00:00")  # after work
		self.assertEqual(self.notifications(self.stgid), [])

		holidays = frappe.get_doc(
			{
				"doctype": "Holiday List",
				"holiday_list_name": unique("CAMS Holidays "),
				"from_date": self.day - timedelta(days=1),
				"to_date": self.day + timedelta(days=1),
				"holidays": [{"holiday_date": self.day, "description": "Test holiday"}],
			}
		).insert(ignore_permissions=True)
		self.addCleanup(frappe.delete_doc, "Holiday List", holidays.name, force=True)
		frappe.db.set_single_value(SETTINGS, "alert_holiday_list", holidays.name)
		frappe.db.commit()  # nosemgrep
		self.check("12:00:00")
		self.assertEqual(self.notifications(self.stgid), [], "a holiday is no working day")

		frappe.db.set_single_value(SETTINGS, "alert_holiday_list", None)
		self.check("12:00:00")
		self.assertEqual(len(self.notifications(self.stgid)), 1)

	def test_the_threshold_and_a_device_never_heard_from(self):
		frappe.db.set_single_value(SETTINGS, "silent_after_hours", 0.5)
		frappe.db.set_value(DEVICE, self.stgid, "last_punch_received", None)
		self.heard(self.other, "09:10:00")
		self.check("09:35:00")
		self.assertEqual(len(self.notifications(self.stgid)), 1, "never heard: silent since work began")
		self.assertIn("never", self.notifications(self.stgid)[0])
		self.assertEqual(self.notifications(self.other), [], "25 minutes are not half an hour")
		self.assertTrue(health.is_silent(frappe._dict(last_punch_received=None, gateway_last_connected=None)))


class TestBacklogSummary(CamsTestCase):
	def setUp(self):
		super().setUp()
		self.user = ensure_hr_manager()
		self.stgid, self.token = make_device()
		self.addCleanup(cleanup, [self.stgid])

	def tearDown(self):
		frappe.db.delete(
			"Notification Log", {"for_user": self.user, "subject": ("like", "CAMS punches waiting%")}
		)
		frappe.db.commit()  # nosemgrep

	def summaries(self) -> list[str]:
		return frappe.get_all(
			"Notification Log",
			filters={"for_user": self.user, "subject": ("like", "CAMS punches waiting%")},
			pluck="name",
		)

	def test_a_summary_only_when_the_backlog_grew(self):
		alerts.send_backlog_summary()  # whatever the site holds now is the baseline
		before = len(self.summaries())
		errors = frappe.db.get_single_value(SETTINGS, "backlog_errors")
		unmapped = frappe.db.get_single_value(SETTINGS, "backlog_unmapped")
		self.assertEqual({"errors": errors, "unmapped": unmapped}, alerts.backlog())

		alerts.send_backlog_summary()
		self.assertEqual(len(self.summaries()), before, "nothing grew")

		bad = punch_body(self.token, "9", "2024-13-45 99:00:00 GMT +0300")
		self.assertEqual(post_callback(bad, stgid=self.stgid).status_code, 200)
		alerts.send_backlog_summary()
		self.assertEqual(len(self.summaries()), before + 1)
		latest = frappe.get_all(
			"Notification Log",
			filters={"name": ("in", self.summaries())},
			fields=["subject", "email_content"],
			order_by="creation desc",
			limit=1,
		)[0]
		self.assertIn(f"{errors + 1} Error", latest.subject)
		self.assertIn("(+1 since the last summary)", latest.email_content)

		alerts.send_backlog_summary()
		self.assertEqual(len(self.summaries()), before + 1, "once per growth")
