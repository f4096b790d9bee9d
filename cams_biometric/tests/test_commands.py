"""The outbox of device commands, against the simulator playing a stateful device."""

import frappe
from frappe.utils import add_to_date, now_datetime
from frappe.utils.background_jobs import get_job, get_queues_timeout

from cams_biometric import commands, device_users, gateway
from cams_biometric.constants import SETTINGS
from cams_biometric.protocol import client as cams
from cams_biometric.protocol import constants as c
from cams_biometric.protocol.simulator import Gateway, GatewayServer
from cams_biometric.tests.test_permissions import make_user
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


def no_sleep(seconds):
	pass


class TestDeviceCommands(CamsTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.endpoint_before = frappe.db.get_single_value(SETTINGS, "restful_endpoint")

	@classmethod
	def tearDownClass(cls):
		frappe.db.set_single_value(SETTINGS, "restful_endpoint", cls.endpoint_before)
		frappe.db.commit()  # nosemgrep
		super().tearDownClass()

	def setUp(self):
		super().setUp()
		# The simulator speaks http on loopback; a site may otherwise require https.
		frappe.local.conf["cams_biometric_allow_http_endpoint"] = 1
		self.stgid, self.token = make_device()
		self.gateway = Gateway(self.stgid, self.token)
		self.server = GatewayServer(self.gateway).start()
		frappe.db.set_single_value(SETTINGS, "restful_endpoint", self.server.url)
		self.user_id = unique("C")
		self.employee = make_employee(self.user_id, first_name="Meera", last_name="Iyer")

	def tearDown(self):
		frappe.set_user("Administrator")
		self.server.stop()
		frappe.db.delete(commands.COMMAND, {"device": self.stgid})
		cleanup([self.stgid], [self.employee])
		delete_employees([self.employee])

	def send(self, operation, **kwargs) -> str:
		name = commands.send_command(self.stgid, operation, **kwargs)
		frappe.db.commit()  # nosemgrep: the job is queued on commit
		run_queued_job(f"cams_biometric:command:{name}")
		return name

	def record(self, name):
		return frappe.get_doc(commands.COMMAND, name)

	def test_an_employee_is_added_and_adding_again_is_done_too(self):
		first = self.record(self.send("Add User", employee=self.employee))
		self.assertEqual((first.status, first.device_user_id, first.attempts), ("Done", self.user_id, 1))
		user = self.gateway.users[self.user_id]
		self.assertEqual((user[c.FIRST_NAME], user[c.LAST_NAME]), ("Meera", "Iyer"))

		again = self.record(self.send("Add User", employee=self.employee))
		self.assertEqual((again.status, again.status_code), ("Done", 8))
		self.assertIn("already", again.note)

	def test_user_exists_under_another_name_is_a_failure_that_says_so(self):
		self.gateway._add_user(self.user_id, {"FirstName": "Someone", "LastName": "Else"}, "User", [])
		# The device reported that user (a UserUpdated callback, applied as the endpoint does).
		device_users.apply_event(
			self.stgid, "User Updated", {"UserID": self.user_id, "FirstName": "Someone", "LastName": "Else"}
		)
		clash = self.record(self.send("Add User", employee=self.employee))
		self.assertEqual((clash.status, clash.status_code), ("Failed", 8))
		self.assertIn("named Someone Else, not Meera Iyer", clash.error)
		self.assertEqual(self.gateway.users[self.user_id][c.FIRST_NAME], "Someone")

	def test_access_follows_enable_and_disable_and_deleting_twice_is_done(self):
		self.send("Add User", device_user_id=self.user_id)
		self.assertEqual(self.record(self.send("Disable User", device_user_id=self.user_id)).status, "Done")
		self.assertEqual(self.gateway.users[self.user_id][c.ACCESS], c.ACCESS_DISABLE)
		self.send("Enable User", device_user_id=self.user_id)
		self.assertEqual(self.gateway.users[self.user_id][c.ACCESS], c.ACCESS_ENABLE)

		self.assertEqual(self.record(self.send("Delete User", device_user_id=self.user_id)).status, "Done")
		self.assertNotIn(self.user_id, self.gateway.users)
		gone = self.record(self.send("Delete User", device_user_id=self.user_id))
		self.assertEqual((gone.status, gone.status_code), ("Done", 9))

	def test_transient_failures_are_retried_with_the_same_operation_id(self):
		self.gateway.fail_next({"status": 5}, {"http": 503})
		name = commands.send_command(self.stgid, "Device Information")
		frappe.db.commit()  # nosemgrep
		self.assertEqual(commands.run_command(name, sleep=no_sleep), "Done")
		record = self.record(name)
		self.assertEqual((record.attempts, record.status_code), (3, 0))
		self.assertEqual({call["operation_id"] for call in self.gateway.calls}, {record.operation_id})
		self.assertIn("DeviceInformation", record.reply)
		self.assertNotIn(self.token, record.request + record.reply)
		self.assertIn(record.operation_id, record.request)

	def test_a_permanent_refusal_fails_with_advice(self):
		self.gateway.always = {"status": 7}
		name = commands.send_command(self.stgid, "Resend All Users")
		frappe.db.commit()  # nosemgrep
		self.assertEqual(commands.run_command(name, sleep=no_sleep), "Failed")
		record = self.record(name)
		self.assertEqual(
			(record.status_code, record.status_meaning, record.attempts), (7, "Invalid auth token", 1)
		)
		self.assertIn("AuthToken from the CAMS API Monitor", record.error)
		self.assertIsNone(commands.run_command(name), "a finished command is not sent again")

	def test_a_device_offline_through_every_retry_fails_saying_what_to_do(self):
		self.gateway.always = {"status": 5}
		name = commands.send_command(self.stgid, "Device Information")
		frappe.db.commit()  # nosemgrep
		self.assertEqual(commands.run_command(name, sleep=no_sleep), "Failed")
		record = self.record(name)
		self.assertEqual((record.attempts, record.status_code), (commands.MAX_RETRIES + 1, 5))
		self.assertIn("send the command again when the device is back", record.error)

	def test_bad_input_is_refused_before_anything_is_recorded(self):
		now = now_datetime()
		cases = {
			"no user": ("Delete User", {}),
			"unknown operation": ("Format Device", {}),
			"access window backwards": (
				"Update Access Time",
				{
					"device_user_id": self.user_id,
					"parameters": {"start": str(now), "end": str(add_to_date(now, hours=-1))},
				},
			),
		}
		for case, (operation, kwargs) in cases.items():
			with self.subTest(case), self.assertRaises(frappe.ValidationError):
				commands.send_command(self.stgid, operation, **kwargs)
		self.assertEqual(frappe.db.count(commands.COMMAND, {"device": self.stgid}), 0)

	def test_only_managers_send_commands(self):
		employee, hr_user, hr_manager = (
			make_user("Employee"),
			make_user("HR User", "Employee"),
			make_user("HR Manager", "Employee"),
		)
		for user in (employee, hr_user):
			frappe.set_user(user)
			with self.subTest(user=user), self.assertRaises(frappe.PermissionError):
				commands.send_command(self.stgid, "Device Information")
		frappe.set_user(hr_manager)
		self.assertTrue(commands.send_command(self.stgid, "Device Information"))

	# -- a command's job: bounded, out of the drain's way, recovered when lost -----------------
	def test_a_command_job_has_time_for_every_try_and_leaves_the_drains_queue_alone(self):
		name = commands.send_command(self.stgid, "Device Information")
		frappe.db.commit()  # nosemgrep: queued on commit
		job = get_job(commands.command_job_id(name))
		# Every try waits out the client's timeouts, with the back-off between tries.
		tries = gateway.MAX_RETRIES + 1
		back_off = sum(gateway.retry_base_seconds() * 2**i for i in range(gateway.MAX_RETRIES))
		longest = tries * sum(cams.DEFAULT_TIMEOUT) + back_off
		limit = job.timeout or get_queues_timeout()[job.origin]
		self.assertGreater(limit, longest, "RQ must not kill a command between its tries")
		self.assertNotEqual(job.origin, "short", "the punch drain's queue")
		drop_queued_job(job.id)

	def age(self, name, minutes):
		frappe.db.sql(
			"update `tabCAMS Device Command` set modified = %s where name = %s",
			(add_to_date(now_datetime(), minutes=-minutes), name),
		)
		frappe.db.commit()  # nosemgrep

	def comments(self, name):
		return frappe.get_all(
			"Comment",
			filters={"reference_doctype": commands.COMMAND, "reference_name": name},
			pluck="content",
		)

	def test_a_command_whose_job_was_lost_is_sent_again_with_the_same_operation_id(self):
		self.assertIn(
			"cams_biometric.commands.recover_lost_commands",
			frappe.get_hooks("scheduler_events")["cron"]["* * * * *"],
		)
		name = commands.send_command(self.stgid, "Device Information")
		frappe.db.commit()  # nosemgrep
		# Waiting for a free worker, however long: not lost.
		self.age(name, 30)
		commands.recover_lost_commands()
		self.assertEqual(self.record(name).recoveries, 0)

		# The worker died as it took the job: the command stays Queued with no job.
		drop_queued_job(commands.command_job_id(name))
		self.age(name, 6)
		commands.recover_lost_commands()
		record = self.record(name)
		self.assertEqual((record.status, record.recoveries), ("Queued", 1))
		self.assertTrue(any("job was lost" in text for text in self.comments(name)))
		run_queued_job(commands.command_job_id(name, 1))
		record = self.record(name)
		self.assertEqual((record.status, record.attempts), ("Done", 1))
		self.assertEqual({call["operation_id"] for call in self.gateway.calls}, {record.operation_id})

	def test_a_command_lost_again_and_again_fails_saying_what_to_do(self):
		name = commands.send_command(self.stgid, "Device Information")
		frappe.db.commit()  # nosemgrep
		drop_queued_job(commands.command_job_id(name))
		# Killed while it was sending: Sent, after some tries.
		frappe.db.set_value(commands.COMMAND, name, {"status": "Sent", "attempts": 3})
		for recovery in range(1, commands.MAX_RECOVERIES + 1):
			self.age(name, 6)
			commands.recover_lost_commands()
			self.assertEqual((self.record(name).status, self.record(name).recoveries), ("Sent", recovery))
			drop_queued_job(commands.command_job_id(name, recovery))
		self.age(name, 6)
		commands.recover_lost_commands()
		record = self.record(name)
		self.assertEqual(record.status, "Failed")
		self.assertIn("bench doctor", record.error)
		self.assertIn(
			"bench doctor",
			frappe.db.get_value("CAMS Biometric Device", self.stgid, "device_information_error"),
		)
