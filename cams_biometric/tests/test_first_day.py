"""A new admin's first day (issue 21): what the desk says must be what happens. Mapping a
device user says before what the waiting punches become and counts after what they became,
and asks before replacing an Employee's id; the Employee form says from which devices punches
came and which commands are on their way; commands and loads are numbered apart."""

import json
from datetime import timedelta
from pathlib import Path

import frappe
from frappe.utils import add_days, add_to_date, getdate, now_datetime, nowdate

from cams_biometric import commands, device_users, employee_activity, mapping, processing
from cams_biometric.cams_biometric.report.unmapped_device_users.unmapped_device_users import (
	columns as unmapped_columns,
)
from cams_biometric.cams_biometric.report.unmapped_device_users.unmapped_device_users import (
	map_device_user,
)
from cams_biometric.constants import DEVICE_USER, RAW_PUNCH, SETTINGS
from cams_biometric.ingest import insert_row
from cams_biometric.loads import LOAD_REQUEST, page_job_id
from cams_biometric.patches import separate_command_and_load_series
from cams_biometric.tests.test_permissions import make_user
from cams_biometric.tests.test_reports import site_moment
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

PAYLOADS = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "payloads"


class FirstDayTestCase(CamsTestCase):
	def setUp(self):
		super().setUp()
		reset_settings()
		self.stgid, self.token = make_device(device_label="Front Door")
		self.employees = []
		self.endpoint_before = frappe.db.get_single_value(SETTINGS, "restful_endpoint")

	def tearDown(self):
		frappe.set_user("Administrator")
		for name in frappe.get_all(commands.COMMAND, {"device": self.stgid}, pluck="name"):
			drop_queued_job(f"cams_biometric:command:{name}")
		frappe.db.delete(commands.COMMAND, {"device": self.stgid})
		frappe.db.delete(LOAD_REQUEST, {"device": self.stgid})
		frappe.db.set_single_value(SETTINGS, "restful_endpoint", self.endpoint_before)
		cleanup([self.stgid], self.employees)
		delete_employees(self.employees)
		frappe.db.commit()  # nosemgrep

	def employee(self, user_id, **values) -> str:
		name = make_employee(user_id, **values)
		self.employees.append(name)
		return name

	def punches(self, user_id: str, days_ago: list[int]):
		"""A CheckIn of ``user_id`` at 09:00 on each of these days, by callback, then the drain."""
		for days in days_ago:
			moment = site_moment(getdate(now_datetime()) - timedelta(days=days), "09:00:00")
			response = post_callback(punch_body(self.token, user_id, moment), stgid=self.stgid)
			self.assertEqual(response.status_code, 200)
		run_queued_job(frappe.cache.get_value(processing.DRAIN_JOB_KEY))


class TestMapping(FirstDayTestCase):
	def test_the_forecast_says_which_punches_fall_before_the_date_of_joining_and_the_outcome_counts_them(
		self,
	):
		user_id = unique("W")
		self.punches(user_id, [5, 4, 1])  # two before the joining date, one after
		newcomer = self.employee(None, date_of_joining=add_days(nowdate(), -2))
		before = mapping.forecast(newcomer, user_id)
		self.assertEqual(before["waiting"], 3)
		self.assertEqual(before["counts"], {"before_joining": 2, "checkins": 1})
		self.assertIn("before the date of joining", before["message"])
		self.assertIsNone(before["replaces"])
		self.assertIsNone(before["holder"])

		mapped = map_device_user(employee=newcomer, device_user_id=user_id, device=self.stgid)
		frappe.db.commit()  # nosemgrep: the pickup is queued on commit
		waiting = mapping.outcome(user_id, mapped["since"])
		self.assertFalse(waiting["done"])
		self.assertEqual(waiting["left"], 3)
		run_queued_job(f"cams_biometric:unmapped:{user_id}")
		after = mapping.outcome(user_id, mapped["since"])
		self.assertTrue(after["done"], after)
		self.assertEqual(after["counts"], {"Error": 2, "Processed": 1})
		self.assertIn("before the date of joining", after["message"])
		self.assertEqual(
			sorted(row.status for row in raw_rows(self.stgid, device_user_id=user_id)),
			["Error", "Error", "Processed"],
		)

	def test_an_employee_with_another_id_keeps_it_unless_the_person_confirms_replacing_it(self):
		user_id, old_id = unique("W"), unique("OLD")
		self.punches(user_id, [1])
		holder = self.employee(old_id)
		said = mapping.forecast(holder, user_id)
		self.assertEqual(said["replaces"], old_id)
		self.assertIn(old_id, said["message"])
		with self.assertRaises(frappe.ValidationError):
			map_device_user(employee=holder, device_user_id=user_id)
		self.assertEqual(frappe.db.get_value("Employee", holder, "attendance_device_id"), old_id)
		with self.assertRaises(frappe.ValidationError):  # confirming another id is no confirmation
			map_device_user(employee=holder, device_user_id=user_id, replace_id=unique("X"))

		map_device_user(employee=holder, device_user_id=user_id, replace_id=old_id)
		self.assertEqual(frappe.db.get_value("Employee", holder, "attendance_device_id"), user_id)

	def test_the_forecast_names_whose_id_it_is(self):
		user_id = unique("H")
		owner = self.employee(user_id, first_name="Kiran")
		said = mapping.forecast(self.employee(None), user_id)
		self.assertEqual(said["holder"], owner)
		self.assertIn("Kiran", said["message"])

	def test_only_those_who_see_the_raw_punch_log_learn_about_its_punches(self):
		user_id = unique("P")
		employee = self.employee(user_id)
		outsider, hr_manager = make_user("Employee"), make_user("HR Manager", "Employee")
		frappe.set_user(outsider)
		with self.assertRaises(frappe.PermissionError):
			mapping.forecast(employee, user_id)
		with self.assertRaises(frappe.PermissionError):
			mapping.outcome(user_id, str(now_datetime()))
		with self.assertRaises(frappe.PermissionError):
			employee_activity.activity_of(employee)
		frappe.set_user(hr_manager)
		self.assertEqual(mapping.forecast(employee, user_id)["waiting"], 0)
		self.assertEqual(employee_activity.activity_of(employee)["seen"], [])

	def test_the_action_column_comes_right_after_the_device_user_id(self):
		self.assertEqual([c["fieldname"] for c in unmapped_columns()][:2], ["device_user_id", "action"])


class TestEmployeeActivity(FirstDayTestCase):
	def test_punches_seen_from_a_device_whose_user_list_does_not_know_the_user(self):
		user_id = unique("S")
		employee = self.employee(user_id)
		self.punches(user_id, [2, 1])
		activity = employee_activity.activity_of(employee)
		[seen] = activity["seen"]
		self.assertEqual((seen.device, seen.device_label, seen.punches), (self.stgid, "Front Door", 2))
		self.assertFalse(seen.in_user_list)

		row = frappe.get_doc(
			{
				"doctype": DEVICE_USER,
				"device": self.stgid,
				"device_user_id": user_id,
				"directory_key": f"{self.stgid}|{user_id}",
			}
		)
		insert_row(row)  # as the directory records what a device reports (no Document.insert)
		[seen] = employee_activity.activity_of(employee)["seen"]
		self.assertTrue(seen.in_user_list)

	def test_commands_in_flight_then_finished_and_an_enrolment_waiting_for_a_finger(self):
		user_id = unique("E")
		employee = self.employee(user_id)
		frappe.db.set_single_value(SETTINGS, "restful_endpoint", "https://gateway.invalid/")
		since = str(now_datetime())
		name = commands.queue_command(self.stgid, "Enroll Fingerprint", employee=employee)
		activity = employee_activity.activity_of(employee, since)
		self.assertEqual([c.name for c in activity["in_flight"]], [name])
		self.assertEqual((activity["finished"], activity["enrolments"]), ([], []))

		# The device took it (Done): no fingerprint has come back yet.
		frappe.db.set_value(commands.COMMAND, name, {"status": "Done", "finished_at": now_datetime()})
		activity = employee_activity.activity_of(employee, since)
		self.assertEqual(activity["in_flight"], [])
		self.assertEqual([c.name for c in activity["finished"]], [name])
		self.assertEqual([c.name for c in activity["enrolments"]], [name])

		# The fingerprint came back by callback: the enrolment waits no more.
		insert_row(
			frappe.get_doc(
				{
					"doctype": DEVICE_USER,
					"device": self.stgid,
					"device_user_id": user_id,
					"directory_key": f"{self.stgid}|{user_id}",
					"source": "Callback",
					"last_change": add_to_date(now_datetime(), seconds=1),
				}
			)
		)
		self.assertEqual(employee_activity.activity_of(employee)["enrolments"], [])


class TestDirectoryRows(FirstDayTestCase):
	def test_a_user_the_device_reports_is_enabled_and_an_enrolment_makes_no_row_before_its_finger(self):
		user_id = unique("D")
		body = json.loads((PAYLOADS / "callback-user-merge-1.json").read_text())
		body["RealTime"]["AuthToken"] = self.token
		event = body["RealTime"]["UserUpdated"]
		event["UserID"] = user_id
		for template in event.get("Template", []):
			template["UserID"] = user_id
		self.assertEqual(post_callback(body, stgid=self.stgid).status_code, 200)
		[row] = frappe.get_all(DEVICE_USER, {"device_user_id": user_id}, ["access_enabled", "status"])
		self.assertEqual((row.access_enabled, row.status), (1, "Active"), "the form said Disabled")

		enrolled = unique("F")
		device_users.apply_command(self.stgid, enrolled, "Enroll Fingerprint")
		self.assertFalse(frappe.db.exists(DEVICE_USER, {"device_user_id": enrolled}))


class TestNaming(FirstDayTestCase):
	def command(self) -> str:
		return commands.queue_command(self.stgid, "Device Information")

	def load(self) -> str:
		load = frappe.get_doc(
			{
				"doctype": LOAD_REQUEST,
				"device": self.stgid,
				"from_time": add_days(now_datetime(), -2),
				"to_time": add_days(now_datetime(), -1),
			}
		).insert(ignore_permissions=True)
		frappe.db.commit()  # nosemgrep
		drop_queued_job(page_job_id(load.name, 0))
		return load.name

	def test_a_load_between_two_commands_takes_no_number_from_them(self):
		first = self.command()
		load = self.load()
		second = self.command()
		self.assertTrue(first.startswith("CAMS-CMD-") and load.startswith("CAMS-LOAD-"), (first, load))
		self.assertEqual(
			int(second.rsplit("-", 1)[1]), int(first.rsplit("-", 1)[1]) + 1, (first, load, second)
		)

	def test_the_patch_starts_each_series_after_the_highest_number_used(self):
		used = self.command()
		series = frappe.qb.DocType("Series")
		frappe.qb.update(series).set(series.current, 0).where(series.name == "CAMS-CMD-").run()
		separate_command_and_load_series.execute()
		self.assertNotEqual(self.command(), used)
		[(current,)] = frappe.qb.from_(series).select(series.current).where(series.name == "CAMS-CMD-").run()
		self.assertGreater(int(current), int(used.rsplit("-", 1)[1]))


class TestWorkspaceChart(CamsTestCase):
	def test_a_week_without_punches_is_one_row_of_zeros_not_no_dataset(self):
		from cams_biometric.cams_biometric.dashboard_chart_source.cams_punches_per_device import (
			cams_punches_per_device as chart,
		)

		long_ago = add_days(now_datetime(), -3650)  # no device punched in that week
		data = chart.punches_per_device(7, now=long_ago)
		self.assertEqual(len(data["labels"]), 7)
		self.assertEqual([dataset["values"] for dataset in data["datasets"]], [[0] * 7])


class TestRawPunchList(CamsTestCase):
	def test_the_raw_punch_log_lists_by_punch_time(self):
		self.assertEqual(frappe.get_meta(RAW_PUNCH).sort_field, "punch_time")

	def test_the_settings_say_http_is_allowed_where_site_config_allows_it(self):
		settings = frappe.get_doc(SETTINGS)
		frappe.local.conf["cams_biometric_allow_http_endpoint"] = 1
		try:
			settings.run_method("onload")
			self.assertTrue(settings.get_onload().get("http_endpoint_allowed"))
		finally:
			frappe.local.conf.pop("cams_biometric_allow_http_endpoint", None)
		settings.run_method("onload")
		self.assertFalse(settings.get_onload().get("http_endpoint_allowed"))
		self.assertIn(
			"http://", json.dumps(frappe.get_meta(SETTINGS).get_field("restful_endpoint").description)
		)
