from datetime import datetime, timedelta, timezone
from unittest.mock import patch

import frappe
from frappe.utils import get_system_timezone
from frappe.utils.background_jobs import get_job

from cams_biometric import api, processing
from cams_biometric.constants import CHECKIN, RAW_PUNCH, SETTINGS
from cams_biometric.protocol.logtime import to_local_naive
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
	raw_rows,
	reset_settings,
	run_queued_job,
	unique,
)

IST = timezone(timedelta(hours=5, minutes=30))


class TestProcessing(CamsTestCase):
	def setUp(self):
		self.user_id = unique("U")
		self.employee = make_employee(self.user_id)
		self.stgid, self.token = make_device(device_label="Main Gate", latitude=12.97, longitude=77.59)
		self.devices = [self.stgid]

	def tearDown(self):
		reset_settings()
		cleanup(self.devices, [self.employee])
		delete_employees([self.employee])

	def punch(self, moment, punch_type="CheckIn", stgid=None, token=None, user_id=None) -> str:
		response = post_callback(
			punch_body(token or self.token, user_id or self.user_id, moment, punch_type),
			stgid=stgid or self.stgid,
		)
		self.assertEqual(response.status_code, 200)
		return frappe.get_all(
			RAW_PUNCH,
			filters={"device": stgid or self.stgid},
			pluck="name",
			order_by="creation desc",
			limit=1,
		)[0]

	def test_a_punch_becomes_one_checkin_at_its_own_time(self):
		moment = datetime(2024, 9, 17, 9, 2, 14, tzinfo=IST)
		name = self.punch(moment, "CheckIn")
		# The job was queued by a Guest request and must not lose the punch time to "now".
		frappe.set_user("Guest")
		run_queued_job(frappe.cache.get_value(processing.DRAIN_JOB_KEY))
		frappe.set_user("Administrator")

		row = frappe.get_doc(RAW_PUNCH, name)
		self.assertEqual(row.status, "Processed", row.error)
		self.assertEqual(row.employee, self.employee)
		checkin = frappe.get_doc(CHECKIN, row.employee_checkin)
		self.assertEqual(checkin.employee, self.employee)
		self.assertEqual(checkin.time, to_local_naive(moment, get_system_timezone()))
		self.assertEqual(checkin.log_type, "IN")
		self.assertEqual(checkin.device_id, "Main Gate")
		self.assertAlmostEqual(checkin.latitude, 12.97)
		self.assertAlmostEqual(checkin.longitude, 77.59)

	def test_a_drain_that_meets_a_backlog_keeps_a_helper_queued(self):
		names = [self.punch(datetime(2024, 9, 21, 9, minute, tzinfo=IST)) for minute in range(3)]
		# Played as a worker would have it: the callbacks' drain has left the queue.
		first = frappe.cache.get_value(processing.DRAIN_JOB_KEY)
		drop_queued_job(first)
		with patch.object(processing, "HELPER_DRAIN_BACKLOG", 2):
			processing.drain_job()
		helper = frappe.cache.get_value(processing.DRAIN_JOB_KEY)
		self.assertNotEqual(helper, first)
		self.assertEqual(get_job(helper).kwargs["method"], "cams_biometric.processing.drain_job")
		self.assertEqual({frappe.db.get_value(RAW_PUNCH, name, "status") for name in names}, {"Processed"})

		# The helper finds the log drained and queues nothing more.
		drop_queued_job(helper)
		with patch.object(processing, "HELPER_DRAIN_BACKLOG", 2):
			processing.drain_job()
		self.assertEqual(frappe.cache.get_value(processing.DRAIN_JOB_KEY), helper)

	def test_reserved_checkin_names_follow_the_hrms_series(self):
		reserved = processing.reserve_checkin_names(3)
		self.assertEqual(len(set(reserved)), 3)
		numbers = [int(name.rsplit("-", 1)[1]) for name in reserved]
		self.assertEqual(numbers, list(range(numbers[0], numbers[0] + 3)))
		# The series has moved past them: a checkin HRMS names itself comes after.
		later = frappe.get_doc(
			{
				"doctype": CHECKIN,
				"employee": self.employee,
				"time": "2024-09-22 09:00:00",
				"log_type": "IN",
			}
		).insert()
		self.assertTrue(later.name.startswith(reserved[0].rsplit("-", 1)[0]))
		self.assertGreater(int(later.name.rsplit("-", 1)[1]), numbers[-1])
		self.assertEqual(processing.reserve_checkin_names(0), [])

	def test_default_mapping_sends_out_types_to_out(self):
		for minute, punch_type, log_type in (
			(0, "BreakOut", "OUT"),
			(1, "MealIn", "IN"),
			(2, "OverTimeOut", "OUT"),
		):
			name = self.punch(datetime(2024, 9, 18, 12, minute, tzinfo=IST), punch_type)
			processing.process_raw_punch(name)
			checkin = frappe.db.get_value(RAW_PUNCH, name, "employee_checkin")
			self.assertEqual(frappe.db.get_value(CHECKIN, checkin, "log_type"), log_type)

	def test_types_switched_off_are_ignored(self):
		settings = frappe.get_single(SETTINGS)
		settings.punch_type_rule("MealOut").create_checkin = 0
		settings.save()
		name = self.punch(datetime(2024, 9, 18, 13, 0, tzinfo=IST), "MealOut")
		self.assertEqual(processing.process_raw_punch(name).status, "Ignored")
		self.assertFalse(frappe.db.get_value(RAW_PUNCH, name, "employee_checkin"))

	def test_processing_twice_makes_one_checkin(self):
		name = self.punch(datetime(2024, 9, 19, 9, 0, tzinfo=IST))
		self.assertEqual(processing.process_raw_punch(name).status, "Processed")
		self.assertIsNone(processing.process_raw_punch(name))
		self.assertEqual(processing.reprocess_rows([name]), {})
		self.assertEqual(frappe.db.count(CHECKIN, {"employee": self.employee}), 1)

	def test_an_existing_identical_checkin_makes_a_duplicate(self):
		moment = datetime(2024, 9, 20, 9, 0, tzinfo=IST)
		existing = frappe.get_doc(
			{
				"doctype": CHECKIN,
				"employee": self.employee,
				"time": to_local_naive(moment, get_system_timezone()),
				"log_type": "IN",
			}
		).insert()
		name = self.punch(moment)
		outcome = processing.process_raw_punch(name)
		self.assertEqual(outcome.status, "Duplicate")
		self.assertEqual(outcome.employee_checkin, existing.name)
		self.assertEqual(frappe.db.count(CHECKIN, {"employee": self.employee}), 1)

	def test_the_same_instant_from_two_devices_is_one_checkin(self):
		other, other_token = make_device()
		self.devices.append(other)
		moment = datetime(2024, 9, 21, 18, 0, tzinfo=IST)
		first = self.punch(moment, "CheckOut")
		second = self.punch(moment, "CheckOut", stgid=other, token=other_token)
		self.assertEqual(processing.process_raw_punch(first).status, "Processed")
		self.assertEqual(processing.process_raw_punch(second).status, "Duplicate")
		self.assertEqual(frappe.db.count(CHECKIN, {"employee": self.employee}), 1)

	def test_late_offline_punches_land_at_their_own_time(self):
		later = self.punch(datetime(2024, 9, 22, 18, 0, tzinfo=IST), "CheckOut")
		earlier = self.punch(datetime(2024, 9, 22, 9, 0, tzinfo=IST), "CheckIn")
		processing.reprocess_rows([later, earlier])
		times = frappe.get_all(
			CHECKIN, filters={"employee": self.employee}, fields=["time", "log_type"], order_by="time"
		)
		self.assertEqual([t.log_type for t in times], ["IN", "OUT"])
		self.assertEqual(
			times[0].time, to_local_naive(datetime(2024, 9, 22, 9, 0, tzinfo=IST), get_system_timezone())
		)

	def test_unmapped_punches_wait_for_the_employee(self):
		newcomer_id = unique("N")
		name = self.punch(datetime(2024, 9, 23, 9, 0, tzinfo=IST), user_id=newcomer_id)
		self.assertEqual(processing.process_raw_punch(name).status, "Unmapped")
		self.assertIn(newcomer_id, frappe.db.get_value(RAW_PUNCH, name, "error"))

		newcomer = make_employee(None)
		employee = frappe.get_doc("Employee", newcomer)
		employee.attendance_device_id = newcomer_id
		employee.save()
		frappe.db.commit()  # nosemgrep: the hook queues its job after commit
		run_queued_job(f"cams_biometric:unmapped:{newcomer_id}")

		row = frappe.get_doc(RAW_PUNCH, name)
		self.assertEqual(row.status, "Processed", row.error)
		self.assertEqual(row.employee, newcomer)
		delete_employees([newcomer])

	def test_inactive_employees_are_an_error_with_the_reason(self):
		frappe.db.set_value("Employee", self.employee, "status", "Inactive")
		name = self.punch(datetime(2024, 9, 24, 9, 0, tzinfo=IST))
		outcome = processing.process_raw_punch(name)
		self.assertEqual(outcome.status, "Error")
		self.assertIn("Inactive", outcome.error)
		frappe.db.set_value("Employee", self.employee, "status", "Active")
		self.assertEqual(processing.reprocess_rows([name]), {name: "Processed"})

	def test_a_leavers_punches_are_theirs_until_the_relieving_date(self):
		# HR sets Left when notice is given: the devices take them until the relieving date.
		frappe.db.set_value("Employee", self.employee, {"status": "Left", "relieving_date": "2024-09-30"})
		notice = self.punch(datetime(2024, 9, 24, 9, 0, tzinfo=IST))
		last_day = self.punch(datetime(2024, 9, 30, 18, 0, tzinfo=IST), "CheckOut")
		after = self.punch(datetime(2024, 10, 2, 9, 0, tzinfo=IST))
		outcomes = processing.reprocess_rows([notice, last_day, after])
		self.assertEqual(outcomes, {notice: "Processed", last_day: "Processed", after: "Error"})
		self.assertIn("after their relieving date", frappe.db.get_value(RAW_PUNCH, after, "error"))
		self.assertEqual(frappe.db.count(CHECKIN, {"employee": self.employee}), 2)

		# Inactive: this app takes the punch as theirs; HRMS itself accepts no checkin of an
		# Inactive Employee, and says so on the row.
		frappe.db.set_value("Employee", self.employee, "status", "Inactive")
		inactive = self.punch(datetime(2024, 9, 25, 9, 0, tzinfo=IST))
		outcome = processing.process_raw_punch(inactive)
		self.assertEqual((outcome.status, outcome.employee), ("Error", self.employee))
		self.assertNotIn("not Active", outcome.error)
		self.assertIn("Inactive Employee", outcome.error)

	def test_hrms_validation_errors_are_recorded(self):
		frappe.db.set_single_value("HR Settings", "allow_geolocation_tracking", 1)
		try:
			stgid, token = make_device()  # no coordinates
			self.devices.append(stgid)
			name = self.punch(datetime(2024, 9, 25, 9, 0, tzinfo=IST), stgid=stgid, token=token)
			outcome = processing.process_raw_punch(name)
		finally:
			frappe.db.set_single_value("HR Settings", "allow_geolocation_tracking", 0)
		self.assertEqual(outcome.status, "Error")
		self.assertIn("Latitude and longitude", outcome.error)

	def test_switched_off_keeps_rows_pending_and_the_sweep_catches_up(self):
		frappe.db.set_single_value(SETTINGS, "enabled", 0)
		name = self.punch(datetime(2024, 9, 26, 9, 0, tzinfo=IST))
		self.assertIsNone(processing.process_raw_punch(name))
		self.assertEqual(frappe.db.get_value(RAW_PUNCH, name, "status"), "Pending")

		frappe.db.set_single_value(SETTINGS, "enabled", 1)
		# The sweep leaves fresh rows to their own job; age this one past the grace period.
		frappe.db.set_value(RAW_PUNCH, name, "creation", datetime(2024, 1, 1), update_modified=False)
		processing.process_pending_punches()
		self.assertEqual(frappe.db.get_value(RAW_PUNCH, name, "status"), "Processed")

	def test_the_sweep_is_scheduled(self):
		self.assertTrue(
			frappe.db.exists(
				"Scheduled Job Type", {"method": "cams_biometric.processing.process_pending_punches"}
			)
		)

	def test_bad_rows_stay_errors_on_reprocess(self):
		response = post_callback(punch_body(self.token, self.user_id, "not a time"), stgid=self.stgid)
		self.assertEqual(response.status_code, 200)
		[row] = raw_rows(self.stgid)
		self.assertEqual(processing.reprocess_rows([row.name]), {row.name: "Error"})
		self.assertIn("not in the form", frappe.db.get_value(RAW_PUNCH, row.name, "error"))


class TestWhoseAndWhen(CamsTestCase):
	"""Which Employee a punch may become a checkin of, and when it waits or stops."""

	def setUp(self):
		self.stgid, self.token = make_device()
		self.devices, self.employees = [self.stgid], []

	def tearDown(self):
		reset_settings()
		frappe.cache.delete_value("time_zone")
		cleanup(self.devices, self.employees)
		delete_employees(self.employees)

	def employee(self, device_user_id, **values) -> str:
		name = make_employee(device_user_id, **values)
		self.employees.append(name)
		return name

	def punch(self, user_id, moment, punch_type="CheckIn", stgid=None, token=None) -> str:
		body = punch_body(token or self.token, user_id, moment, punch_type)
		self.assertEqual(post_callback(body, stgid=stgid or self.stgid).status_code, 200)
		rows = raw_rows(stgid or self.stgid, device_user_id=user_id)
		return next(r.name for r in rows if r.log_time == body["RealTime"]["PunchLog"]["LogTime"])

	def status(self, name) -> str:
		return frappe.db.get_value(RAW_PUNCH, name, "status")

	def test_a_mapping_made_while_a_drain_holds_the_punch_is_not_lost(self):
		user_id = unique("R")
		name = self.punch(user_id, datetime(2024, 9, 23, 9, 0, tzinfo=IST))
		newcomer = self.employee(None)
		site, box = frappe.local.site, {}
		frappe.db.commit()  # nosemgrep

		def decide_unmapped():  # the drain has read "no such Employee", not committed yet
			box["outcome"] = processing._process(name, (processing.PENDING,), {}, [])

		def open_employee():  # the HR user's request opens the Employee meanwhile
			box["employee"] = frappe.get_doc("Employee", newcomer)

		def set_device_id():
			box["employee"].attendance_device_id = user_id
			box["employee"].save()
			frappe.db.commit()  # nosemgrep: the end of that request

		drain = Step(site, decide_unmapped, frappe.db.commit)
		hr_user = Step(site, open_employee, set_device_id)
		drain.go()
		self.assertEqual(box["outcome"].status, "Unmapped")
		hr_user.go()  # its snapshot sees the row Pending
		drain.go()  # the drain commits Unmapped
		hr_user.go()  # the id is saved; the hook ran on the old snapshot
		drain.join(), hr_user.join()

		frappe.db.rollback()
		run_queued_job(f"cams_biometric:unmapped:{user_id}")
		self.assertEqual(self.status(name), "Processed")
		self.assertEqual(frappe.db.get_value(RAW_PUNCH, name, "employee"), newcomer)

	def test_the_sweep_takes_unmapped_punches_an_employee_now_has(self):
		user_id = unique("S")
		name = self.punch(user_id, datetime(2024, 9, 23, 10, 0, tzinfo=IST))
		self.assertEqual(processing.process_raw_punch(name).status, "Unmapped")
		# Set without hooks (a data import, a direct update): only the sweep can notice.
		employee = self.employee(None)
		frappe.db.set_value("Employee", employee, "attendance_device_id", user_id)
		self.assertIn(name, processing.mapped_unmapped_punches(10_000))
		processing.process_pending_punches()
		self.assertEqual(self.status(name), "Processed")
		self.assertNotIn(name, processing.mapped_unmapped_punches(10_000))

	def test_a_mapping_made_while_switched_off_takes_effect_when_switched_on(self):
		user_id = unique("O")
		name = self.punch(user_id, datetime(2024, 9, 23, 11, 0, tzinfo=IST))
		self.assertEqual(processing.process_raw_punch(name).status, "Unmapped")
		settings = frappe.get_single(SETTINGS)
		settings.enabled = 0
		settings.save()

		employee = frappe.get_doc("Employee", self.employee(None))
		employee.attendance_device_id = user_id
		employee.save()
		frappe.db.commit()  # nosemgrep
		run_queued_job(f"cams_biometric:unmapped:{user_id}")
		self.assertEqual(self.status(name), "Unmapped", "switched off: nothing is processed")

		settings.reload()
		settings.enabled = 1
		settings.save()
		frappe.db.commit()  # nosemgrep: the hook queues its job after commit
		run_queued_job("cams_biometric:integration_enabled")
		self.assertEqual(self.status(name), "Processed")

	def test_punches_outside_the_employment_are_not_attributed(self):
		user_id = unique("D")
		before = self.punch(user_id, datetime(2024, 1, 10, 9, 0, tzinfo=IST))
		during = self.punch(user_id, datetime(2026, 11, 2, 9, 0, tzinfo=IST))
		after = self.punch(user_id, datetime(2026, 11, 20, 9, 0, tzinfo=IST))
		employee = self.employee(
			user_id, date_of_joining="2026-11-01", relieving_date="2026-11-10", status="Active"
		)
		outcomes = processing.reprocess_rows([before, during, after])
		self.assertEqual(outcomes, {before: "Error", during: "Processed", after: "Error"})
		self.assertIn("before the date of joining", frappe.db.get_value(RAW_PUNCH, before, "error"))
		self.assertIn("after the relieving date", frappe.db.get_value(RAW_PUNCH, after, "error"))
		self.assertIsNone(frappe.db.get_value(RAW_PUNCH, before, "employee"))
		self.assertEqual(frappe.db.count(CHECKIN, {"employee": employee}), 1)

	def test_the_same_user_id_at_another_company_device_stays_unmapped(self):
		user_id = unique("C")
		company = frappe.db.get_value("Employee", self.employee(user_id), "company")
		other_company = self.make_company()
		branch_b = self.make_branch()
		there, there_token = make_device(company=other_company)
		here, here_token = make_device(company=company, branch=branch_b)
		self.devices += [there, here]

		elsewhere = self.punch(
			user_id, datetime(2024, 9, 23, 9, 0, tzinfo=IST), stgid=there, token=there_token
		)
		outcome = processing.process_raw_punch(elsewhere)
		self.assertEqual(outcome.status, "Unmapped")
		self.assertIn(other_company, outcome.error)
		other_branch = self.punch(
			user_id, datetime(2024, 9, 23, 9, 1, tzinfo=IST), stgid=here, token=here_token
		)
		self.assertEqual(processing.process_raw_punch(other_branch).status, "Unmapped")
		# The sweep does not take them up again and again.
		self.assertFalse({elsewhere, other_branch} & set(processing.mapped_unmapped_punches(10_000)))

		own = self.punch(user_id, datetime(2024, 9, 23, 9, 2, tzinfo=IST))  # a device of no company
		self.assertEqual(processing.process_raw_punch(own).status, "Processed")

	def make_company(self) -> str:
		existing = frappe.get_all("Company", pluck="name")
		other = next(
			(c for c in existing if c != frappe.db.get_value("Employee", self.employees[0], "company")), None
		)
		if other:
			return other
		return (
			frappe.get_doc(
				{
					"doctype": "Company",
					"company_name": "CAMS Test Branch Co",
					"abbr": "CTBC",
					"default_currency": "INR",
					"country": "India",
				}
			)
			.insert(ignore_permissions=True)
			.name
		)

	def make_branch(self) -> str:
		name = unique("CAMS Branch ")
		frappe.get_doc({"doctype": "Branch", "branch": name}).insert(ignore_permissions=True)
		return name

	def test_the_repeated_hour_of_daylight_saving_is_not_a_silent_duplicate(self):
		frappe.db.set_single_value("System Settings", "time_zone", "America/New_York")
		frappe.cache.delete_value("time_zone")
		try:
			user_id = unique("F")
			employee = self.employee(user_id)
			check_in = self.punch(user_id, "2025-11-02 01:30:00 GMT -0400", "CheckIn")
			check_out = self.punch(user_id, "2025-11-02 01:30:00 GMT -0500", "CheckOut")
			outcomes = processing.reprocess_rows([check_in, check_out])
			self.assertEqual(outcomes, {check_in: "Processed", check_out: "Processed"})

			# An IN an hour after the first IN, at the same wall-clock time (another gate).
			gate_b, gate_b_token = make_device()
			gate_c, gate_c_token = make_device()
			self.devices += [gate_b, gate_c]
			again_in = self.punch(
				user_id, "2025-11-02 01:30:00 GMT -0500", "CheckIn", stgid=gate_b, token=gate_b_token
			)
			self.assertEqual(processing.process_raw_punch(again_in).status, "Error")
			self.assertIn("occurs twice", frappe.db.get_value(RAW_PUNCH, again_in, "error"))
			self.assertEqual(frappe.db.count(CHECKIN, {"employee": employee}), 2)

			# The very instant of the first IN, from a third gate, is still a plain duplicate.
			same = self.punch(
				user_id, "2025-11-02 01:30:00 GMT -0400", "CheckIn", stgid=gate_c, token=gate_c_token
			)
			self.assertEqual(processing.process_raw_punch(same).status, "Duplicate")
		finally:
			frappe.db.set_single_value("System Settings", "time_zone", self.zone_before)

	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.zone_before = frappe.db.get_single_value("System Settings", "time_zone")

	def test_ignored_punches_are_reprocessed_once_their_type_is_on_again(self):
		user_id = unique("I")
		employee = self.employee(user_id)
		settings = frappe.get_single(SETTINGS)
		settings.punch_type_rule("MealIn").create_checkin = 0
		settings.save()
		name = self.punch(user_id, datetime(2024, 9, 24, 13, 0, tzinfo=IST), "MealIn")
		self.assertEqual(processing.process_raw_punch(name).status, "Ignored")

		settings.reload()
		settings.punch_type_rule("MealIn").create_checkin = 1
		frappe.clear_messages()
		settings.save()
		[offer] = [m for m in frappe.get_message_log() if m.get("primary_action")]
		action = offer["primary_action"]
		self.assertEqual(action["server_action"], "cams_biometric.api.reprocess_ignored")
		self.assertEqual(
			api.reprocess_ignored(action["args"]), {"queued": False, "outcomes": {name: "Processed"}}
		)
		self.assertEqual(frappe.db.count(CHECKIN, {"employee": employee}), 1)

	def test_reprocess_takes_ignored_rows(self):
		user_id = unique("J")
		self.employee(user_id)
		settings = frappe.get_single(SETTINGS)
		settings.punch_type_rule("MealOut").create_checkin = 0
		settings.save()
		name = self.punch(user_id, datetime(2024, 9, 24, 14, 0, tzinfo=IST), "MealOut")
		self.assertEqual(processing.process_raw_punch(name).status, "Ignored")
		self.assertEqual(api.reprocess([name]), {"queued": False, "outcomes": {name: "Ignored"}})
		settings.reload()
		settings.punch_type_rule("MealOut").create_checkin = 1
		settings.save()
		self.assertEqual(api.reprocess([name]), {"queued": False, "outcomes": {name: "Processed"}})
