"""Every query on the hot path has an index to use, so its cost does not grow with the raw
log (benchmarks/growth.py measures the same queries at 1k, 10k and 100k rows)."""

from datetime import datetime, timedelta, timezone

import frappe
from frappe.utils import now_datetime

from cams_biometric import alerts, attendance_sync, processing
from cams_biometric.cams_biometric.dashboard_chart_source.cams_punches_per_device import (
	cams_punches_per_device as chart,
)
from cams_biometric.cams_biometric.report.daily_punches import daily_punches
from cams_biometric.cams_biometric.report.device_health import device_health
from cams_biometric.cams_biometric.report.unmapped_device_users import unmapped_device_users
from cams_biometric.constants import CHECKIN, DUPLICATE, ERROR, PENDING, PROCESSED, RAW_PUNCH, UNMAPPED
from cams_biometric.install import CHECKIN_INDEX, after_uninstall, drop_checkin_index
from cams_biometric.patches import add_checkin_employee_time_index
from cams_biometric.tests.utils import (
	CamsTestCase,
	cleanup,
	delete_employees,
	make_device,
	make_employee,
	post_callback,
	punch_body,
	unique,
)


def hot_path_queries(raw_punch: str, employee: str) -> dict[str, str]:
	"""The queries the callback, the drain and the Employee hook run, for one stored punch
	and one Employee (MariaDB explains a unique lookup of a missing value as no query)."""
	row = frappe.db.get_value(RAW_PUNCH, raw_punch, ["name", "punch_key", "device_user_id"], as_dict=True)
	user_id = frappe.db.get_value("Employee", employee, "attendance_device_id")
	e = frappe.db.escape
	raw, checkin = f"`tab{RAW_PUNCH}`", f"`tab{CHECKIN}`"
	return {
		"callback: is the punch stored (punch_key)": f"select name from {raw} where punch_key = {e(row.punch_key)}",
		"drain: next Pending rows": f"select name from {raw} where status = {e(PENDING)} and creation <= now() order by creation limit 500",
		"drain: one row by name": f"select status from {raw} where name = {e(row.name)}",
		"drain: Employee of a device user": f"select name from `tabEmployee` where attendance_device_id = {e(user_id)}",
		"drain: checkin at an instant": f"select name from {checkin} where employee = {e(employee)} and time = now()",
		"Employee hook: Unmapped rows of a user": f"select name from {raw} where device_user_id = {e(row.device_user_id)} and status in ({e(UNMAPPED)}, {e(PENDING)}) order by punch_time",
		"sweep: Unmapped rows an Employee now fits": str(processing.mapped_unmapped_query(500)),
		"load: rows of a load request": f"select count(*) from {raw} where load_request = 'CAMS-LOAD-0001'",
	}


class TestHotPathIndexes(CamsTestCase):
	def test_every_hot_path_query_has_an_index(self):
		stgid, token = make_device()
		user_id = unique("IX")
		employee = make_employee(user_id)
		try:
			body = punch_body(token, user_id, datetime.now(timezone.utc).replace(microsecond=0))
			self.assertEqual(post_callback(body, stgid=stgid).status_code, 200)
			raw_punch = frappe.db.get_value(RAW_PUNCH, {"device": stgid}, "name")
			self.assert_indexed(hot_path_queries(raw_punch, employee))
		finally:
			cleanup([stgid], [employee])
			delete_employees([employee])

	def test_checkins_are_indexed_by_employee_and_time(self):
		query = f"select name from `tab{CHECKIN}` where employee = 'HR-EMP-00001' and time = now()"

		def possible_keys() -> list[str]:
			[plan] = frappe.db.sql(f"explain {query}", as_dict=True)
			return (plan.possible_keys or "").split(",")

		self.assertIn(CHECKIN_INDEX, possible_keys(), "after_install adds the index")
		after_uninstall()  # as `uninstall-app --dry-run` calls it, with the app still installed
		self.assertIn(CHECKIN_INDEX, possible_keys(), "a dry run keeps the index")
		try:
			drop_checkin_index()
			self.assertNotIn(CHECKIN_INDEX, possible_keys())
			drop_checkin_index()  # uninstalling a site that never had it
		finally:
			add_checkin_employee_time_index.execute()  # the patch, for sites installed before
		self.assertIn(CHECKIN_INDEX, possible_keys())
		add_checkin_employee_time_index.execute()  # a second run changes nothing
		self.assertEqual(possible_keys().count(CHECKIN_INDEX), 1)

	def assert_indexed(self, queries: dict[str, str]):
		for label, query in queries.items():
			with self.subTest(label):
				plans = frappe.db.sql(f"explain {query}", as_dict=True)
				self.assertTrue(plans)
				for plan in plans:
					# On a near-empty table the optimiser may still scan; an index must exist to use.
					self.assertTrue(plan.possible_keys, f"{label}: no index for {query}")


def report_queries(devices: list[str], load_request: str) -> dict[str, str]:
	"""The queries of the reports, the workspace's cards and chart, the alerts and the
	attendance hold, as their own code builds them."""
	now = now_datetime()
	week_ago = now.date() - timedelta(days=6)
	return {
		"Unmapped Device Users": str(unmapped_device_users.unmapped_query(frappe._dict())),
		"Unmapped Device Users of a device": str(
			unmapped_device_users.unmapped_query(frappe._dict(device=devices[0]))
		),
		"Unmapped Device Users of a load": str(
			unmapped_device_users.unmapped_query(frappe._dict(load_request=load_request))
		),
		"Device Health: today and this week": str(device_health.recent_query(devices, now)),
		"Device Health: latest punch": str(device_health.latest_query(devices)),
		"Device Health: Pending, Unmapped, Error": str(device_health.waiting_query(devices)),
		"chart: punches per device and day": str(chart.punches_per_day_query(devices, week_ago, now.date())),
		"card and summary: unmapped device users": str(alerts.unmapped_device_users_query()),
		"summary: Error and Unmapped backlog": str(alerts.backlog_query()),
		"attendance hold: Pending before a shift end": str(
			attendance_sync.pending_before_query(now - timedelta(days=1), devices)
		),
	}


class TestReportIndexes(CamsTestCase):
	"""The report queries at 100,000 raw rows: each reads the raw log through an index."""

	ROWS = 100_000
	DEVICES = 20

	def test_report_queries_use_an_index_at_100k_raw_rows(self):
		prefix = unique("IXR")
		devices = [f"{prefix}-{i:02d}" for i in range(self.DEVICES)]
		load_request = unique("CAMS-LOAD-IX")
		try:
			self.grow_raw_log(prefix, load_request)
			for label, query in report_queries(devices, load_request).items():
				with self.subTest(label):
					for plan in frappe.db.sql(f"explain {query}", as_dict=True):
						if plan.table != f"tab{RAW_PUNCH}":
							continue
						self.assertTrue(plan.key, f"{label}: reads the raw log without an index: {plan}")
						# Not a scan of the whole table nor of a whole index.
						self.assertNotIn(plan.type, ("ALL", "index"), f"{label}: {plan}")
			# Daily Punches reads Employee Checkin by (employee, time).
			filters = frappe._dict(
				company="_Test Company", from_date=now_datetime().date(), to_date=now_datetime().date()
			)
			plans = frappe.db.sql(f"explain {daily_punches.daily_query(filters)}", as_dict=True)
			[checkin_plan] = [plan for plan in plans if plan.table == f"tab{CHECKIN}"]
			self.assertTrue(checkin_plan.possible_keys, checkin_plan)
		finally:
			frappe.db.delete(RAW_PUNCH, {"device": ("in", devices)})
			frappe.db.commit()  # nosemgrep

	def grow_raw_log(self, prefix: str, load_request: str):
		"""100,000 rows over 60 days from 20 devices and 500 users. Generated by the server
		(MariaDB's sequence engine): sent from Python, the same rows took 45 s to insert."""
		frappe.db.sql(
			f"""
			insert into `tab{RAW_PUNCH}` (name, creation, modified, owner, modified_by, docstatus,
				status, device, device_user_id, punch_time, punch_key, source, load_request, received_at)
			select concat(%(prefix)s, seq), t, t, 'Administrator', 'Administrator', 0,
				case when seq %% 200 < 188 then %(processed)s when seq %% 200 < 192 then %(duplicate)s
					when seq %% 200 < 196 then %(unmapped)s when seq %% 200 < 199 then %(error)s
					else %(pending)s end,
				concat(%(prefix)s, '-', lpad(seq %% %(devices)s, 2, '0')), concat('u', seq %% 500), t,
				concat(%(prefix)s, '|', seq), if(seq %% 50 = 0, 'LoadLog', 'Callback'),
				if(seq %% 50 = 0, %(load_request)s, null), t
			from (select seq, %(now)s - interval (seq * 52) second as t from seq_0_to_{self.ROWS - 1}) s
			""",
			{
				"prefix": prefix,
				"devices": self.DEVICES,
				"now": now_datetime(),
				"load_request": load_request,
				"processed": PROCESSED,
				"duplicate": DUPLICATE,
				"unmapped": UNMAPPED,
				"error": ERROR,
				"pending": PENDING,
			},
		)
		frappe.db.commit()  # nosemgrep
		frappe.db.sql(f"analyze table `tab{RAW_PUNCH}`")
