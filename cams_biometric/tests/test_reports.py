"""The three reports, against punches the tests send through the real callback, and the
Unmapped Device Users action that maps a user and turns the waiting punches into checkins."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import frappe
from frappe.desk.query_report import run as run_report
from frappe.utils import get_first_day_of_week, get_system_timezone, getdate, now_datetime

from cams_biometric import device_users, loads, processing
from cams_biometric.cams_biometric.report.unmapped_device_users.unmapped_device_users import (
	map_device_user,
)
from cams_biometric.constants import CHECKIN, DEVICE, RAW_PUNCH
from cams_biometric.protocol.client import LoadLogPage
from cams_biometric.tests.utils import (
	CamsTestCase,
	cleanup,
	delete_employees,
	drop_queued_job,
	make_device,
	make_employee,
	post_callback,
	punch_body,
	raw_rows,
	reset_settings,
	run_queued_job,
	unique,
)


def site_moment(day, clock: str) -> datetime:
	"""An instant given as the site's wall-clock time (what the raw row's punch_time shows)."""
	return datetime.combine(day, time.fromisoformat(clock)).replace(tzinfo=ZoneInfo(get_system_timezone()))


def naive(moment: datetime) -> datetime:
	return moment.replace(tzinfo=None)


class ReportTestCase(CamsTestCase):
	def setUp(self):
		super().setUp()
		self.devices, self.employees = [], []

	def tearDown(self):
		reset_settings()
		if self.devices:
			frappe.db.delete("CAMS Load Request", {"device": ("in", self.devices)})
		cleanup(self.devices, self.employees)
		delete_employees(self.employees)

	def device(self, **values) -> tuple[str, str]:
		stgid, token = make_device(**values)
		self.devices.append(stgid)
		return stgid, token

	def employee(self, user_id: str | None, **values) -> str:
		name = make_employee(user_id, **values)
		self.employees.append(name)
		return name

	def punch(self, stgid: str, token: str, user_id: str, moment, punch_type="CheckIn"):
		response = post_callback(punch_body(token, user_id, moment, punch_type), stgid=stgid)
		self.assertEqual(response.status_code, 200)

	def drain(self):
		"""Run the drain the callbacks queued, as a worker would."""
		run_queued_job(frappe.cache.get_value(processing.DRAIN_JOB_KEY))

	def report(self, name: str, **filters) -> list[dict]:
		return run_report(name, filters=filters)["result"]


class TestUnmappedDeviceUsers(ReportTestCase):
	def test_rows_count_the_waiting_punches_and_the_action_maps_them(self):
		stgid, token = self.device(device_label="Side Door")
		mapped_user, waiting_user, other_user = unique("M"), unique("W"), unique("O")
		self.employee(mapped_user)
		day = getdate(now_datetime()) - timedelta(days=2)
		first, middle, last = (site_moment(day, t) for t in ("08:01:00", "12:30:00", "17:45:10"))
		self.punch(stgid, token, mapped_user, first)
		self.punch(stgid, token, waiting_user, first)
		self.punch(stgid, token, waiting_user, last, "CheckOut")
		self.punch(stgid, token, other_user, middle)
		self.drain()
		# The directory knows the device's name for the waiting user (the device reported it).
		device_users.apply_event(
			stgid, "User Updated", {"UserID": waiting_user, "FirstName": "Ravi", "LastName": "Kumar"}
		)
		# A Load Punchlog brings one more punch of the waiting user.
		load = self.load(stgid, day)
		loads.store_page(
			load,
			LoadLogPage(
				offset=0,
				rows=[punch_body(token, waiting_user, middle)["RealTime"]["PunchLog"]],
				next_offset=None,
				return_row_count=1,
				operation_id="op-1",
			),
		)
		frappe.db.commit()  # nosemgrep

		rows = {row["device_user_id"]: row for row in self.report("Unmapped Device Users", device=stgid)}
		self.assertEqual(set(rows), {waiting_user, other_user}, "the mapped user's punch made a checkin")
		waiting = rows[waiting_user]
		self.assertEqual(waiting["punches_waiting"], 3)
		self.assertEqual(waiting["first_seen"], naive(first))
		self.assertEqual(waiting["last_seen"], naive(last))
		self.assertEqual(waiting["name_on_device"], "Ravi Kumar")
		self.assertEqual(waiting["device_label"], "Side Door")
		self.assertIn(f"No Employee has Attendance Device ID {waiting_user}", waiting["reason"])
		self.assertEqual(rows[other_user]["punches_waiting"], 1)
		self.assertIsNone(rows[other_user]["name_on_device"])

		# ?load_request=: the rows that load stored, and only those.
		[of_load] = self.report("Unmapped Device Users", load_request=load.name)
		self.assertEqual((of_load["device_user_id"], of_load["punches_waiting"]), (waiting_user, 1))
		self.assertEqual(of_load["first_seen"], naive(middle))

		# The action: the Employee gets the id, and the pickup the Employee hook queued makes
		# the three waiting punches their checkins.
		newcomer = self.employee(None)
		result = map_device_user(employee=newcomer, device_user_id=waiting_user, device=stgid)
		self.assertEqual(result["waiting"], 3)
		frappe.db.commit()  # nosemgrep: the pickup is queued on commit
		run_queued_job(f"cams_biometric:unmapped:{waiting_user}")
		rows = raw_rows(stgid, device_user_id=waiting_user)
		self.assertEqual([row.status for row in rows], ["Processed"] * 3, [row.error for row in rows])
		self.assertEqual(frappe.db.count(CHECKIN, {"employee": newcomer}), 3)
		remaining = [row["device_user_id"] for row in self.report("Unmapped Device Users", device=stgid)]
		self.assertEqual(remaining, [other_user])

	def test_the_action_refuses_an_employee_with_another_id_and_an_id_taken(self):
		stgid, _token = self.device()
		holder_id = unique("H")
		holder = self.employee(holder_id)
		with self.assertRaises(frappe.ValidationError):
			map_device_user(employee=holder, device_user_id=unique("X"), device=stgid)
		self.assertEqual(frappe.db.get_value("Employee", holder, "attendance_device_id"), holder_id)
		with self.assertRaises(frappe.ValidationError):
			map_device_user(employee=self.employee(None), device_user_id=holder_id, device=stgid)

	def load(self, stgid: str, day):
		load = frappe.get_doc(
			{
				"doctype": "CAMS Load Request",
				"device": stgid,
				"from_time": datetime.combine(day, time(0)),
				"to_time": datetime.combine(day, time(23, 59)),
			}
		).insert(ignore_permissions=True)
		frappe.db.commit()  # nosemgrep
		drop_queued_job(loads.page_job_id(load.name, 0))  # pages are not fetched here
		return load


class TestDeviceHealth(ReportTestCase):
	def test_figures_of_a_busy_device_and_of_one_without_punches(self):
		busy, token = self.device(device_label="Busy Gate")
		quiet, _token = self.device(device_label="Quiet Gate")
		user_id = unique("DH")
		self.employee(user_id)
		now = now_datetime()
		zone = ZoneInfo(get_system_timezone())
		moments = [
			(now - timedelta(minutes=3)).replace(tzinfo=zone, microsecond=0),
			(now - timedelta(minutes=2)).replace(tzinfo=zone, microsecond=0),
			(now - timedelta(days=3)).replace(tzinfo=zone, microsecond=0),
			(now - timedelta(days=9)).replace(tzinfo=zone, microsecond=0),
		]
		for moment in moments:
			self.punch(busy, token, user_id, moment)
		self.punch(busy, token, unique("NOBODY"), moments[0])  # Unmapped
		self.drain()
		bad = punch_body(token, "9", "2024-13-45 99:00:00 GMT +0300")
		self.assertEqual(post_callback(bad, stgid=busy).status_code, 200)  # Error
		pending = (now - timedelta(minutes=1)).replace(tzinfo=zone, microsecond=0)
		self.punch(busy, token, user_id, pending, "CheckOut")  # Pending: no drain runs
		drop_queued_job(frappe.cache.get_value(processing.DRAIN_JOB_KEY))
		# The quiet device was last heard from 30 hours ago.
		heard = now - timedelta(hours=30)
		frappe.db.set_value(DEVICE, quiet, "last_punch_received", heard)
		frappe.db.commit()  # nosemgrep

		rows = {row["device"]: row for row in self.report("Device Health") if row["device"] in self.devices}
		today = datetime.combine(getdate(now), time(0))
		week = datetime.combine(get_first_day_of_week(today), time(0))
		# The busy device's stored punches: the four, the Unmapped one, the Pending one.
		stored = [naive(m) for m in moments] + [naive(moments[0]), naive(pending)]
		busy_row = rows[busy]
		self.assertEqual(busy_row["punches_today"], sum(today <= t for t in stored))
		self.assertEqual(busy_row["punches_this_week"], sum(week <= t for t in stored))
		self.assertEqual(busy_row["latest_punch_time"], naive(pending))
		self.assertEqual((busy_row["pending"], busy_row["unmapped"], busy_row["errors"]), (1, 1, 1))
		self.assertEqual(busy_row["silent"], 0)
		self.assertIsNotNone(busy_row["last_punch_received"])

		quiet_row = rows[quiet]
		self.assertEqual(quiet_row["silent"], 1)
		self.assertAlmostEqual(quiet_row["silent_hours"], 30, delta=0.2)
		self.assertEqual(quiet_row["last_punch_received"], heard)
		self.assertIsNone(quiet_row["latest_punch_time"])
		for field in ("punches_today", "punches_this_week", "pending", "unmapped", "errors"):
			self.assertEqual(quiet_row[field], 0, field)

		# A disabled device is left out unless asked for.
		frappe.db.set_value(DEVICE, quiet, "enabled", 0)
		self.assertNotIn(quiet, [row["device"] for row in self.report("Device Health")])
		self.assertIn(quiet, [row["device"] for row in self.report("Device Health", include_disabled=1)])


class TestDailyPunches(ReportTestCase):
	def test_first_in_last_out_and_the_flags_of_each_employee_day(self):
		company = frappe.defaults.get_global_default("company") or frappe.get_all("Company", pluck="name")[0]
		department = (
			frappe.get_doc(
				{"doctype": "Department", "department_name": unique("CAMS Dept "), "company": company}
			)
			.insert(ignore_permissions=True)
			.name
		)
		# Cleanups run after tearDown, once the employees in it are gone.
		self.addCleanup(frappe.db.commit)
		self.addCleanup(frappe.delete_doc, "Department", department, force=True, ignore_permissions=True)
		shift = self.shift_type()
		stgid, token = self.device()
		steady_id, odd_id, elsewhere_id = unique("S"), unique("D"), unique("E")
		steady = self.employee(steady_id, department=department)  # no shift at all
		odd = self.employee(odd_id, department=department, default_shift=shift)
		self.employee(elsewhere_id)  # another department: not in the report
		day = getdate(now_datetime()) - timedelta(days=3)
		before = day - timedelta(days=1)
		punches = [
			(steady_id, day, "09:00:00", "CheckIn"),
			(steady_id, day, "13:00:00", "CheckOut"),
			(steady_id, day, "14:00:00", "CheckIn"),
			(steady_id, day, "18:00:00", "CheckOut"),
			(odd_id, day, "09:05:00", "CheckIn"),
			(odd_id, day, "12:00:00", "CheckOut"),
			(odd_id, day, "13:00:00", "CheckIn"),  # no OUT after it
			(odd_id, before, "09:00:00", "CheckIn"),
			(odd_id, before, "22:30:00", "CheckOut"),  # after the shift (09-18, +60 min)
			(elsewhere_id, day, "09:00:00", "CheckIn"),
		]
		for user_id, punch_day, clock, punch_type in punches:
			self.punch(stgid, token, user_id, site_moment(punch_day, clock), punch_type)
		self.drain()
		self.assertEqual({row.status for row in raw_rows(stgid)}, {"Processed"})

		rows = self.report(
			"Daily Punches", company=company, department=department, from_date=before, to_date=day
		)
		by_key = {(row["employee"], getdate(row["day"])): row for row in rows}
		self.assertEqual(set(by_key), {(steady, day), (odd, day), (odd, before)})

		row = by_key[(steady, day)]
		self.assertEqual(row["punches"], 4)
		self.assertEqual(row["first_in"], naive(site_moment(day, "09:00:00")))
		self.assertEqual(row["last_out"], naive(site_moment(day, "18:00:00")))
		self.assertEqual((row["odd_punches"], row["missing_out"]), (0, 0))
		# No shift: HRMS attaches none of the checkins, which says nothing about this day.
		self.assertEqual((row["shift"], row["outside_shift"]), (None, 0))
		# The link to the day's checkins spans exactly them.
		self.assertEqual(
			frappe.db.count(
				CHECKIN, {"employee": steady, "time": ("between", [row["first_punch"], row["last_punch"]])}
			),
			4,
		)

		row = by_key[(odd, day)]
		self.assertEqual(row["punches"], 3)
		self.assertEqual(row["first_in"], naive(site_moment(day, "09:05:00")))
		self.assertEqual(row["last_out"], naive(site_moment(day, "12:00:00")))
		self.assertEqual((row["odd_punches"], row["missing_out"]), (1, 1))
		self.assertEqual((row["shift"], row["outside_shift"]), (shift, 0))

		row = by_key[(odd, before)]
		self.assertEqual(row["punches"], 2)
		self.assertEqual((row["odd_punches"], row["missing_out"]), (0, 0))
		self.assertEqual((row["shift"], row["outside_shift"]), (shift, 1))

		# A day without punches has no row; an employee filter narrows to one person.
		only_odd = self.report("Daily Punches", company=company, employee=odd, from_date=day, to_date=day)
		self.assertEqual([(r["employee"], getdate(r["day"])) for r in only_odd], [(odd, day)])

	def shift_type(self) -> str:
		name = unique("CAMS Day ")
		frappe.get_doc(
			{
				"doctype": "Shift Type",
				"name": name,
				"start_time": "09:00:00",
				"end_time": "18:00:00",
				"begin_check_in_before_shift_start_time": 60,
				"allow_check_out_after_shift_end_time": 60,
			}
		).insert(ignore_permissions=True)
		frappe.db.commit()  # nosemgrep
		self.addCleanup(frappe.db.commit)
		self.addCleanup(frappe.db.delete, "Shift Type", {"name": name})
		return name
