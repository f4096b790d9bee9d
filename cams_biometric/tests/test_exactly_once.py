"""Exactly once under concurrency: every punch posted 3 times by concurrent senders, shuffled,
then the same punches again through LoadLog, make exactly one checkin each."""

import json
import random
import threading
from datetime import datetime, timezone

import frappe
from frappe.utils import add_to_date, now_datetime

from cams_biometric import loads, processing
from cams_biometric.constants import CHECKIN, PENDING, RAW_PUNCH, SETTINGS
from cams_biometric.protocol.simulator import Gateway, GatewayServer, callback_body, generate_punches
from cams_biometric.tests.utils import (
	CamsTestCase,
	cleanup,
	delete_employees,
	make_device,
	make_employee,
	request,
)

USERS, DAYS, PER_DAY = 10, 10, 4  # 400 punches; benchmarks/ runs the 2,000-punch version
SENDERS = 3


class TestExactlyOnce(CamsTestCase):
	def setUp(self):
		self.stgid, self.token = make_device()
		self.user_ids = [f"X{frappe.generate_hash(length=6)}{i}" for i in range(USERS)]
		self.employees = [make_employee(user_id) for user_id in self.user_ids]
		self.endpoint_before = frappe.db.get_single_value(SETTINGS, "restful_endpoint")
		# The simulator speaks http on loopback; a site may otherwise require https.
		frappe.local.conf["cams_biometric_allow_http_endpoint"] = 1

	def tearDown(self):
		frappe.db.set_single_value(SETTINGS, "restful_endpoint", self.endpoint_before)
		frappe.db.delete("CAMS Load Request", {"device": self.stgid})
		cleanup([self.stgid], self.employees)
		delete_employees(self.employees)

	def test_three_concurrent_senders_and_a_loadlog_make_one_checkin_per_punch(self):
		rows = generate_punches(USERS, DAYS, PER_DAY, end=datetime.now(timezone.utc), user_ids=self.user_ids)
		self.assertEqual(len(rows), USERS * DAYS * PER_DAY)
		site = frappe.local.site
		bodies = [json.dumps(callback_body(row, self.token)).encode() for row in rows]
		statuses, lock = [], threading.Lock()

		def sender(seed):
			order = bodies[:]
			random.Random(seed).shuffle(order)
			for body in order:
				response = request(site, body, stgid=self.stgid)
				with lock:
					statuses.append(response.get_data())

		frappe.db.commit()  # nosemgrep
		threads = [threading.Thread(target=sender, args=(seed,)) for seed in range(SENDERS)]
		for thread in threads:
			thread.start()
		for thread in threads:
			thread.join()
		frappe.db.rollback()
		self.assertEqual(len(statuses), SENDERS * len(rows))
		self.assertEqual(set(statuses), {b'{"status":"done"}'})
		self.assertEqual(frappe.db.count(RAW_PUNCH, {"device": self.stgid}), len(rows))

		# The workers' part, with two of them racing over the same rows.
		names = frappe.get_all(RAW_PUNCH, filters={"device": self.stgid, "status": PENDING}, pluck="name")
		worker_errors = []

		def worker(order):
			frappe.init(site=site)
			frappe.connect()
			try:
				processing.process_rows(order, (PENDING,), commit=True)
			except Exception as e:
				worker_errors.append(repr(e))
			finally:
				frappe.destroy()

		frappe.db.commit()  # nosemgrep
		workers = [
			threading.Thread(target=worker, args=(names,)),
			threading.Thread(target=worker, args=(list(reversed(names)),)),
		]
		for thread in workers:
			thread.start()
		for thread in workers:
			thread.join()
		frappe.db.rollback()
		self.assertEqual(worker_errors, [])

		# And every punch once more through LoadLog.
		with GatewayServer(Gateway(self.stgid, self.token, rows)) as server:
			frappe.db.set_single_value(SETTINGS, "restful_endpoint", server.url)
			now = now_datetime()
			name = loads.start_load(self.stgid, str(add_to_date(now, days=-DAYS - 1)), str(now))
			while loads.load_page(name, sleep=lambda seconds: None):
				pass
		load = frappe.get_doc("CAMS Load Request", name)
		self.assertEqual((load.status, load.new_punches), ("Completed", 0))
		# A last full page without an offset is followed by a page by time, which repeats its
		# last second: repeats count as received rows and duplicates, like any other.
		self.assertGreaterEqual(load.rows_received, len(rows))
		self.assertEqual(load.duplicates, load.rows_received)

		self.assertEqual(frappe.db.count(RAW_PUNCH, {"device": self.stgid}), len(rows))
		self.assertEqual(frappe.db.count(RAW_PUNCH, {"device": self.stgid, "status": "Processed"}), len(rows))
		self.assertEqual(frappe.db.count(CHECKIN, {"employee": ("in", self.employees)}), len(rows))
		print(f"\nExactly once: {len(rows)} punches x {SENDERS} senders + LoadLog -> {len(rows)} checkins")
