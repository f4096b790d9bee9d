import frappe
from frappe.utils import add_to_date, now_datetime

from cams_biometric.constants import DEVICE, DEVICE_EVENT, DEVICE_USER, RAW_PUNCH, SETTINGS
from cams_biometric.tests.utils import CamsTestCase, cleanup, make_device, post_callback, punch_body


def make_user(*roles: str, email: str | None = None) -> str:
	"""An enabled test user with exactly these roles, reused across runs (Frappe throttles new
	users); named after its roles unless ``email`` is given."""
	email = email or f"cams-test-{'-'.join(sorted(roles)).lower().replace(' ', '')}@example.com"
	if not frappe.db.exists("User", email):
		user = frappe.get_doc(
			# in_import skips the doctype's defaults: "enabled" must be given.
			{
				"doctype": "User",
				"email": email,
				"first_name": "CAMS Test",
				"send_welcome_email": 0,
				"enabled": 1,
			}
		)
		# in_import: HRMS' and ERPNext's suites create users in bulk and trip the hourly throttle.
		user.flags.in_import = frappe.flags.in_import = True
		try:
			user.insert(ignore_permissions=True)
		finally:
			frappe.flags.in_import = False
	user = frappe.get_doc("User", email)
	# Enabled through the document, not a direct write: saving an enabled User switches its
	# notifications on (a user inserted disabled had them switched off, and HR Managers with
	# notifications off are not notified).
	user.enabled = 1
	user.set("roles", [])
	user.add_roles(*roles)
	frappe.db.commit()  # nosemgrep
	return email


class TestPermissions(CamsTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.employee_user = make_user("Employee")
		cls.hr_manager = make_user("HR Manager", "Employee")
		cls.stgid, cls.token = make_device()
		post_callback(punch_body(cls.token, "77", "2024-09-17 07:48:22 GMT +0300"), stgid=cls.stgid)
		cls.raw = frappe.get_all(RAW_PUNCH, filters={"device": cls.stgid}, pluck="name")[0]

	@classmethod
	def tearDownClass(cls):
		frappe.set_user("Administrator")
		cleanup([cls.stgid])
		super().tearDownClass()

	def tearDown(self):
		frappe.set_user("Administrator")

	def test_guest_and_employee_cannot_read_anything(self):
		for user in ("Guest", self.employee_user):
			frappe.set_user(user)
			for doctype in (
				DEVICE,
				RAW_PUNCH,
				DEVICE_EVENT,
				DEVICE_USER,
				SETTINGS,
				"CAMS Load Request",
				"CAMS Device Command",
			):
				with self.subTest(user=user, doctype=doctype):
					self.assertFalse(frappe.has_permission(doctype, "read"))
			with self.assertRaises(frappe.PermissionError):
				frappe.get_list(RAW_PUNCH)
			with self.assertRaises(frappe.PermissionError):
				frappe.get_doc(DEVICE, self.stgid).check_permission("read")

	def test_only_managers_edit_devices_and_settings_or_start_loads(self):
		from cams_biometric.loads import start_load, start_load_for_all_devices

		start, end = str(add_to_date(now_datetime(), days=-1)), str(now_datetime())
		for user in (self.employee_user, make_user("HR User", "Employee")):
			frappe.set_user(user)
			for doctype, ptype in (
				(DEVICE, "write"),
				(DEVICE, "create"),
				(SETTINGS, "write"),
				("CAMS Load Request", "create"),
			):
				with self.subTest(user=user, doctype=doctype, ptype=ptype):
					self.assertFalse(frappe.has_permission(doctype, ptype))
			device = frappe.get_doc(DEVICE, self.stgid)
			device.device_label = "Changed by someone who may not"
			with self.assertRaises(frappe.PermissionError):
				device.save()
			with self.assertRaises(frappe.PermissionError):
				start_load(self.stgid, start, end)
			with self.assertRaises(frappe.PermissionError):
				start_load_for_all_devices(start, end)
		frappe.set_user("Administrator")
		self.assertNotEqual(
			frappe.db.get_value(DEVICE, self.stgid, "device_label"), "Changed by someone who may not"
		)

	def test_hr_users_see_neither_templates_nor_device_commands(self):
		frappe.set_user(make_user("HR User", "Employee"))
		for doctype in (DEVICE_USER, "CAMS Device Command"):
			with self.subTest(doctype=doctype):
				self.assertFalse(frappe.has_permission(doctype, "read"))
				with self.assertRaises(frappe.PermissionError):
					frappe.get_list(doctype)

	def test_employee_cannot_reprocess(self):
		from cams_biometric.api import reprocess

		for user in (self.employee_user, make_user("HR User", "Employee")):
			frappe.set_user(user)
			with self.assertRaises(frappe.PermissionError):
				reprocess([self.raw])

	def test_hr_manager_reviews_and_reprocesses(self):
		from cams_biometric.api import reprocess

		frappe.set_user(self.hr_manager)
		self.assertTrue(frappe.has_permission(RAW_PUNCH, "read"))
		self.assertTrue(frappe.has_permission(DEVICE, "write"))
		self.assertFalse(frappe.has_permission(RAW_PUNCH, "create"))
		self.assertTrue(frappe.has_permission("CAMS Load Request", "create"))
		result = reprocess([self.raw])
		self.assertFalse(result["queued"])
		self.assertEqual(result["outcomes"], {self.raw: "Unmapped"})

	def test_the_token_is_never_returned(self):
		doc = frappe.get_doc(DEVICE, self.stgid).as_dict()
		self.assertNotIn(self.token, frappe.as_json(doc))
		self.assertEqual(frappe.get_doc(DEVICE, self.stgid).get_password("auth_token"), self.token)
		row = frappe.get_doc(RAW_PUNCH, self.raw)
		self.assertNotIn(self.token, frappe.as_json(row.as_dict()))

	def test_only_a_system_manager_sets_the_restful_endpoint_and_only_to_https(self):
		from cams_biometric import gateway
		from cams_biometric.protocol.client import InvalidRequest

		before = frappe.db.get_single_value(SETTINGS, "restful_endpoint")
		http_allowed = frappe.local.conf.pop("cams_biometric_allow_http_endpoint", None)
		try:
			# Every device's token is sent there: an HR Manager's change does not stick.
			frappe.set_user(self.hr_manager)
			settings = frappe.get_doc(SETTINGS)
			self.assertFalse(settings.has_permlevel_access_to("restful_endpoint", permission_type="write"))
			settings.restful_endpoint = "https://collector.example.org/"
			settings.save()
			self.assertEqual(frappe.db.get_single_value(SETTINGS, "restful_endpoint"), before)

			frappe.set_user("Administrator")
			for url in ("http://10.0.0.5/cams", "ftp://gateway.example.org/", "https://"):
				settings = frappe.get_doc(SETTINGS)
				settings.restful_endpoint = url
				with self.subTest(url=url), self.assertRaises(frappe.ValidationError):
					settings.save()
			settings = frappe.get_doc(SETTINGS)
			settings.restful_endpoint = "https://gateway.example.org/api"
			settings.save()
			self.assertEqual(
				frappe.db.get_single_value(SETTINGS, "restful_endpoint"), settings.restful_endpoint
			)

			# An http URL saved before https was required is not used either.
			frappe.db.set_single_value(SETTINGS, "restful_endpoint", "http://127.0.0.1:9/")
			with self.assertRaisesRegex(InvalidRequest, "https://"):
				gateway.client_for(self.stgid)
			frappe.local.conf["cams_biometric_allow_http_endpoint"] = 1
			self.assertEqual(gateway.client_for(self.stgid).endpoint, "http://127.0.0.1:9/")
		finally:
			frappe.set_user("Administrator")
			frappe.local.conf.pop("cams_biometric_allow_http_endpoint", None)
			if http_allowed:
				frappe.local.conf["cams_biometric_allow_http_endpoint"] = http_allowed
			frappe.db.set_single_value(SETTINGS, "restful_endpoint", before)
			frappe.db.commit()  # nosemgrep
