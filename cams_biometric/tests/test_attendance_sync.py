"""Last Sync of Checkin waits for late devices: held while a device has not been heard from
since a shift ended, released once it has, never moved backwards nor past now.

The plan is narrowed to this test's devices and Shift Type (other tests' leftovers on a
shared site would hold it otherwise); times are the site's, passed in."""

from datetime import datetime, time, timedelta

import frappe
from frappe.desk.query_report import run as run_report
from frappe.utils import getdate, now_datetime

from cams_biometric import attendance_sync, health
from cams_biometric.constants import DEVICE, SETTINGS
from cams_biometric.tests.test_reports import site_moment
from cams_biometric.tests.utils import (
	CamsTestCase,
	cleanup,
	make_device,
	post_callback,
	punch_body,
	reset_settings,
	unique,
)


class TestAttendanceSync(CamsTestCase):
	def setUp(self):
		super().setUp()
		# A 09:00-17:00 shift with an hour to check out: it actually ends at 18:00.
		self.shift = unique("CAMS Sync ")
		self.day = getdate(now_datetime()) - timedelta(days=1)
		frappe.get_doc(
			{
				"doctype": "Shift Type",
				"name": self.shift,
				"start_time": "09:00:00",
				"end_time": "17:00:00",
				"allow_check_out_after_shift_end_time": 60,
				"enable_auto_attendance": 1,
				"process_attendance_after": self.day - timedelta(days=10),
				"auto_update_last_sync": 0,
				"last_sync_of_checkin": self.at("18:01:00", days=-1),
			}
		).insert(ignore_permissions=True)
		self.gate, self.gate_token = make_device(device_label="Main Gate")
		self.annex, _token = make_device(device_label="Annex")
		self.addCleanup(cleanup, [self.gate, self.annex])
		self.addCleanup(frappe.db.delete, "Shift Type", {"name": self.shift})
		frappe.db.set_single_value(SETTINGS, "hold_auto_attendance", 1)
		frappe.db.commit()  # nosemgrep

	def tearDown(self):
		frappe.db.set_single_value(SETTINGS, "hold_auto_attendance", 0)
		reset_settings()

	def at(self, clock: str, days: int = 0) -> datetime:
		return datetime.combine(self.day + timedelta(days=days), time.fromisoformat(clock))

	def heard(self, device: str, moment: datetime | None, field: str = "last_punch_received"):
		frappe.db.set_value(DEVICE, device, field, moment)

	def sync(self, now: datetime) -> attendance_sync.ShiftSync:
		devices = [d for d in health.enabled_devices() if d.name in (self.gate, self.annex)]
		[result] = attendance_sync.sync_last_sync_of_checkin(now, devices=devices, shift_types=[self.shift])
		return result

	def last_sync(self) -> datetime:
		return frappe.db.get_value("Shift Type", self.shift, "last_sync_of_checkin")

	def test_held_until_every_device_is_heard_after_the_shift_end(self):
		self.heard(self.gate, self.at("19:00:00"))
		self.heard(self.annex, self.at("17:30:00"))  # quiet since before the shift's end
		result = self.sync(self.at("20:00:00"))
		self.assertEqual(result.latest_end, self.at("18:00:00"))
		self.assertEqual([device for device, _reason in result.held_by], [self.annex])
		self.assertIn("Annex has not been heard from since", result.reasons()[0])
		self.assertIsNone(result.new_value)
		self.assertEqual(self.last_sync(), self.at("18:01:00", days=-1), "held at yesterday's end")

		# The gateway reports the annex connected after the end: released.
		self.heard(self.annex, self.at("18:30:00"), "gateway_last_connected")
		result = self.sync(self.at("20:05:00"))
		self.assertFalse(result.held)
		self.assertEqual(self.last_sync(), self.at("18:01:00"))

		# Never backwards: a later plan that would stop earlier leaves the mark where it is.
		self.heard(self.annex, None, "gateway_last_connected")
		result = self.sync(self.at("20:10:00"))
		self.assertEqual(self.last_sync(), self.at("18:01:00"))
		self.assertIsNone(result.new_value)
		self.assertFalse(result.held, "the mark is past the latest end already")

	def test_a_device_never_heard_from_holds_and_a_quiet_one_still_releases_earlier_shifts(self):
		self.heard(self.gate, self.at("19:00:00"))
		self.heard(self.annex, None)
		result = self.sync(self.at("20:00:00"))
		self.assertIn("never been heard from", result.reasons()[0])
		self.assertEqual(self.last_sync(), self.at("18:01:00", days=-1))

		# Two days on, the annex was last heard this morning: the shift of the day it was
		# heard after is released, today's waits.
		frappe.db.set_value("Shift Type", self.shift, "last_sync_of_checkin", self.at("18:01:00", days=-3))
		self.heard(self.annex, self.at("10:00:00"))
		self.sync(self.at("20:00:00"))
		self.assertEqual(self.last_sync(), self.at("18:01:00", days=-1))

	def test_never_past_now_and_pending_punches_hold(self):
		self.heard(self.gate, self.at("18:00:20"))
		self.heard(self.annex, self.at("18:00:20"))
		self.sync(self.at("18:00:30"))
		self.assertEqual(self.last_sync(), self.at("18:00:30"), "the end + 1 minute is still ahead")

		# A punch from before the end not yet a checkin (Pending: no drain has run) holds the
		# next shift's release until it is processed.
		frappe.db.set_value("Shift Type", self.shift, "last_sync_of_checkin", self.at("18:01:00", days=-1))
		body = punch_body(self.gate_token, unique("P"), site_moment(self.day, "16:55:00"))
		self.assertEqual(post_callback(body, stgid=self.gate).status_code, 200)
		self.heard(self.gate, self.at("19:00:00"))
		self.heard(self.annex, self.at("19:00:00"))
		result = self.sync(self.at("20:00:00"))
		self.assertIn("still waiting to become checkins", result.pending_reason)
		self.assertEqual(self.last_sync(), self.at("18:01:00", days=-1))

	def test_switched_off_nothing_moves_and_device_health_shows_the_hold(self):
		frappe.db.set_single_value(SETTINGS, "hold_auto_attendance", 0)
		self.assertEqual(attendance_sync.sync_last_sync_of_checkin(self.at("20:00:00")), [])
		self.assertEqual(self.last_sync(), self.at("18:01:00", days=-1))

		# Device Health runs the plan at the real now, over every enabled device: the annex,
		# never heard from, holds this shift whatever the hour.
		frappe.db.set_single_value(SETTINGS, "hold_auto_attendance", 1)
		self.heard(self.annex, None)
		frappe.db.commit()  # nosemgrep
		rows = {row["device"]: row for row in run_report("Device Health", filters={})["result"]}
		self.assertIn(self.shift, rows[self.annex]["attendance_hold"])
		self.assertIn("never been heard from", rows[self.annex]["attendance_hold"])

	def test_the_settings_offer_to_take_over_shifts_hrms_updates(self):
		frappe.db.set_single_value(SETTINGS, "hold_auto_attendance", 0)
		frappe.db.set_value("Shift Type", self.shift, "auto_update_last_sync", 1)
		self.assertIn(self.shift, attendance_sync.shift_types_left_to_hrms())
		self.assertEqual(attendance_sync.plan(self.at("20:00:00"), devices=[], shift_types=[self.shift]), [])
		frappe.clear_messages()
		settings = frappe.get_single(SETTINGS)
		settings.hold_auto_attendance = 1
		settings.save()
		self.assertTrue(any(self.shift in str(message) for message in frappe.local.message_log))

		# Other tests' Shift Types stay as they are: only this one is offered here.
		others = [name for name in attendance_sync.shift_types_left_to_hrms() if name != self.shift]
		for name in others:
			frappe.db.set_value("Shift Type", name, "auto_update_last_sync", 0)
		try:
			self.assertEqual(attendance_sync.take_over_shift_types(), [self.shift])
			self.assertEqual(frappe.db.get_value("Shift Type", self.shift, "auto_update_last_sync"), 0)
			self.assertEqual(attendance_sync.shift_types_left_to_hrms(), [])
		finally:
			for name in others:
				frappe.db.set_value("Shift Type", name, "auto_update_last_sync", 1)
			frappe.db.commit()  # nosemgrep
