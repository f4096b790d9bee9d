"""The device user directory: UserUpdated callbacks merged, templates encrypted and erased."""

import copy
import json
import threading
from pathlib import Path

import frappe

from cams_biometric import device_users
from cams_biometric.constants import DEVICE_EVENT, DEVICE_USER, SETTINGS
from cams_biometric.device_users import _read_state
from cams_biometric.tests.test_permissions import make_user
from cams_biometric.tests.utils import (
	CamsTestCase,
	cleanup,
	delete_employees,
	make_device,
	make_employee,
	post_callback,
	request,
	run_queued_job,
	unique,
)

PAYLOADS = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "payloads"
DONE = b'{"status":"done"}'
LATER_UPDATE = "2024-09-17 09:30:00 GMT +0530"


def sample(name: str) -> dict:
	return json.loads((PAYLOADS / name).read_text())


class TestDeviceUsers(CamsTestCase):
	def setUp(self):
		self.stgid, self.token = make_device()
		self.devices, self.employees = [self.stgid], []
		self.user_id = unique("DU")

	def tearDown(self):
		frappe.set_user("Administrator")
		frappe.db.set_single_value(SETTINGS, "keep_biometric_templates", 1)
		cleanup(self.devices, self.employees)
		delete_employees(self.employees)

	def body(self, name: str, token: str | None = None, **changes) -> dict:
		"""A sample callback of the merge example, for this test's user and device."""
		body = copy.deepcopy(sample(name))
		realtime = body["RealTime"]
		realtime["AuthToken"] = token or self.token
		event = realtime.get("UserUpdated") or realtime.get("UserDeleted")
		event["UserID"] = self.user_id
		for template in event.get("Template", []):
			template["UserID"] = self.user_id
		event.update(changes)
		return body

	def post(self, body, stgid=None):
		self.assertEqual(post_callback(body, stgid=stgid or self.stgid).get_data(), DONE)

	def directory(self, stgid=None) -> list:
		return frappe.get_all(
			DEVICE_USER, filters={"device": stgid or self.stgid}, fields=["*"], order_by="creation"
		)

	def templates(self, row) -> list[tuple]:
		return [(t["Type"], t.get("Index"), t.get("Data")) for t in _read_state(row.state)["Templates"]]

	def test_the_vendors_three_callbacks_leave_exactly_three_templates_kept_encrypted(self):
		employee = make_employee(self.user_id)
		self.employees.append(employee)
		for n in (1, 2, 3):
			self.post(self.body(f"callback-user-merge-{n}.json"))

		[row] = self.directory()
		expected = [
			(t["Type"], t.get("Index"), t["Data"]) for t in sample("user-merge-expected.json")["templates"]
		]
		self.assertEqual(self.templates(row), expected)
		self.assertEqual((row.full_name, row.status, row.template_count), ("Asha Verma", "Active", 3))
		self.assertEqual(row.employee, employee)
		self.assertEqual(row.employee_name, frappe.db.get_value("Employee", employee, "employee_name"))
		for label in ("Fingerprint 0", "Face 0", "Card"):
			self.assertIn(label, row.templates_summary)

		# Encrypted at rest, and nowhere else in plain text: not the row, not the event log.
		secrets = [data for _type, _index, data in expected] + ["RlAwLXZlcnNpb24tMQ=="]
		stored = frappe.db.sql(f"select * from `tab{DEVICE_USER}` where name = %s", row.name, as_dict=True)[0]
		events = frappe.get_all(DEVICE_EVENT, filters={"device": self.stgid}, pluck="raw_json")
		self.assertEqual(len(events), 3)
		for secret in secrets:
			self.assertNotIn(secret, json.dumps(stored, default=str))
			self.assertFalse([raw for raw in events if secret in raw])
		self.assertIn("<withheld: 20 characters>", events[0] + events[1] + events[2])

		# Never sent to a browser: no role may read the encrypted field.
		frappe.set_user(make_user("HR Manager", "Employee"))
		doc = frappe.get_doc(DEVICE_USER, row.name)
		doc.apply_fieldlevel_read_permissions()
		self.assertFalse(doc.get("state"))
		self.assertEqual(doc.template_count, 3)

	def test_an_older_callback_does_not_overwrite_newer_data(self):
		self.post(self.body("callback-user-merge-3.json"))  # fingerprint 0, version 2, at 09:10
		self.post(self.body("callback-user-merge-1.json", FirstName="Old Name"))  # version 1, at 09:00
		[row] = self.directory()
		self.assertEqual(self.templates(row), [("Fingerprint", "0", "RlAwLXZlcnNpb24tMg==")])
		self.assertEqual(row.full_name, "Asha Verma")

	def test_a_user_deleted_on_every_device_keeps_no_templates(self):
		other, other_token = make_device()
		self.devices.append(other)
		self.post(self.body("callback-user-merge-2.json"))
		self.post(self.body("callback-user-merge-2.json", token=other_token), stgid=other)

		deleted = self.body("callback-user-deleted.json", OperationTime=LATER_UPDATE)
		self.post(deleted)
		[here], [there] = self.directory(), self.directory(other)
		self.assertEqual((here.status, there.status), ("Deleted", "Active"))
		self.assertEqual(len(self.templates(there)), 2, "the other device still holds the user")

		deleted["RealTime"]["AuthToken"] = other_token
		self.post(deleted, stgid=other)
		user_id = deleted["RealTime"]["UserDeleted"]["UserID"]
		# The erasure runs in a job after the deletions commit (a worker's).
		run_queued_job(device_users.erase_job_id(user_id, other))
		for row in self.directory() + self.directory(other):
			self.assertEqual((row.status, row.template_count, self.templates(row)), ("Deleted", 0, []))
			self.assertIn("Erased", row.templates_summary)

	def test_templates_are_not_kept_while_the_setting_is_off(self):
		frappe.db.set_single_value(SETTINGS, "keep_biometric_templates", 0)
		self.post(self.body("callback-user-merge-2.json"))
		[row] = self.directory()
		self.assertEqual(self.templates(row), [("Face", "0", None), ("Card", None, None)])
		self.assertIn("data not kept", row.templates_summary)

	def test_the_employee_link_follows_the_attendance_device_id_and_deletion_erases(self):
		self.post(self.body("callback-user-merge-2.json"))
		[row] = self.directory()
		self.assertIsNone(row.employee)

		employee = frappe.get_doc("Employee", make_employee(None))
		self.employees.append(employee.name)
		employee.attendance_device_id = self.user_id
		employee.save()
		self.assertEqual(frappe.db.get_value(DEVICE_USER, row.name, "employee"), employee.name)
		# Captured before the id was theirs: not their templates, so not kept for them.
		[row] = self.directory()
		self.assertEqual((self.templates(row), row.template_owner), ([], None))
		self.assertIn("captured while", row.templates_summary)

		# Given while the id is theirs, the templates are theirs, and go with them.
		self.post(self.body("callback-user-merge-3.json"))
		[row] = self.directory()
		self.assertEqual((len(self.templates(row)), row.template_owner), (1, employee.name))
		frappe.delete_doc("Employee", employee.name, force=True, ignore_permissions=True)
		[row] = self.directory()
		self.assertEqual((row.employee, self.templates(row)), (None, []))
		self.assertIn("was deleted", row.templates_summary)

	def test_concurrent_callbacks_of_a_new_user_make_one_row(self):
		bodies = [self.body(f"callback-user-merge-{n}.json") for n in (1, 2)] * 3
		frappe.db.commit()  # nosemgrep
		site, answers = frappe.local.site, []
		threads = [
			threading.Thread(
				target=lambda b=body: answers.append(request(site, json.dumps(b).encode(), stgid=self.stgid))
			)
			for body in bodies
		]
		for thread in threads:
			thread.start()
		for thread in threads:
			thread.join()
		frappe.db.rollback()
		self.assertEqual([a.get_data() for a in answers], [DONE] * len(bodies))
		[row] = self.directory()
		self.assertEqual({t[0] for t in self.templates(row)}, {"Fingerprint", "Face", "Card"})
