"""Every whitelisted method of the app, found by introspection (a new one is covered without
editing this test), called over HTTP with malformed values for each of its arguments:
malformed JSON, wrong types, unknown names, unparsable dates, markup. Each must answer with a
4xx, leave no Error Log and write nothing (issue 18)."""

import importlib
import inspect
import json
import pkgutil
import threading
import types
import typing
from datetime import timedelta

import frappe
from frappe.core.doctype.user.user import generate_keys
from frappe.deferred_insert import save_to_db
from frappe.utils import get_test_client, now_datetime

import cams_biometric
from cams_biometric.commands import COMMAND
from cams_biometric.constants import (
	ATTENDANCE_PHOTO,
	DEVICE,
	DEVICE_EVENT,
	DEVICE_USER,
	RAW_PUNCH,
)
from cams_biometric.loads import LOAD_REQUEST
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

# The gateway's endpoint: its hostile bodies are test_hostile_input's.
NOT_HERE = {"cams_biometric.api.callback"}
# Values that are malformed for (nearly) any argument, sent as text, as the desk sends them.
MALFORMED_TEXT = [
	"[broken",  # malformed JSON
	'{"oops": ',
	"No such record \u2717",  # an unknown name
	"yesterday at noon",  # an unparsable date
	"2024-02-30 25:61:00",
	"<img src=x onerror=alert(1)>",
]
# Values of a wrong type, sent as JSON.
MALFORMED_JSON = [12345, 1.5, True, [1, 2], {"a": {"b": 1}}]
# Good values that differ by method.
GOOD_FOR = {
	"cams_biometric.commands.erase_device_data": {"operation": "Delete All Logs"},
	"cams_biometric.rollouts.replace_device": {"new_service_tag_id": "ARGSNEW1"},
}
# What each method's doctype rows and Logs look like before and after: nothing may change.
WATCHED = (
	RAW_PUNCH,
	DEVICE_EVENT,
	DEVICE_USER,
	ATTENDANCE_PHOTO,
	COMMAND,
	LOAD_REQUEST,
	DEVICE,
	"CAMS Device Rollout",
)
WATCHED_ELSEWHERE = ("Employee", "Shift Type", "Comment", "Version", "Notification Log", "Error Log")


def whitelisted_methods() -> dict[str, types.FunctionType]:
	"""{dotted path: function} of every whitelisted function the app's modules define."""
	for module in pkgutil.walk_packages(cams_biometric.__path__, "cams_biometric."):
		if ".tests" in module.name or module.name.endswith("__main__"):
			continue
		importlib.import_module(module.name)
	found = {}
	for fn in frappe.whitelisted:
		module = getattr(fn, "__module__", "") or ""
		if module.startswith("cams_biometric."):
			found[f"{module}.{fn.__name__}"] = fn
	return found


def server_messages(response) -> str:
	"""The messages the desk would show (as HTML) for an answer."""
	try:
		messages = json.loads((response.json or {}).get("_server_messages") or "[]")
	except ValueError:
		return ""
	return " ".join(str(json.loads(m).get("message", "")) for m in messages)


def admitted_types(fn, argument: str) -> set:
	"""The plain types an argument's annotation admits (set() when it has none)."""
	hints = typing.get_type_hints(inspect.unwrap(fn))
	hint = hints.get(argument)
	if hint is None:
		return set()
	admitted = set()
	for part in typing.get_args(hint) or (hint,):
		admitted.add(typing.get_origin(part) or part)
	return admitted


def is_malformed_for(value, admitted: set) -> bool:
	"""Some values are right for some arguments: an object for one typed dict, a yes/no for
	one typed int or bool."""
	if isinstance(value, dict) and dict in admitted:
		return False
	if isinstance(value, bool) and admitted & {bool, int}:
		return False
	return True


class TestWhitelistedArguments(CamsTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		frappe.set_user("Administrator")
		cls.stgid, cls.token = make_device()
		cls.user_id = unique("A")
		cls.employee = make_employee(cls.user_id)
		post_callback(punch_body(cls.token, unique("A"), "2024-09-17 07:48:22 GMT +0300"), stgid=cls.stgid)
		cls.raw_punch = frappe.get_all(RAW_PUNCH, filters={"device": cls.stgid}, pluck="name")[0]
		secret = generate_keys("Administrator")["api_secret"]
		api_key = frappe.db.get_value("User", "Administrator", "api_key")
		cls.headers = {"X-Frappe-Site-Name": frappe.local.site, "Authorization": f"token {api_key}:{secret}"}
		frappe.db.commit()  # nosemgrep: the requests run in their own connections
		now = now_datetime().replace(microsecond=0)
		# Good values for the arguments not under test, by name, so that each call fails on the
		# malformed one. An argument of a method added later may have none: it is None then.
		cls.good = {
			"device": cls.stgid,
			"employee": cls.employee,
			"devices": json.dumps([cls.stgid]),
			"device_user_id": cls.user_id,
			"names": json.dumps([cls.raw_punch]),
			"operation": "Device Information",
			"parameters": "{}",
			"confirmation": cls.stgid,
			"args": json.dumps({"punch_types": ["CheckIn"]}),
			"filters": "{}",
			"from_time": str(now - timedelta(days=1)),
			"to_time": str(now - timedelta(hours=1)),
			"start": str(now),
			"end": str(now + timedelta(days=30)),
			"enable": 1,
			"copy_templates": 0,
			"since": str(now),
		}
		cls.methods = whitelisted_methods()

	@classmethod
	def tearDownClass(cls):
		frappe.set_user("Administrator")
		frappe.db.delete(COMMAND, {"device": cls.stgid})
		frappe.db.delete(LOAD_REQUEST, {"device": cls.stgid})
		cleanup([cls.stgid])
		delete_employees([cls.employee])
		super().tearDownClass()

	def call(self, path: str, arguments: dict):
		"""One request through Frappe's WSGI application, in its own thread and connection."""
		http_methods = frappe.allowed_http_methods_for_whitelisted_func.get(self.methods[path], ["POST"])
		result = {}

		def run():
			client = get_test_client(use_cookies=False)
			url = f"/api/method/{path}"
			if "POST" in http_methods:
				result["response"] = client.post(url, json=arguments, headers=self.headers)
			else:
				query = {k: v if isinstance(v, str) else json.dumps(v) for k, v in arguments.items()}
				result["response"] = client.get(url, query_string=query, headers=self.headers)

		frappe.db.commit()  # nosemgrep
		thread = threading.Thread(target=run)
		thread.start()
		thread.join()
		frappe.db.rollback()  # see what the request committed
		return result["response"]

	def state(self) -> tuple:
		save_to_db()  # Frappe defers the Error Logs of failed requests
		frappe.db.rollback()
		counts = [frappe.db.count(doctype) for doctype in (*WATCHED, *WATCHED_ELSEWHERE)]
		latest = [
			frappe.db.get_all(doctype, fields=["max(modified) as latest"])[0].latest
			for doctype in (*WATCHED, "Employee", "Shift Type")
		]
		return (*counts, *latest)

	def test_every_whitelisted_method_is_found(self):
		# The ones the issue names, and one of each kind (doctype controller, report, chart).
		for path in (
			"cams_biometric.commands.send_command",
			"cams_biometric.api.reprocess",
			"cams_biometric.employee_devices.enrol",
			"cams_biometric.loads.start_load",
			"cams_biometric.cams_biometric.doctype.cams_device_user.cams_device_user.remove_biometric_data",
			"cams_biometric.cams_biometric.report.unmapped_device_users.unmapped_device_users.map_device_user",
			"cams_biometric.cams_biometric.dashboard_chart_source.cams_punches_per_device.cams_punches_per_device.get",
		):
			self.assertIn(path, self.methods)
		self.assertGreaterEqual(len(self.methods), 25)

	def test_malformed_arguments_are_answered_4xx_and_change_nothing(self):
		problems, calls = [], 0
		for path, fn in sorted(self.methods.items()):
			if path in NOT_HERE:
				continue
			parameters = list(inspect.signature(fn).parameters)
			for argument in parameters:
				admitted = admitted_types(fn, argument)
				for value in [*MALFORMED_TEXT, *MALFORMED_JSON]:
					if not is_malformed_for(value, admitted):
						continue
					good = {**self.good, **GOOD_FOR.get(path, {})}
					arguments = {name: good.get(name) for name in parameters}
					arguments = {name: v for name, v in arguments.items() if v is not None}
					arguments[argument] = value
					before = self.state()
					response = self.call(path, arguments)
					calls += 1
					after = self.state()
					case = f"{path}({argument}={value!r})"
					body = response.get_data(as_text=True)
					if not 400 <= response.status_code < 500:
						problems.append(f"{case}: HTTP {response.status_code} {body[:300]}")
					elif after != before:
						problems.append(f"{case}: something was written or logged")
					elif "<img" in server_messages(response):
						problems.append(f"{case}: the message shows the value as markup")
		print(f"\n{calls} calls with malformed arguments to {len(self.methods) - len(NOT_HERE)} methods")
		self.assertEqual(problems, [], "\n".join(problems))

	def test_the_calls_the_issue_names_say_what_is_wrong(self):
		cases = [
			(
				"cams_biometric.commands.send_command",
				{"device": self.stgid, "operation": "Add User", "parameters": "[1, 2"},
				"parameters",
			),
			("cams_biometric.api.reprocess", {"names": "[broken"}, "names"),
			(
				"cams_biometric.employee_devices.enrol",
				{"employee": self.employee, "devices": "[oops"},
				"devices",
			),
			(
				"cams_biometric.loads.start_load",
				{"device": self.stgid, "from_time": "yesterday", "to_time": self.good["to_time"]},
				"from_time",
			),
		]
		for path, arguments, argument in cases:
			with self.subTest(path):
				before = self.state()
				response = self.call(path, arguments)
				self.assertEqual(response.status_code, 400, response.get_data(as_text=True)[:500])
				self.assertIn(argument, server_messages(response))
				self.assertEqual(self.state(), before)
