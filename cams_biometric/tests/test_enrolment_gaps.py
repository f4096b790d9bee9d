"""The Enrolment Gaps report and its fixes (issue 22, part 3): each gap found, and not when
all is well; one device or all; a company's HR Manager sees and fixes only their devices';
each fix carried out by the simulated device; a row already fixed is skipped; the device's
strings stay text; bad arguments are refused."""

import json

import frappe
from frappe.desk.query_report import run
from frappe.utils import add_days, nowdate

from cams_biometric import arguments, commands, device_users, enrolment_gaps, rollouts
from cams_biometric.constants import SETTINGS
from cams_biometric.enrolment_gaps import (
	DISABLED_WHILE_ACTIVE,
	ENABLED_WHILE_LEAVING,
	NO_EMPLOYEE,
	NOT_ON_DEVICE,
	OUTSIDE_SCOPE,
)
from cams_biometric.protocol import constants as c
from cams_biometric.protocol.simulator import Gateway, GatewayServer
from cams_biometric.tests.test_ownership import first_company, hr_manager_of, http_as, second_company
from cams_biometric.tests.utils import (
	CamsTestCase,
	cleanup,
	delete_employees,
	drop_queued_job,
	make_device,
	make_employee,
	run_queued_job,
	unique,
)

HOSTILE = '<img src=x onerror="alert(1)">'


class TestEnrolmentGaps(CamsTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.alpha, cls.beta = first_company(), second_company()
		cls.alpha_hr = hr_manager_of(cls.alpha)
		cls.endpoint_before = frappe.db.get_single_value(SETTINGS, "restful_endpoint")

	@classmethod
	def tearDownClass(cls):
		frappe.db.set_single_value(SETTINGS, "restful_endpoint", cls.endpoint_before)
		frappe.db.commit()  # nosemgrep
		super().tearDownClass()

	def setUp(self):
		super().setUp()
		frappe.set_user("Administrator")
		frappe.local.conf["cams_biometric_allow_http_endpoint"] = 1
		self.gateways, self.employees = {}, []
		for key, company in (("A1", self.alpha), ("A2", self.alpha), ("B1", self.beta)):
			stgid, token = make_device(company=company, device_label=unique(f"{key} door "))
			self.gateways[key] = Gateway(stgid, token)
		self.A1, self.A2, self.B1 = (self.gateways[k].service_tag_id for k in ("A1", "A2", "B1"))
		self.devices = [self.A1, self.A2, self.B1]
		first, *more = self.gateways.values()
		self.server = GatewayServer(first, more=tuple(more)).start()
		frappe.db.set_single_value(SETTINGS, "restful_endpoint", self.server.url)
		frappe.db.commit()  # nosemgrep

	def tearDown(self):
		frappe.set_user("Administrator")
		frappe.db.rollback()
		self.server.stop()
		for name in frappe.get_all(commands.COMMAND, {"device": ("in", self.devices)}, pluck="name"):
			drop_queued_job(f"cams_biometric:command:{name}")
		frappe.db.delete(commands.COMMAND, {"device": ("in", self.devices)})
		for name in frappe.get_all(rollouts.ROLLOUT, {"device": ("in", self.devices)}, pluck="name"):
			drop_queued_job(rollouts.rollout_job_id(name))
			frappe.db.delete("Notification Log", {"document_type": rollouts.ROLLOUT, "document_name": name})
			frappe.delete_doc(rollouts.ROLLOUT, name, force=True, ignore_permissions=True)
		cleanup(self.devices, self.employees)
		delete_employees(self.employees)

	# -- helpers -----------------------------------------------------------------------------
	def employee(self, user_id, company=None, **values) -> str:
		name = make_employee(user_id, company=company or self.alpha, **values)
		self.employees.append(name)
		return name

	def on_device(self, key: str, user_id: str, name: str = "Someone", enabled: bool = True):
		"""The device ``key`` holds the user, and has told the directory (as its callbacks do)."""
		stgid = self.gateways[key].service_tag_id
		device_users.apply_event(
			stgid, "User Updated", {"UserID": user_id, "FirstName": name, "LastName": ""}
		)
		self.gateways[key]._add_user(user_id, {"FirstName": name}, "User", [])
		if not enabled:
			device_users.apply_command(stgid, user_id, "Disable User")
			self.gateways[key].users[user_id][c.ACCESS] = c.ACCESS_DISABLE
		frappe.db.commit()  # nosemgrep

	def gaps(self, device=None, **kwargs) -> dict:
		"""{(device, user id): gap} of this test's devices."""
		return {
			(row.device, row.device_user_id): row.gap
			for row in enrolment_gaps.find(device, **kwargs)
			if row.device in self.devices
		}

	def row(self, device, user_id) -> dict:
		[found] = [r for r in enrolment_gaps.find(device) if r.device_user_id == user_id]
		return found

	def fix(self, *rows, **kwargs) -> dict:
		chosen = kwargs.pop("fix", None)
		wanted = [
			{
				"device": r.device,
				"device_user_id": r.device_user_id,
				"employee": r.employee,
				"gap": r.gap,
				"fix": chosen or next(f for f in r.fixes.split(",") if f != "map"),
			}
			for r in rows
		]
		return enrolment_gaps.fix(wanted, **kwargs)

	def run_commands(self, answer: dict):
		frappe.db.commit()  # nosemgrep: the jobs are queued on commit
		for row in answer["rows"]:
			for name in row["commands"]:
				run_queued_job(f"cams_biometric:command:{name}")
		# Enrol rows go as one rollout per device, which sends its commands one by one.
		for name in {row["rollout"] for row in answer["rows"] if row.get("rollout")}:
			run_queued_job(rollouts.rollout_job_id(name))
			frappe.db.rollback()
			self.assertEqual(frappe.db.get_value(rollouts.ROLLOUT, name, "status"), "Completed", name)
		frappe.db.rollback()
		for row in answer["rows"]:
			for name in row["commands"]:
				self.assertEqual(frappe.db.get_value(commands.COMMAND, name, "status"), "Done", name)

	def staged(self) -> dict:
		"""One user of each kind on A1, and the Employees they are."""
		ids = {
			kind: unique(kind[:2].upper())
			for kind in ("fine", "none", "left", "soon", "gone", "off", "beta", "new", "deleted", "idle")
		}
		self.employee(ids["fine"])
		self.employee(ids["left"], status="Left", relieving_date=add_days(nowdate(), -10))
		self.employee(ids["soon"], status="Left", relieving_date=add_days(nowdate(), 10))
		self.employee(ids["gone"], status="Left", relieving_date=add_days(nowdate(), -10))
		self.employee(ids["off"])
		self.employee(ids["beta"], company=self.beta)
		self.employee(ids["new"])
		self.employee(ids["deleted"])
		self.employee(ids["idle"], status="Inactive")
		self.on_device("A1", ids["fine"])
		self.on_device("A1", ids["none"], "Nobody Known")
		self.on_device("A1", ids["left"])
		self.on_device("A1", ids["soon"])
		self.on_device("A1", ids["gone"], enabled=False)
		self.on_device("A1", ids["off"], enabled=False)
		self.on_device("A1", ids["beta"])
		self.on_device("A1", ids["deleted"])
		device_users.apply_command(self.A1, ids["deleted"], "Delete User")
		frappe.db.commit()  # nosemgrep
		return ids

	# -- finding -----------------------------------------------------------------------------
	def test_each_gap_is_found_and_rows_that_are_fine_are_not(self):
		ids = self.staged()
		found = {uid: gap for (device, uid), gap in self.gaps(self.A1).items() if uid in ids.values()}
		self.assertEqual(
			found,
			{
				ids["none"]: NO_EMPLOYEE,
				ids["left"]: ENABLED_WHILE_LEAVING,
				ids["off"]: DISABLED_WHILE_ACTIVE,
				ids["beta"]: OUTSIDE_SCOPE,
				ids["new"]: NOT_ON_DEVICE,
				ids["deleted"]: NOT_ON_DEVICE,  # deleted from the device: not on it
			},
		)
		# fine: on it, enabled; soon: leaving, but punches until the relieving date; gone: left
		# and disabled; idle: Inactive, not enrolled anywhere.
		row = self.row(self.A1, ids["beta"])
		self.assertEqual((row.company, row.fixes), (self.beta, "remove"))
		self.assertIn(self.beta, row.note)
		self.assertEqual(self.row(self.A1, ids["none"]).fixes, "map,remove")
		self.assertEqual(self.row(self.A1, ids["none"]).name_on_device, "Nobody Known")
		# The beta Employee belongs on beta's device, not on alpha's other one.
		everywhere = self.gaps()
		self.assertEqual(everywhere.get((self.B1, ids["beta"])), NOT_ON_DEVICE)
		self.assertEqual(everywhere.get((self.A2, ids["new"])), NOT_ON_DEVICE)
		self.assertNotIn((self.A2, ids["beta"]), everywhere)
		self.assertNotIn((self.B1, ids["new"]), everywhere)

	def test_one_device_or_all_and_one_gap_type(self):
		ids = self.staged()
		one = self.gaps(self.A1)
		self.assertEqual({device for device, _ in one}, {self.A1})
		everywhere = self.gaps()
		self.assertEqual({device for device, _ in everywhere}, set(self.devices))
		self.assertTrue(set(one) < set(everywhere))
		only = self.gaps(self.A1, gap=OUTSIDE_SCOPE)
		self.assertEqual(only, {(self.A1, ids["beta"]): OUTSIDE_SCOPE})
		# Through the report, as the desk asks it.
		result = run("Enrolment Gaps", filters={"device": self.A1, "gap": NO_EMPLOYEE})
		rows = [r for r in result["result"] if isinstance(r, dict)]
		self.assertEqual([r["device_user_id"] for r in rows], [ids["none"]])
		self.assertEqual(result["report_summary"][1]["value"], 1)
		# A disabled device takes no command: its gaps are not offered.
		frappe.db.set_value("CAMS Biometric Device", self.A2, "enabled", 0)
		self.assertFalse(self.gaps(self.A2))
		empty = run("Enrolment Gaps", filters={"device": self.A2})
		self.assertEqual(empty["result"], [])
		self.assertIn("No enrolment gap", empty["message"])

	def test_a_company_hr_manager_sees_and_fixes_only_their_devices(self):
		ids = self.staged()
		frappe.set_user(self.alpha_hr)
		rows = [r for r in run("Enrolment Gaps")["result"] if isinstance(r, dict)]
		devices = {r["device"] for r in rows}
		self.assertIn(self.A1, devices)
		self.assertNotIn(self.B1, devices)
		self.assertFalse([r for r in run("Enrolment Gaps", filters={"device": self.B1})["result"] if r])
		# The id is a beta Employee's: the gap is said, who they are is not.
		outside = next(r for r in rows if r["device_user_id"] == ids["beta"])
		self.assertEqual(outside["gap"], OUTSIDE_SCOPE)
		self.assertFalse(outside["employee"] or outside["employee_name"] or outside["company"])
		beta_row = {"device": self.B1, "device_user_id": ids["beta"], "fix": "enrol", "gap": NOT_ON_DEVICE}
		with self.assertRaises(frappe.PermissionError):
			enrolment_gaps.fix([beta_row])
		# With one of their own rows, the whole request is refused: nothing is queued.
		own = {"device": self.A1, "device_user_id": ids["none"], "fix": "remove"}
		with self.assertRaises(frappe.PermissionError):
			enrolment_gaps.fix([own, beta_row])
		frappe.set_user("Administrator")
		self.assertFalse(frappe.get_all(commands.COMMAND, {"device": ("in", self.devices)}))
		response = http_as(
			self.alpha_hr,
			"POST",
			"/api/method/cams_biometric.enrolment_gaps.fix",
			json={"rows": [beta_row]},
		)
		self.assertEqual(response.status_code, 403)
		self.assertFalse(frappe.get_all(commands.COMMAND, {"device": ("in", self.devices)}))
		# Their own device's row they fix.
		response = http_as(
			self.alpha_hr, "POST", "/api/method/cams_biometric.enrolment_gaps.fix", json={"rows": [own]}
		)
		self.assertEqual(response.status_code, 200, response.get_data(as_text=True)[:500])
		self.assertEqual(response.json["message"]["queued"], 1)

	# -- fixing ------------------------------------------------------------------------------
	def test_each_fix_does_what_it_says_on_the_device(self):
		ids = self.staged()
		rows = [self.row(self.A1, ids[kind]) for kind in ("none", "left", "off", "beta", "new")]
		answer = self.fix(*rows)
		self.assertEqual((answer["queued"], answer["skipped"]), (5, 0), answer)
		self.run_commands(answer)
		users = self.gateways["A1"].users
		self.assertNotIn(ids["none"], users)  # removed
		self.assertEqual(users[ids["left"]][c.ACCESS], c.ACCESS_DISABLE)  # disabled
		self.assertEqual(users[ids["off"]][c.ACCESS], c.ACCESS_ENABLE)  # enabled
		self.assertNotIn(ids["beta"], users)  # removed
		self.assertIn(ids["new"], users)  # enrolled
		# The directory follows the device: those gaps are gone, the others stay.
		left = {uid for (_, uid) in self.gaps(self.A1)}
		self.assertFalse({ids[k] for k in ("none", "left", "off", "beta", "new")} & left)
		self.assertIn(ids["deleted"], left)
		# The beta Employee is still theirs to enrol on beta's device.
		self.assertEqual(self.gaps(self.B1).get((self.B1, ids["beta"])), NOT_ON_DEVICE)

	def test_a_row_fixed_already_or_changed_is_skipped(self):
		ids = self.staged()
		row = self.row(self.A1, ids["off"])
		first = self.fix(row)
		self.assertEqual(first["queued"], 1)
		# Queued, not yet carried out: not queued twice; the report says it is on its way.
		again = self.fix(row)
		self.assertEqual((again["queued"], again["skipped"]), (0, 1))
		self.assertIn("on its way", again["rows"][0]["message"])
		self.assertIn("Enable User", self.row(self.A1, ids["off"]).pending)
		self.run_commands(first)
		done = self.fix(row)
		self.assertEqual(done["rows"][0]["status"], "Skipped")
		self.assertIn("no gap any more", done["rows"][0]["message"])
		# Enrolled by hand meanwhile, but disabled: the row is another gap now, with another fix.
		new_row = self.row(self.A1, ids["new"])
		self.on_device("A1", ids["new"], enabled=False)
		changed = self.fix(new_row)
		self.assertEqual(changed["rows"][0]["status"], "Skipped")
		self.assertIn("refresh", changed["rows"][0]["message"])
		self.assertFalse(frappe.get_all(commands.COMMAND, {"device": self.A1, "device_user_id": ids["new"]}))

	def test_a_refusal_is_said_in_its_row_and_the_other_rows_go_on(self):
		ids = self.staged()
		rows = [self.row(self.A1, ids["off"]), self.row(self.A1, ids["new"])]
		# A path refuses one row (as check_may_send or queue_command would), with markup in it.
		original = enrolment_gaps._apply

		def refusing(action, found):
			if action == "enable":
				frappe.throw(f"Refused {HOSTILE}")
			return original(action, found)

		enrolment_gaps._apply = refusing
		try:
			answer = self.fix(*rows)
		finally:
			enrolment_gaps._apply = original
		self.assertEqual((answer["queued"], answer["skipped"]), (1, 1))
		refused = answer["rows"][0]
		self.assertIn("Refused", refused["message"])
		self.assertNotIn("<img", refused["message"])
		self.assertFalse(frappe.local.message_log, "a row's refusal is not the request's message")

	# -- strings and arguments ---------------------------------------------------------------
	def test_a_devices_names_are_text(self):
		user_id = unique("H")
		self.on_device("A1", user_id, HOSTILE)
		row = self.row(self.A1, user_id)
		self.assertEqual(row.gap, NO_EMPLOYEE)
		self.assertNotIn("<", row.name_on_device or "")
		answer = self.fix(row)
		self.assertNotIn("<", json.dumps(answer))
		# The report's script escapes every text it shows (cams_biometric.esc).
		script = frappe.read_file(
			frappe.get_app_path(
				"cams_biometric", "cams_biometric", "report", "enrolment_gaps", "enrolment_gaps.js"
			)
		)
		self.assertIn("cams_biometric.report_value", script)
		self.assertNotIn("${data.", script.replace("${esc(data.", ""))

	def test_bad_arguments_are_refused(self):
		user_id = unique("Q")
		self.on_device("A1", user_id)
		good = {"device": self.A1, "device_user_id": user_id, "fix": "remove"}
		for rows, error in (
			(None, arguments.InvalidArgument),
			("[broken", arguments.InvalidArgument),
			([], arguments.InvalidArgument),
			(["x"], arguments.InvalidArgument),
			({"device": self.A1}, TypeError),  # Frappe's type check: not a list
			([{**good, "fix": "map"}], arguments.InvalidArgument),  # the desk's dialog, not a command
			([{**good, "fix": "explode"}], arguments.InvalidArgument),
			([{**good, "gap": "Haunted"}], arguments.InvalidArgument),
			([{**good, "device_user_id": "<b>"}], arguments.InvalidArgument),
			([{**good, "device": "No such device"}], arguments.UnknownName),
			([{**good, "employee": "No such employee"}], arguments.UnknownName),
		):
			with self.subTest(rows=rows), self.assertRaises(error):
				enrolment_gaps.fix(rows)
		with self.assertRaises((arguments.InvalidArgument, TypeError)):  # Frappe's type check, or ours
			enrolment_gaps.fix([good], copy_templates="maybe")
		with self.assertRaises(arguments.InvalidArgument):
			run("Enrolment Gaps", filters={"gap": "Haunted"})
		self.assertFalse(frappe.get_all(commands.COMMAND, {"device": self.A1}))
