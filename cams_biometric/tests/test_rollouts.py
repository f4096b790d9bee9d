"""Rollouts (rollouts.py): a team enrolled onto a device in one run, a device replaced without
re-enrolling anyone, against simulated devices; and what stops, resumes and recovers them."""

import hashlib
from datetime import datetime, timezone
from unittest.mock import patch

import frappe
from frappe.utils import add_to_date, now_datetime
from frappe.utils.background_jobs import get_job

from cams_biometric import commands, rollouts
from cams_biometric.constants import DEVICE, DEVICE_USER, SETTINGS
from cams_biometric.protocol import constants as c
from cams_biometric.protocol.logtime import format_logtime
from cams_biometric.protocol.simulator import Gateway, GatewayServer
from cams_biometric.tests.test_ownership import (
	first_company,
	hr_manager,
	hr_manager_of,
	http_as,
	second_company,
)
from cams_biometric.tests.utils import (
	CamsTestCase,
	Step,
	cleanup,
	delete_employees,
	drop_queued_job,
	drop_queued_jobs_of_this_app,
	make_device,
	make_employee,
	post_callback,
	run_queued_job,
	unique,
)

FINGER = "Uk9MTE9VVC1GSU5HRVI" * 30


def no_sleep(seconds):
	pass


class OfflineAfter(Gateway):
	"""A device that goes offline (StatusCode 5 on every call) once it holds ``limit`` users."""

	def __init__(self, *args, limit: int, **kwargs):
		super().__init__(*args, **kwargs)
		self.limit = limit

	def add(self, add):
		result = super().add(add)
		if len(self.users) >= self.limit:
			self.always = {"status": 5}
		return result


class TestRollouts(CamsTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.alpha, cls.beta = first_company(), second_company()
		cls.settings_before = frappe.db.get_value(
			SETTINGS, None, ["restful_endpoint", "keep_biometric_templates"], as_dict=True
		)

	@classmethod
	def tearDownClass(cls):
		for field, value in cls.settings_before.items():
			frappe.db.set_single_value(SETTINGS, field, value)
		frappe.db.commit()  # nosemgrep
		super().tearDownClass()

	def setUp(self):
		super().setUp()
		frappe.local.conf["cams_biometric_allow_http_endpoint"] = 1
		frappe.local.conf["cams_biometric_retry_base_seconds"] = 0.01
		self.devices, self.employees, self.gateways, self.departments = [], [], {}, []
		self.server = None
		frappe.db.set_single_value(SETTINGS, "keep_biometric_templates", 1)

	def tearDown(self):
		frappe.set_user("Administrator")
		frappe.db.rollback()
		if self.server:
			self.server.stop()
		drop_queued_jobs_of_this_app()
		frappe.db.delete(commands.COMMAND, {"device": ("in", self.devices or [""])})
		for name in frappe.get_all(
			rollouts.ROLLOUT,
			or_filters={"device": ("in", self.devices or [""]), "old_device": ("in", self.devices or [""])},
			pluck="name",
		):
			frappe.db.delete("Notification Log", {"document_type": rollouts.ROLLOUT, "document_name": name})
			frappe.db.delete("Comment", {"reference_doctype": rollouts.ROLLOUT, "reference_name": name})
			frappe.delete_doc(rollouts.ROLLOUT, name, force=True, ignore_permissions=True)
		frappe.db.sql(
			"update `tabCAMS Biometric Device` set replaces=null, replaced_by=null where name in %s",
			[tuple(self.devices or [""])],
		)
		cleanup(self.devices, self.employees)
		delete_employees(self.employees)
		frappe.db.delete("Department", {"name": ("in", self.departments or [""])})
		frappe.db.commit()  # nosemgrep
		frappe.local.conf.pop("cams_biometric_retry_base_seconds", None)

	# -- helpers -------------------------------------------------------------------------------
	def device(self, gateway_class=Gateway, company=None, **options) -> str:
		stgid, token = make_device(company=company or self.alpha, device_label=unique("Gate "))
		self.devices.append(stgid)
		self.gateways[stgid] = gateway_class(stgid, token, **options)
		return stgid

	def serve(self):
		first, *more = self.gateways.values()
		self.server = GatewayServer(first, more=tuple(more)).start()
		frappe.db.set_single_value(SETTINGS, "restful_endpoint", self.server.url)
		frappe.db.commit()  # nosemgrep

	def employee(self, user_id, company=None, **values) -> str:
		name = make_employee(user_id, company=company or self.alpha, **values)
		self.employees.append(name)
		return name

	def run_job(self, name) -> frappe._dict:
		"""Run the rollout's queued job as a worker would."""
		frappe.db.commit()  # nosemgrep: queued on commit
		turns = 0
		while True:
			turn = frappe.db.get_value(rollouts.ROLLOUT, name, "job_turn")
			run_queued_job(rollouts.rollout_job_id(name, turn))
			frappe.db.rollback()
			turns += 1
			rollout = self.rollout(name)
			# A slice ended: its job queued the next turn, as a worker would then take it.
			if rollout.status != "Running" or rollout.job_turn == turn:
				self.turns = turns
				return rollout

	def rollout(self, name):
		return frappe.get_doc(rollouts.ROLLOUT, name)

	def rows(self, rollout) -> dict:
		return {item.employee or item.device_user_id: item for item in rollout.items}

	def user_updated(self, device, user_id, templates, first_name="Someone"):
		gateway = self.gateways[device]
		event = {
			"UserID": user_id,
			"FirstName": first_name,
			"LastName": "",
			"UserType": "User",
			"OperationTime": format_logtime(datetime.now(timezone.utc).replace(microsecond=0)),
			"Template": templates,
		}
		body = {
			"RealTime": {"OperationID": unique("op"), "AuthToken": gateway.auth_token, "UserUpdated": event}
		}
		self.assertEqual(post_callback(body, device).get_data(), b'{"status":"done"}')
		gateway._add_user(user_id, {"FirstName": first_name}, "User", templates)

	# -- 1. enrol a team -------------------------------------------------------------------------
	def test_a_team_is_enrolled_one_by_one_with_counts_skips_and_a_notification(self):
		device = self.device()
		self.serve()
		department = (
			frappe.get_doc(
				{"doctype": "Department", "department_name": unique("Rollout "), "company": self.alpha}
			)
			.insert(ignore_permissions=True)
			.name
		)
		self.departments.append(department)
		team = [self.employee(unique("R"), department=department) for _ in range(3)]
		no_id = self.employee(None, department=department)
		other = self.employee(unique("R"))  # another department: not picked
		self.gateways[device]._add_user(
			frappe.db.get_value("Employee", team[0], "attendance_device_id"), {"FirstName": "X"}, "User", []
		)
		plan = rollouts.plan_enrolment(device, department=department)
		self.assertEqual((plan["pending"], plan["skipped_no_id"]), (3, 1))

		name = rollouts.enrol_employees(device, employees=[*team, no_id])
		queued = self.rollout(name)
		self.assertEqual(
			(queued.status, queued.total, queued.pending, queued.skipped_no_id), ("Queued", 4, 3, 1)
		)
		self.assertIn(department, frappe.get_all("Employee", {"name": team[1]}, pluck="department"))
		frappe.db.commit()  # nosemgrep: queued on commit
		job = get_job(rollouts.rollout_job_id(name))
		self.assertEqual(job.origin.split(":")[-1], commands.COMMAND_QUEUE, "never on the drain's queue")

		done = self.run_job(name)
		self.assertEqual(
			(done.status, done.done, done.already_there, done.failed, done.skipped_no_id, done.progress),
			("Completed", 2, 1, 0, 1, 100),
		)
		rows = self.rows(done)
		self.assertEqual(rows[no_id].status, "Skipped")
		self.assertEqual(rows[team[0]].status, "Already There")
		held = self.gateways[device].users
		for employee in team:
			self.assertIn(frappe.db.get_value("Employee", employee, "attendance_device_id"), held)
		self.assertNotIn(frappe.db.get_value("Employee", other, "attendance_device_id"), held)
		# One command per person, in the rows' order, each sent by the rollout (no job of its own).
		sent = frappe.get_all(
			commands.COMMAND, {"rollout": name}, ["employee", "name"], order_by="creation asc, name asc"
		)
		self.assertEqual([row.employee for row in sent], team)
		self.assertIsNone(get_job(commands.command_job_id(sent[0].name)))
		self.assertTrue(
			frappe.db.exists("Notification Log", {"document_type": rollouts.ROLLOUT, "document_name": name})
		)
		self.assertIn("2 added, 1 already there, 0 failed, 1 skipped", done.message)

	def test_the_list_keeps_out_who_left_and_other_companies_and_criteria_must_fit_the_device(self):
		device = self.device()
		self.serve()
		active = self.employee(unique("R"))
		left = self.employee(unique("R"), status="Left", relieving_date="2020-01-01")
		beta = self.employee(unique("R"), company=self.beta)
		name = rollouts.enrol_employees(device, employees=[active, left, beta])
		done = self.run_job(name)
		rows = self.rows(done)
		self.assertEqual(
			(rows[active].status, rows[left].status, rows[beta].status), ("Done", "Skipped", "Skipped")
		)
		self.assertIn("Not Active", rows[left].reason)
		self.assertIn(self.beta, rows[beta].reason)
		self.assertEqual((done.done, done.skipped_out_of_scope), (1, 2))

		with self.assertRaises(frappe.ValidationError) as refused:
			rollouts.enrol_employees(device, company=self.beta)
		self.assertEqual(refused.exception.http_status_code, 400)
		before = frappe.db.count(rollouts.ROLLOUT)
		with self.assertRaises(frappe.DoesNotExistError):
			rollouts.enrol_employees(device, employees=["no-such-employee"])
		self.assertEqual(frappe.db.count(rollouts.ROLLOUT), before, "nothing half-written")

	def test_user_exists_under_another_name_fails_that_row_only_and_retry_failed_sends_it_again(self):
		device = self.device()
		self.serve()
		clash, fine = unique("R"), unique("R")
		first = self.employee(clash, first_name="Meera", last_name="Iyer")
		second = self.employee(fine)
		self.user_updated(device, clash, [], first_name="Someone")
		done = self.run_job(rollouts.enrol_employees(device, employees=[first, second]))
		rows = self.rows(done)
		self.assertEqual((done.status, done.failed, done.done), ("Completed", 1, 1))
		self.assertIn("named Someone, not Meera Iyer", rows[first].reason)

		# HR deletes the stranger from the device; the failed row goes again.
		del self.gateways[device].users[clash]
		frappe.db.set_value(DEVICE_USER, {"device": device, "device_user_id": clash}, "full_name", "")
		self.assertEqual(rollouts.retry_failed(done.name), 1)
		again = self.run_job(done.name)
		self.assertEqual((again.status, again.failed, again.done), ("Completed", 0, 2))
		self.assertEqual(self.gateways[device].users[clash][c.FIRST_NAME], "Meera")

	def test_a_full_device_stops_the_run_with_that_message_and_resume_finishes_it(self):
		device = self.device(max_users=2)
		self.serve()
		team = [self.employee(unique("R")) for _ in range(4)]
		stopped = self.run_job(rollouts.enrol_employees(device, employees=team))
		self.assertEqual(
			(stopped.status, stopped.done, stopped.pending, stopped.failed), ("Stopped", 2, 2, 0)
		)
		self.assertIn("memory is full", stopped.message)
		self.assertEqual(len(self.gateways[device].users), 2)

		self.gateways[device].max_users = 10
		rollouts.resume(stopped.name)
		done = self.run_job(stopped.name)
		self.assertEqual((done.status, done.done, done.pending), ("Completed", 4, 0))

	def test_a_device_offline_midway_stops_the_run_and_resume_goes_on_from_there(self):
		device = self.device(OfflineAfter, limit=2)
		self.serve()
		team = [self.employee(unique("R")) for _ in range(4)]
		stopped = self.run_job(rollouts.enrol_employees(device, employees=team))
		self.assertEqual((stopped.status, stopped.done, stopped.pending), ("Stopped", 2, 2))
		self.assertIn("Resume", stopped.message)
		rows = self.rows(stopped)
		self.assertEqual(rows[team[2]].status, "Pending")

		self.gateways[device].always, self.gateways[device].limit = None, 100
		rollouts.resume(stopped.name)
		done = self.run_job(stopped.name)
		self.assertEqual((done.status, done.done), ("Completed", 4))
		self.assertEqual(len(self.gateways[device].users), 4)

	def test_a_worker_killed_midway_is_recovered_and_nothing_is_sent_twice(self):
		device = self.device()
		self.serve()
		team = [self.employee(unique("R")) for _ in range(3)]
		name = rollouts.enrol_employees(device, employees=team)
		frappe.db.commit()  # nosemgrep
		real, calls = commands.run_command, []

		def killed_after_the_second_answer(command, sleep=no_sleep):
			calls.append(command)
			real(command, sleep=sleep)
			if len(calls) == 2:
				raise SystemExit("worker killed")  # before the rollout recorded the row

		get_job(rollouts.rollout_job_id(name)).delete()  # this test plays the worker
		with patch.object(commands, "run_command", killed_after_the_second_answer):
			with self.assertRaises(SystemExit):
				rollouts.run_rollout(name)
		frappe.db.rollback()
		self.assertEqual(self.rollout(name).status, "Running")
		rollouts.recover_lost_rollouts()
		self.assertIsNone(get_job(rollouts.rollout_job_id(name, 1)), "not before it is stale")

		old = add_to_date(now_datetime(), minutes=-10)
		frappe.db.set_value(rollouts.ROLLOUT, name, "modified", old, update_modified=False)
		frappe.db.set_value(commands.COMMAND, {"rollout": name}, "modified", old, update_modified=False)
		frappe.db.commit()  # nosemgrep
		commands.recover_lost_commands()  # the outbox's recovery leaves a rollout's commands alone
		frappe.db.commit()  # nosemgrep
		self.assertTrue(all(not get_job(commands.command_job_id(n, 1)) for n in calls))
		rollouts.recover_lost_rollouts()
		frappe.db.commit()  # nosemgrep
		self.assertEqual(self.rollout(name).recoveries, 1)
		done = self.run_job(name)
		self.assertEqual((done.status, done.done), ("Completed", 3))
		self.assertEqual(frappe.db.count(commands.COMMAND, {"rollout": name}), 3, "no Add User sent twice")
		self.assertEqual(len(self.gateways[device].users), 3)
		self.assertTrue(
			frappe.db.exists(
				"Comment",
				{
					"reference_doctype": rollouts.ROLLOUT,
					"reference_name": name,
					"content": ("like", "%job was lost%"),
				},
			)
		)

	def test_the_job_yields_between_slices_so_punches_never_wait_for_a_whole_rollout(self):
		device = self.device()
		self.serve()
		team = [self.employee(unique("R")) for _ in range(3)]
		frappe.local.conf["cams_biometric_rollout_slice_seconds"] = 0  # one person per turn
		try:
			name = rollouts.enrol_employees(device, employees=team)
			frappe.db.commit()  # nosemgrep
			rollouts.run_rollout(get_job(rollouts.rollout_job_id(name)).kwargs["kwargs"]["name"])
			get_job(rollouts.rollout_job_id(name)).delete()  # played here
			frappe.db.rollback()
			first = self.rollout(name)
			self.assertEqual((first.status, first.done, first.job_turn), ("Running", 1, 1))
			following = get_job(rollouts.rollout_job_id(name, 1))
			self.assertEqual(following.origin.split(":")[-1], commands.COMMAND_QUEUE)
			done = self.run_job(name)
		finally:
			frappe.local.conf.pop("cams_biometric_rollout_slice_seconds", None)
		self.assertEqual((done.status, done.done, done.job_turn), ("Completed", 3, 2))
		self.assertEqual(self.turns, 2, "turns 1 and 2, one person each")

	def test_a_command_waits_while_another_to_the_same_device_is_being_sent(self):
		device = self.device()
		self.serve()
		employee = self.employee(unique("R"))
		name = commands.queue_command(device, "Add User", employee=employee)
		frappe.db.commit()  # nosemgrep
		drop_queued_job(commands.command_job_id(name))  # played here
		lock = "cams_device_" + hashlib.sha1(f"{frappe.local.site}|{device}".encode()).hexdigest()
		# Another worker is sending a command to the device: it holds the device's lock.
		other = Step(
			frappe.local.site,
			lambda: frappe.db.sql("select get_lock(%s, 0)", (lock,)),
			lambda: frappe.db.sql("select release_lock(%s)", (lock,)),
		)
		other.go()
		waits = []

		def other_finishes(seconds):
			waits.append(seconds)
			other.go()

		with patch.object(commands, "DEVICE_BUSY_WAIT_SECONDS", 0.2):
			self.assertEqual(commands.run_command(name, sleep=other_finishes), "Done")
		record = frappe.get_doc(commands.COMMAND, name)
		self.assertEqual((record.attempts, len(waits)), (2, 1), "waited once, then sent")
		self.assertEqual(len(self.gateways[device].calls), 1, "the device got it once, after the other")

	def test_one_rollout_at_a_time_per_device_and_stop(self):
		device = self.device()
		self.serve()
		team = [self.employee(unique("R")) for _ in range(2)]
		name = rollouts.enrol_employees(device, employees=team)
		with self.assertRaises(frappe.ValidationError):
			rollouts.enrol_employees(device, employees=team)
		rollouts.stop(name)
		stopped = self.run_job(name)
		self.assertEqual((stopped.status, stopped.pending), ("Stopped", 2), "a stopped rollout sends nothing")
		self.assertEqual(self.gateways[device].users, {})

		# Resumed: a new turn. The old turn's job, should it still run, sends nothing more.
		rollouts.resume(name)
		frappe.db.commit()  # nosemgrep
		self.assertEqual(rollouts.run_rollout(name, sleep=no_sleep, turn=0), "Queued")
		self.assertEqual(self.gateways[device].users, {})
		done = self.run_job(name)
		self.assertEqual((done.status, done.done, done.job_turn), ("Completed", 2, 1))

	def test_only_who_may_send_commands_to_the_device_starts_one(self):
		alpha_device, beta_device = self.device(), self.device(company=self.beta)
		self.serve()
		alpha_hr = hr_manager_of(self.alpha)
		beta_employee = self.employee(unique("R"), company=self.beta)
		response = http_as(
			alpha_hr,
			"POST",
			"/api/method/cams_biometric.rollouts.enrol_employees",
			json={"device": beta_device, "employees": [beta_employee]},
		)
		self.assertEqual(response.status_code, 403)
		response = http_as(
			alpha_hr,
			"POST",
			"/api/method/cams_biometric.rollouts.enrol_employees",
			json={"device": alpha_device, "employees": [beta_employee]},
		)
		self.assertEqual(response.status_code, 403, "an Employee they may not read")
		self.assertFalse(frappe.db.exists(rollouts.ROLLOUT, {"device": ("in", [alpha_device, beta_device])}))
		response = http_as(
			hr_manager(),
			"POST",
			"/api/method/cams_biometric.rollouts.enrol_employees",
			json={"device": "", "copy_templates": 1},
		)
		self.assertEqual(response.status_code, 400, response.get_data(as_text=True)[:500])

	# -- 2. replace a device ---------------------------------------------------------------------
	def test_a_replaced_device_hands_every_user_over_with_templates_access_and_window(self):
		old = self.device()
		new_stgid = unique("NEW")
		self.gateways[new_stgid] = Gateway(new_stgid, "n" * 24)
		self.serve()
		asha_id, bala_id, stranger_id = unique("A"), unique("B"), unique("S")
		asha = self.employee(asha_id, first_name="Asha")
		bala = self.employee(bala_id, first_name="Bala")
		self.user_updated(
			old, asha_id, [{"Type": "Fingerprint", "UserID": asha_id, "Data": FINGER, "Index": "0"}], "Asha"
		)
		self.user_updated(old, bala_id, [], "Bala")
		self.user_updated(old, stranger_id, [], "Visitor")
		# Bala is disabled there, with a window; as HR set them on the old device.
		for operation, params in (
			("Disable User", {}),
			("Update Access Time", {"start": "2026-01-01 00:00:00", "end": "2026-12-31 23:59:59"}),
		):
			command = commands.queue_command(old, operation, employee=bala, params=params)
			frappe.db.commit()  # nosemgrep
			run_queued_job(commands.command_job_id(command))

		name = rollouts.replace_device(old, new_stgid, auth_token="n" * 24)
		self.devices.append(new_stgid)
		queued = self.rollout(name)
		self.assertEqual(
			(queued.kind, queued.device, queued.old_device, queued.total),
			("Replace Device", new_stgid, old, 3),
		)
		self.assertEqual(
			frappe.db.get_value(DEVICE, new_stgid, ["company", "replaces", "enabled"]), (self.alpha, old, 1)
		)

		done = self.run_job(name)
		self.assertEqual((done.status, done.done, done.failed), ("Completed", 3, 0))
		users = self.gateways[new_stgid].users
		self.assertEqual([t["Data"] for t in users[asha_id][c.TEMPLATE]], [FINGER])
		self.assertEqual(users[bala_id][c.ACCESS], c.ACCESS_DISABLE)
		self.assertTrue(users[bala_id][c.ACCESS_TIME])
		self.assertEqual(users[stranger_id][c.FIRST_NAME], "Visitor")
		self.assertEqual(users[stranger_id][c.TEMPLATE], [], "no templates for an id no Employee has")
		retired = frappe.db.get_value(DEVICE, old, ["enabled", "replaced_by"], as_dict=True)
		self.assertEqual((retired.enabled, retired.replaced_by), (0, new_stgid))
		self.assertEqual(frappe.db.count(DEVICE_USER, {"device": old}), 3, "the old device's history stays")
		self.assertIn(asha, {row.employee for row in done.items})

		from cams_biometric.cams_biometric.report.device_health import device_health

		health = device_health.execute(frappe._dict(include_disabled=1))[1]
		swap = {row["device"]: (row.get("replaces"), row.get("replaced_by")) for row in health}
		self.assertEqual((swap[new_stgid], swap[old]), ((old, None), (None, new_stgid)))

	def test_a_replacement_with_a_failed_user_keeps_the_old_device_until_retried(self):
		old = self.device()
		new_stgid = unique("NEW")
		self.gateways[new_stgid] = Gateway(new_stgid, "n" * 24)
		self.serve()
		user_id = unique("A")
		self.employee(user_id, first_name="Asha")
		self.user_updated(old, user_id, [], "Asha")
		self.gateways[new_stgid]._add_user(user_id, {"FirstName": "Other"}, "User", [])
		name = rollouts.replace_device(old, new_stgid, auth_token="n" * 24)
		self.devices.append(new_stgid)
		frappe.db.commit()  # nosemgrep
		# The new device told us it holds someone else under that id.
		self.user_updated(new_stgid, user_id, [], "Other")
		done = self.run_job(name)
		self.assertEqual((done.status, done.failed), ("Completed", 1))
		self.assertEqual(frappe.db.get_value(DEVICE, old, "enabled"), 1)
		self.assertIn("stays enabled", done.message)

		with self.assertRaises(frappe.ValidationError):
			rollouts.replace_device(old, old)
		with self.assertRaises(frappe.ValidationError):
			rollouts.replace_device(old, unique("NEW"))  # a new device needs its token
