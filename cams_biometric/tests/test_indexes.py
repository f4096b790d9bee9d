"""Every query on the hot path has an index to use, so its cost does not grow with the raw
log (benchmarks/growth.py measures the same queries at 1k, 10k and 100k rows)."""

from datetime import datetime, timezone

import frappe

from cams_biometric import processing
from cams_biometric.constants import CHECKIN, PENDING, RAW_PUNCH, UNMAPPED
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
