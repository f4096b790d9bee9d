"""Strings from a device are stored as text that can never be markup (issue 18), while the
raw JSON keeps the body exactly as it was sent."""

import json

import frappe

from cams_biometric import device_information, processing
from cams_biometric.constants import DEVICE, DEVICE_EVENT, DEVICE_USER, RAW_PUNCH
from cams_biometric.patches import neutralise_device_markup
from cams_biometric.tests.utils import CamsTestCase, cleanup, make_device, post_callback, punch_body, unique

XSS = "<img src=x onerror=alert(1)>"
DONE = b'{"status":"done"}'


def no_markup(test, values: dict):
	for field, value in values.items():
		if value:
			test.assertNotIn("<", value, field)
			test.assertNotIn(">", value, field)


class TestDeviceStrings(CamsTestCase):
	def setUp(self):
		self.stgid, self.token = make_device()

	def tearDown(self):
		frappe.set_user("Administrator")
		cleanup([self.stgid])

	def post(self, body: dict):
		self.assertEqual(post_callback(body, stgid=self.stgid).get_data(), DONE)

	def test_a_user_id_with_markup_is_no_user_id(self):
		body = punch_body(self.token, XSS, "2024-09-17 07:48:22 GMT +0300")
		self.post(body)
		[row] = frappe.get_all(RAW_PUNCH, filters={"device": self.stgid}, fields=["*"])
		self.assertEqual(row.status, "Error")
		self.assertIsNone(row.device_user_id)
		self.assertIn("UserId", row.error)
		no_markup(self, {k: v for k, v in row.items() if k != "raw_json" and isinstance(v, str)})
		# Nothing is lost: the body as it came, token aside.
		self.assertEqual(json.loads(row.raw_json)["RealTime"]["PunchLog"]["UserId"], XSS)

	def test_real_user_ids_are_taken_as_they_are(self):
		for user_id in ("1", "0042", "User123", "E-001", "emp_7.b"):
			self.post(punch_body(self.token, user_id, "2024-09-17 07:48:22 GMT +0300"))
		rows = frappe.get_all(RAW_PUNCH, filters={"device": self.stgid}, fields=["device_user_id", "status"])
		self.assertEqual(
			sorted(r.device_user_id for r in rows), sorted(["1", "0042", "User123", "E-001", "emp_7.b"])
		)
		self.assertNotIn("Error", {r.status for r in rows})

	def test_every_text_of_a_punch_is_no_markup(self):
		bad_time = punch_body(self.token, unique("U"), f"2024-09-17 {XSS}")
		bad_type = punch_body(self.token, unique("U"), "2024-09-17 07:48:22 GMT +0300", punch_type=XSS)
		for body in (bad_time, bad_type):
			body["RealTime"]["PunchLog"]["InputType"] = XSS
			body["RealTime"]["OperationID"] = XSS
			body["RealTime"]["SerialNumber"] = XSS
			self.post(body)
		rows = frappe.get_all(RAW_PUNCH, filters={"device": self.stgid}, pluck="name")
		processing.reprocess_rows(rows)  # the unknown type's error quotes it
		for row in frappe.get_all(RAW_PUNCH, filters={"device": self.stgid}, fields=["*"]):
			no_markup(self, {k: v for k, v in row.items() if k != "raw_json" and isinstance(v, str)})
		no_markup(
			self,
			{"reported_serial_number": frappe.db.get_value(DEVICE, self.stgid, "reported_serial_number")},
		)

	def test_user_events_store_names_as_text(self):
		user_id = unique("N")
		self.post(
			{
				"RealTime": {
					"OperationID": unique("op"),
					"AuthToken": self.token,
					"UserUpdated": {
						"UserID": user_id,
						"FirstName": XSS,
						"LastName": "<script>alert(2)</script>",
						"UserType": XSS,
						"OperationTime": XSS,
						"Template": [{"Type": XSS, "Index": XSS, "UserID": user_id, "Data": "x"}],
					},
				}
			}
		)
		row = frappe.db.get_value(
			DEVICE_USER, {"device": self.stgid, "device_user_id": user_id}, "*", as_dict=True
		)
		self.assertIn("img src=x", row.full_name)  # readable, as sent
		no_markup(
			self, {k: row[k] for k in ("full_name", "user_type", "templates_summary", "last_operation_time")}
		)
		event = frappe.db.get_value(
			DEVICE_EVENT, {"device": self.stgid}, ["event_time", "device_user_id"], as_dict=True
		)
		self.assertEqual(event.device_user_id, user_id)
		no_markup(self, event)

		self.post(
			{
				"RealTime": {
					"OperationID": unique("op"),
					"AuthToken": self.token,
					"UserDeleted": {"UserID": XSS, "OperationTime": XSS},
				}
			}
		)
		deleted = frappe.get_all(
			DEVICE_EVENT, filters={"device": self.stgid, "event_type": "User Deleted"}, fields=["*"]
		)
		self.assertIsNone(deleted[0].device_user_id)
		no_markup(self, {"event_time": deleted[0].event_time})

	def test_device_information_is_text(self):
		device_information.store(
			self.stgid, {"DeviceModel": XSS, "Manufacturer": "<b>ACME</b>", "MacAddress": XSS}
		)
		values = frappe.db.get_value(
			DEVICE, self.stgid, ["device_model", "manufacturer", "mac_address"], as_dict=True
		)
		self.assertTrue(values.device_model)
		no_markup(self, values)

	def test_rows_stored_before_lose_their_markup(self):
		self.post(punch_body(self.token, unique("U"), "2024-09-17 07:48:22 GMT +0300"))
		[name] = frappe.get_all(RAW_PUNCH, filters={"device": self.stgid}, pluck="name")
		# As the landed app stored them.
		frappe.db.set_value(RAW_PUNCH, name, {"device_user_id": XSS, "error": XSS, "punch_type": XSS})
		frappe.db.set_value(DEVICE, self.stgid, "device_model", XSS, update_modified=False)
		neutralise_device_markup.execute()
		no_markup(
			self,
			frappe.db.get_value(RAW_PUNCH, name, ["device_user_id", "error", "punch_type"], as_dict=True),
		)
		no_markup(self, {"model": frappe.db.get_value(DEVICE, self.stgid, "device_model")})
		self.assertEqual(
			frappe.db.get_value(RAW_PUNCH, name, "error"), "\u2039img src=x onerror=alert(1)\u203a"
		)
