from datetime import datetime, timedelta, timezone
from unittest.mock import patch

import frappe
from frappe.utils import add_to_date, format_datetime, get_datetime, get_system_timezone, now_datetime
from frappe.utils.background_jobs import get_job

from cams_biometric import loads, processing
from cams_biometric.constants import CHECKIN, RAW_PUNCH, SETTINGS
from cams_biometric.protocol.constants import DEFAULT_LOG_TYPES
from cams_biometric.protocol.logtime import from_local_naive, parse_logtime, to_local_naive
from cams_biometric.protocol.simulator import Gateway, GatewayServer, callback_body, generate_punches
from cams_biometric.tests.test_permissions import make_user
from cams_biometric.tests.utils import (
	CamsTestCase,
	cleanup,
	delete_employees,
	drop_queued_job,
	make_device,
	make_employee,
	post_callback,
)

USERS = 3


def no_sleep(seconds):
	pass


class TestLoadPunchlog(CamsTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.gateway = Gateway("unset", "unset")
		cls.server = GatewayServer(cls.gateway).start()
		cls.user_ids = [f"L{frappe.generate_hash(length=6)}{i}" for i in range(USERS)]
		cls.employees = [make_employee(user_id) for user_id in cls.user_ids]
		cls.endpoint_before = frappe.db.get_single_value(SETTINGS, "restful_endpoint")
		frappe.db.commit()  # nosemgrep

	@classmethod
	def tearDownClass(cls):
		cls.server.stop()
		delete_employees(cls.employees)
		frappe.db.set_single_value(SETTINGS, "restful_endpoint", cls.endpoint_before)
		frappe.db.commit()  # nosemgrep: leave the site's settings as they were
		super().tearDownClass()

	def setUp(self):
		# The simulator speaks http on loopback; a site may otherwise require https.
		frappe.local.conf["cams_biometric_allow_http_endpoint"] = 1
		self.stgid, self.token = make_device()
		self.gateway.service_tag_id, self.gateway.auth_token = self.stgid, self.token
		self.gateway.failures.clear()
		self.gateway.failures_at_offset.clear()
		self.gateway.calls.clear()
		self.gateway.paging = "offset"
		# 3 users x 4 punches x 12 days = 144 punches: pages of 50, 50 and 44.
		now = datetime.now(timezone.utc)
		self.punches = generate_punches(USERS, days=12, per_day=4, end=now, user_ids=self.user_ids)
		self.gateway.set_punches(self.punches)
		frappe.db.set_single_value(SETTINGS, "restful_endpoint", self.server.url)
		frappe.db.commit()  # nosemgrep

	def tearDown(self):
		frappe.set_user("Administrator")
		for name, pages, cursor in frappe.get_all(
			"CAMS Load Request",
			filters={"device": self.stgid},
			fields=["name", "pages_fetched", "next_start_time"],
			as_list=True,
		):
			for page in range(pages + 2):
				for attempt in range(3):
					drop_queued_job(loads.page_job_id(name, page * 50, attempt))
					# Paging by time: the page it stopped at, or queued last.
					drop_queued_job(loads.page_job_id(name, page * 50, attempt, cursor))
		frappe.db.delete("CAMS Load Request", {"device": self.stgid})
		cleanup([self.stgid], self.employees)

	def range(self, days=13):
		now = now_datetime()
		return add_to_date(now, days=-days), now

	def start(self, days=13) -> str:
		start, end = self.range(days)
		return loads.start_load(self.stgid, str(start), str(end))

	def run_to_end(self, name, max_pages=100):
		for _ in range(max_pages):
			if not loads.load_page(name, sleep=no_sleep):
				break
		return frappe.get_doc("CAMS Load Request", name)

	def checkins(self):
		return frappe.db.count(CHECKIN, {"employee": ("in", self.employees)})

	def test_a_load_creates_every_checkin_once(self):
		name = self.start()
		frappe.db.commit()  # nosemgrep: the first page is queued after commit
		self.assertIsNotNone(get_job(loads.page_job_id(name, 0)), "the first page is queued")
		# Run page 1 as the worker would: it queues page 2 while its own job is still running.
		loads.load_page_job(name)
		frappe.db.commit()  # nosemgrep
		self.assertIsNotNone(get_job(loads.page_job_id(name, 50)), "each page queues the next")
		load = self.run_to_end(name)
		self.assertEqual(load.status, "Completed", load.error)
		self.assertEqual(load.rows_received, 144)
		self.assertEqual(load.new_punches, 144)
		self.assertEqual(load.pages_fetched, 3)
		self.assertEqual(load.stop_reason, "short page")
		self.assertEqual(self.checkins(), 144)
		self.assertEqual(frappe.db.count(RAW_PUNCH, {"load_request": name, "status": "Processed"}), 144)

		again = self.run_to_end(self.start())
		self.assertEqual(again.status, "Completed")
		self.assertEqual((again.rows_received, again.new_punches, again.duplicates), (144, 0, 144))
		self.assertEqual(self.checkins(), 144)

	def test_progress_follows_the_range_page_by_page(self):
		name = self.start()
		after_each_page = []
		while loads.load_page(name, sleep=no_sleep):
			after_each_page.append(frappe.db.get_value("CAMS Load Request", name, "progress"))
		load = frappe.get_doc("CAMS Load Request", name)
		self.assertEqual(load.status, "Completed", load.error)
		self.assertEqual(load.progress, 100)
		self.assertEqual(len(after_each_page), 2, "pages 1 and 2 of 3 are followed by another")
		self.assertTrue(0 < after_each_page[0] < after_each_page[1] < 100, after_each_page)
		# Page 1 reaches its 50th punch (the gateway sends them oldest first).
		zone = get_system_timezone()
		start = from_local_naive(get_datetime(load.from_time), zone)
		end = from_local_naive(get_datetime(load.to_time), zone)
		reached = parse_logtime(self.punches[49]["LogTime"])
		self.assertAlmostEqual(after_each_page[0], 100 * (reached - start) / (end - start), delta=0.1)

	def test_a_load_that_stops_early_keeps_the_progress_it_made(self):
		self.gateway.fail_at_offset(50, *[{"http": 503}] * (loads.MAX_RETRIES + 1))
		load = self.run_to_end(self.start())
		self.assertEqual(load.status, "Partially Completed", load.error)
		self.assertEqual(load.pages_fetched, 1)
		self.assertTrue(0 < load.progress < 100, load.progress)

	def test_checkins_take_names_reserved_before_the_page_transaction(self):
		reserved = []

		def reserve(count):
			reserved.append(count)
			names = real_reserve(count)
			reserved.extend(names)
			return names

		real_reserve = processing.reserve_checkin_names
		# 30 punches arrive by callback first: a page reserves names only for what is new.
		for row in self.punches[:30]:
			post_callback(callback_body(row, self.token), stgid=self.stgid)
		with patch.object(processing, "reserve_checkin_names", side_effect=reserve):
			load = self.run_to_end(self.start())
		self.assertEqual((load.new_punches, load.duplicates), (114, 30))
		counts = [entry for entry in reserved if isinstance(entry, int)]
		names = [entry for entry in reserved if isinstance(entry, str)]
		self.assertEqual(counts, [20, 50, 44])
		made_by_load = frappe.get_all(
			RAW_PUNCH,
			filters={"device": self.stgid, "source": "LoadLog"},
			pluck="employee_checkin",
		)
		self.assertEqual(sorted(made_by_load), sorted(names))
		self.assertTrue(all(name.startswith("EMP-CKIN-") for name in names))

	def test_punches_that_came_by_callback_are_not_doubled(self):
		for row in self.punches[:30]:
			post_callback(callback_body(row, self.token), stgid=self.stgid)
		load = self.run_to_end(self.start())
		self.assertEqual((load.new_punches, load.duplicates), (114, 30))
		self.assertEqual(frappe.db.count(RAW_PUNCH, {"device": self.stgid}), 144)

	def test_a_failed_load_resumes_from_its_last_good_page(self):
		# Page 2 fails more often than the retries allow: the load stops after one good page.
		self.gateway.fail_at_offset(50, *[{"status": 5}] * (loads.MAX_RETRIES + 1))
		name = self.start()
		load = self.run_to_end(name)
		self.assertEqual(load.status, "Partially Completed")
		self.assertIn("Device offline", load.error)
		self.assertEqual((load.pages_fetched, load.next_offset), (1, 50))
		self.assertEqual(self.checkins(), 50)

		loads.resume_load(name)
		frappe.db.commit()  # nosemgrep: the page is queued on commit
		self.assertIsNotNone(get_job(loads.page_job_id(name, 50, 1)), "a resume is a new attempt")
		load = self.run_to_end(name)
		self.assertEqual(load.status, "Completed", load.error)
		self.assertEqual((load.rows_received, load.new_punches, load.resumes), (144, 144, 1))
		self.assertTrue(any("Resumed by" in c for c in self.comments(name)))
		self.assertEqual(self.checkins(), 144)

	def test_an_interrupted_load_ends_with_every_punch_once(self):
		name = self.start()
		loads.load_page(name, sleep=no_sleep)
		# A worker stored part of page 2 and died before recording the page on the load.
		load = frappe.get_doc("CAMS Load Request", name)
		start, end = (from_local_naive(load.get(f), get_system_timezone()) for f in ("from_time", "to_time"))
		page = loads.client_for(self.stgid).load_log_page(start, end, load.next_offset)
		loads.store_page(load, page.__class__(**{**page.__dict__, "rows": page.rows[:20]}))
		self.age(name, 11)
		self.assertEqual(frappe.db.get_value("CAMS Load Request", name, "status"), "Running")

		loads.resume_load(name)
		load = self.run_to_end(name)
		self.assertEqual(load.status, "Completed")
		self.assertEqual((load.new_punches, load.duplicates), (124, 20))
		self.assertEqual(frappe.db.count(RAW_PUNCH, {"device": self.stgid}), 144)
		self.assertEqual(self.checkins(), 144)

	def test_transient_errors_are_retried(self):
		self.gateway.fail_next({"http": 503}, {"status": 6})
		load = self.run_to_end(self.start())
		self.assertEqual(load.status, "Completed")
		self.assertEqual(load.new_punches, 144)
		# The record keeps the retries after they succeeded.
		self.assertEqual((load.gateway_retries, load.retries), (2, 0))

	def age(self, name, minutes):
		frappe.db.sql(
			"update `tabCAMS Load Request` set modified = %s where name = %s",
			(add_to_date(now_datetime(), minutes=-minutes), name),
		)
		frappe.db.commit()  # nosemgrep

	def comments(self, name):
		return frappe.get_all(
			"Comment",
			filters={"reference_doctype": "CAMS Load Request", "reference_name": name},
			pluck="content",
		)

	def test_a_load_whose_worker_died_is_recovered_by_the_scheduler(self):
		name = self.start()
		frappe.db.commit()  # nosemgrep
		# A queued first page is only waiting for a worker, however long: not lost.
		self.age(name, 30)
		loads.recover_lost_loads()
		self.assertEqual(frappe.db.get_value("CAMS Load Request", name, "recoveries"), 0)

		drop_queued_job(loads.page_job_id(name, 0))
		loads.load_page(name, sleep=no_sleep)
		frappe.db.commit()  # nosemgrep
		# The worker died after page 1, before queuing page 2. Recently touched: not yet lost.
		loads.recover_lost_loads()
		self.assertEqual(frappe.db.get_value("CAMS Load Request", name, "status"), "Running")
		self.age(name, 6)
		loads.recover_lost_loads()
		load = frappe.get_doc("CAMS Load Request", name)
		self.assertEqual((load.status, load.recoveries, load.next_offset), ("Queued", 1, 50))
		self.assertIsNotNone(get_job(loads.page_job_id(name, 50, 1)), "the next page is queued again")
		self.assertTrue(any("worker was lost" in c for c in self.comments(name)))

		load = self.run_to_end(name)
		self.assertEqual(load.status, "Completed", load.error)
		self.assertEqual((load.rows_received, load.new_punches, load.recoveries), (144, 144, 1))
		self.assertEqual(self.checkins(), 144)

	def race_for_the_next_page(self, name):
		"""Two jobs fetch the load's next page; the one that fetched second records it first."""
		real_client_for = loads.client_for
		raced = []

		def client_for(device):
			client = real_client_for(device)
			fetch = client.load_log_page

			def load_log_page(*args, **kwargs):
				page = fetch(*args, **kwargs)
				if not raced:
					raced.append(True)
					self.assertTrue(loads.load_page(name, sleep=no_sleep), "the other job records the page")
				return page

			client.load_log_page = load_log_page
			return client

		with patch.object(loads, "client_for", client_for):
			self.assertFalse(loads.load_page(name, sleep=no_sleep), "the slow job gives way")

	def test_a_page_another_job_recorded_is_not_counted_twice(self):
		# A recovery raced a worker that was only slow: both fetch page 1, one records it.
		name = self.start()
		self.race_for_the_next_page(name)
		load = frappe.get_doc("CAMS Load Request", name)
		self.assertEqual((load.pages_fetched, load.rows_received, load.new_punches), (1, 50, 50))
		self.assertEqual(load.next_offset, 50)
		load = self.run_to_end(name)
		self.assertEqual((load.rows_received, load.new_punches, load.duplicates), (144, 144, 0))

	def test_permanent_errors_stop_with_advice(self):
		self.gateway.always = {"status": 15}
		try:
			load = self.run_to_end(self.start())
		finally:
			self.gateway.always = None
		self.assertEqual(load.status, "Failed")
		self.assertIn("Feature not supported", load.error)
		self.assertIn("CAMS support", load.error)
		self.assertIn("Request Resend", load.error, "LoadLog switched off: the resend is offered")
		self.assertTrue(load.loadlog_unavailable)

	def test_a_non_advancing_offset_does_not_loop(self):
		self.gateway.fail_at_offset(50, {"offset": "stuck"})
		load = self.run_to_end(self.start())
		self.assertEqual(load.status, "Partially Completed")
		self.assertEqual(load.stop_reason, "offset did not advance")
		self.assertEqual(load.pages_fetched, 2)

	def test_a_second_overlapping_load_is_refused_while_one_runs(self):
		self.start()
		with self.assertRaisesRegex(frappe.ValidationError, "already loading"):
			self.start(days=5)

	def test_ranges_are_validated(self):
		now = now_datetime()
		cases = {
			"after the start": (now, add_to_date(now, hours=-1)),
			"future": (add_to_date(now, hours=1), add_to_date(now, hours=2)),
			"30 days": (add_to_date(now, days=-31), now),
		}
		for message, (start, end) in cases.items():
			with self.subTest(message), self.assertRaisesRegex(frappe.ValidationError, message):
				loads.start_load(self.stgid, str(start), str(end))

	def test_only_managers_may_start_loads(self):
		start, end = self.range()
		employee, hr_manager = make_user("Employee"), make_user("HR Manager")
		frappe.set_user(employee)
		with self.assertRaises(frappe.PermissionError):
			loads.start_load(self.stgid, str(start), str(end))
		frappe.set_user(hr_manager)
		self.assertTrue(loads.start_load(self.stgid, str(start), str(end)))

	def test_the_request_carries_the_range_in_the_site_zone(self):
		start, end = self.range(2)
		name = loads.start_load(self.stgid, str(start), str(end))
		self.run_to_end(name)
		zone = get_system_timezone()
		window = (from_local_naive(start, zone), from_local_naive(end, zone))
		expected = [p for p in self.punches if window[0] <= parse_logtime(p["LogTime"]) <= window[1]]
		self.assertEqual(frappe.db.get_value("CAMS Load Request", name, "rows_received"), len(expected))

	def test_the_counts_partition_the_rows(self):
		# Checkins that exist without raw rows (e.g. entered by hand) make duplicates, not new punches.
		zone = get_system_timezone()
		for row in self.punches[:10]:
			frappe.get_doc(
				{
					"doctype": CHECKIN,
					"employee": self.employees[self.user_ids.index(row["UserID"])],
					"time": to_local_naive(parse_logtime(row["LogTime"]), zone),
					# A duplicate as HRMS counts one: same employee, time and log type.
					"log_type": DEFAULT_LOG_TYPES[row["Type"]],
				}
			).insert()
		# And one user unknown to ERPNext.
		self.gateway.set_punches([*self.punches, {**self.punches[0], "UserID": "NOBODY-HERE"}])
		load = self.run_to_end(self.start())
		self.assertEqual(
			(load.rows_received, load.new_punches, load.duplicates, load.unmapped), (145, 134, 10, 1)
		)
		self.assertEqual(load.new_punches + load.duplicates + load.unmapped + load.errors, load.rows_received)

	# -- Issue 12: a gateway whose LoadLog names no offset we know, so the load pages by time.

	def page_by_time(self, rows: int = 130):
		self.gateway.paging = "time"
		self.rows = self.punches[:rows]
		self.gateway.set_punches(self.rows)

	def cursor_after(self, pages: int) -> datetime:
		"""The Next Start Time after ``pages`` pages by time, in the site's zone: a second before
		the last punch of the last page (each page: the first 50 rows from its start on)."""
		instants = sorted(parse_logtime(row["LogTime"]) for row in self.rows)
		cursor = instants[0]
		for _ in range(pages):
			cursor = [t for t in instants if t >= cursor][:50][-1] - timedelta(seconds=1)
		return to_local_naive(cursor, get_system_timezone())

	def test_by_time_130_rows_without_offsets_all_arrive(self):
		self.page_by_time()
		name = self.start()
		frappe.db.commit()  # nosemgrep: the first page is queued after commit
		# Page 1 runs as the worker would, its own job still there: page 2 starts at offset 0
		# again, so only the cursor in its job id keeps it from being taken for a duplicate.
		loads.load_page_job(name)
		frappe.db.commit()  # nosemgrep
		load = frappe.get_doc("CAMS Load Request", name)
		self.assertEqual((load.status, load.next_offset), ("Running", 0))
		self.assertEqual(get_datetime(load.next_start_time), self.cursor_after(1))
		next_job = loads.page_job_id(name, 0, 0, load.next_start_time)
		self.assertNotEqual(next_job, loads.page_job_id(name, 0))
		self.assertIsNotNone(get_job(next_job), "page 2 is queued under its own id")
		drop_queued_job(next_job)  # run in-process below

		load = self.run_to_end(name)
		self.assertEqual(load.status, "Completed", load.error)
		self.assertEqual(load.stop_reason, "short page")
		self.assertEqual(frappe.db.count(RAW_PUNCH, {"device": self.stgid}), 130)
		self.assertEqual(frappe.db.count(RAW_PUNCH, {"load_request": name, "status": "Processed"}), 130)
		self.assertEqual(self.checkins(), 130)
		# Each page re-reads the last second of the one before: those rows are the duplicates.
		self.assertEqual(load.new_punches, 130)
		self.assertGreater(load.duplicates, 0)
		self.assertEqual(load.rows_received, 130 + load.duplicates)
		starts = [parse_logtime(call["start"]) for call in self.gateway.calls]
		self.assertEqual(starts, sorted(set(starts)), "every page asks from later on")
		self.assertEqual(len(starts), load.pages_fetched)

	def test_by_time_a_load_resumes_and_recovers_from_its_cursor(self):
		self.page_by_time()
		name = self.start()
		frappe.db.commit()  # nosemgrep
		drop_queued_job(loads.page_job_id(name, 0))
		self.assertTrue(loads.load_page(name, sleep=no_sleep))
		frappe.db.commit()  # nosemgrep
		cursor = self.cursor_after(1)
		# The worker died after page 1: the recovery queues page 2 from the cursor.
		self.age(name, 6)
		loads.recover_lost_loads()
		load = frappe.get_doc("CAMS Load Request", name)
		self.assertEqual((load.status, load.recoveries), ("Queued", 1))
		self.assertEqual(get_datetime(load.next_start_time), cursor)
		self.assertIsNotNone(get_job(loads.page_job_id(name, 0, 1, cursor)), "page 2 is queued again")
		drop_queued_job(loads.page_job_id(name, 0, 1, cursor))
		self.assertTrue(any(format_datetime(cursor) in c for c in self.comments(name)))

		# Page 2 fails more often than the retries allow: partial, resumable from the cursor.
		self.gateway.fail_next(*[{"status": 5}] * (loads.MAX_RETRIES + 1))
		load = self.run_to_end(name)
		self.assertEqual(load.status, "Partially Completed")
		self.assertIn("Device offline", load.error)
		self.assertEqual((load.pages_fetched, load.next_offset), (1, 0))
		self.assertEqual(get_datetime(load.next_start_time), cursor)

		loads.resume_load(name)
		frappe.db.commit()  # nosemgrep
		self.assertIsNotNone(get_job(loads.page_job_id(name, 0, 2, cursor)), "a resume is a new attempt")
		drop_queued_job(loads.page_job_id(name, 0, 2, cursor))
		load = self.run_to_end(name)
		self.assertEqual(load.status, "Completed", load.error)
		self.assertEqual(load.new_punches, 130)
		self.assertEqual(frappe.db.count(RAW_PUNCH, {"device": self.stgid}), 130)
		self.assertEqual(self.checkins(), 130)

	def test_by_time_a_page_another_job_recorded_is_not_counted_twice(self):
		# Both jobs ask for page 2 at offset 0: only the cursor shows that one recorded it.
		self.page_by_time()
		name = self.start()
		self.assertTrue(loads.load_page(name, sleep=no_sleep))
		self.race_for_the_next_page(name)
		load = frappe.get_doc("CAMS Load Request", name)
		self.assertEqual((load.pages_fetched, load.rows_received), (2, 100))
		self.assertEqual(get_datetime(load.next_start_time), self.cursor_after(2))
		load = self.run_to_end(name)
		self.assertEqual(load.new_punches, 130)
		self.assertEqual(load.rows_received, 130 + load.duplicates)

	def test_by_time_more_than_a_page_in_one_second_stops_as_partial(self):
		self.gateway.paging = "time"
		crowded = parse_logtime(self.punches[20]["LogTime"])
		# 60 punches at one instant (users unknown to ERPNext): paging by time cannot get past them.
		self.gateway.set_punches(
			self.punches[:10]
			+ [
				{"Type": "CheckIn", "UserID": f"X{i}", "LogTime": self.punches[20]["LogTime"]}
				for i in range(60)
			]
		)
		name = self.start()
		load = self.run_to_end(name)
		self.assertEqual(load.status, "Partially Completed")
		self.assertEqual(load.stop_reason, "time did not advance")
		cursor = to_local_naive(crowded - timedelta(seconds=1), get_system_timezone())
		self.assertEqual(get_datetime(load.next_start_time), cursor)
		self.assertIn("offset paging", load.error)
		self.assertIn(format_datetime(cursor), load.error)
		self.assertEqual(load.pages_fetched, 2)
		# What came is stored once: the 10 before, and 50 of the 60.
		self.assertEqual(frappe.db.count(RAW_PUNCH, {"device": self.stgid}), 60)
