"""Devices managed from ERPNext, end to end: the Employee form's actions, an Employee leaving,
Device Information, Resend Users, the danger zone and Load Punchlog's resend fallback, each
against simulated devices whose callbacks come back through the real endpoint."""

import json
from datetime import datetime, timedelta, timezone

import frappe
from frappe.utils import add_days, get_datetime, get_system_timezone, getdate, now_datetime

from cams_biometric import (
	commands,
	device_information,
	device_users,
	employee_devices,
	load_resend,
	loads,
	processing,
)
from cams_biometric.constants import DEVICE, DEVICE_USER, SETTINGS
from cams_biometric.protocol import constants as c
from cams_biometric.protocol.logtime import format_logtime, wall_clock_at
from cams_biometric.protocol.simulator import Gateway, GatewayServer, generate_punches
from cams_biometric.tests.test_permissions import make_user
from cams_biometric.tests.utils import (
	CallbackRelay,
	CamsTestCase,
	cleanup,
	delete_employees,
	drop_queued_job,
	make_device,
	make_employee,
	post_callback,
	punch_body,
	raw_rows,
	run_queued_job,
	unique,
)

FINGERPRINT_DATA = "TUlDUk9GSU5HRVJQUklOVA" * 20
CARD_NUMBER = "4000123456"


def no_sleep(seconds):
	pass


class TestDeviceManagement(CamsTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.settings_before = frappe.db.get_value(
			SETTINGS,
			None,
			["restful_endpoint", "on_employee_leaving", "keep_biometric_templates"],
			as_dict=True,
		)
		cls.relay = CallbackRelay(frappe.local.site)

	@classmethod
	def tearDownClass(cls):
		cls.relay.stop()
		for field, value in cls.settings_before.items():
			frappe.db.set_single_value(SETTINGS, field, value)
		frappe.db.commit()  # nosemgrep
		super().tearDownClass()

	def setUp(self):
		super().setUp()
		frappe.local.conf["cams_biometric_allow_http_endpoint"] = 1
		self.branch = self.make_branch()
		self.devices, self.gateways = [], {}
		for _ in range(2):
			stgid, token = make_device(branch=self.branch)
			self.devices.append(stgid)
			self.gateways[stgid] = Gateway(stgid, token, callback_url=self.relay.url(stgid))
		first, *more = self.gateways.values()
		self.server = GatewayServer(first, more=tuple(more)).start()
		frappe.db.set_single_value(SETTINGS, "restful_endpoint", self.server.url)
		frappe.db.set_single_value(SETTINGS, "on_employee_leaving", employee_devices.DISABLE)
		frappe.db.set_single_value(SETTINGS, "keep_biometric_templates", 1)
		self.user_id = unique("M")
		self.employee = make_employee(self.user_id, first_name="Asha", last_name="Rao", branch=self.branch)

	def tearDown(self):
		frappe.set_user("Administrator")
		self.server.stop()
		for name in frappe.get_all(commands.COMMAND, {"device": ("in", self.devices)}, pluck="name"):
			drop_queued_job(f"cams_biometric:command:{name}")
		frappe.db.delete(commands.COMMAND, {"device": ("in", self.devices)})
		frappe.db.delete(loads.LOAD_REQUEST, {"device": ("in", self.devices)})
		cleanup(self.devices, [self.employee])
		delete_employees([self.employee])
		frappe.db.delete("Branch", {"name": self.branch})
		frappe.db.commit()  # nosemgrep

	# -- helpers -----------------------------------------------------------------------------
	def make_branch(self) -> str:
		return frappe.get_doc({"doctype": "Branch", "branch": unique("CAMS Branch ")}).insert().name

	def run_commands(self, names) -> list:
		"""Run queued commands as a worker would, then wait for the callbacks they caused."""
		frappe.db.commit()  # nosemgrep: the jobs are queued on commit
		for name in [names] if isinstance(names, str) else names:
			run_queued_job(f"cams_biometric:command:{name}")
		for gateway in self.gateways.values():
			self.assertTrue(gateway.wait_for_callbacks(), "the device's callbacks were answered")
			self.assertEqual(set(gateway.callback_outcomes) - {"200"}, set(), "every callback was taken")
		frappe.db.rollback()  # a new snapshot: what the callbacks committed
		return [
			frappe.get_doc(commands.COMMAND, name) for name in ([names] if isinstance(names, str) else names)
		]

	def commands_of(self, operation: str) -> list[str]:
		return frappe.get_all(
			commands.COMMAND,
			filters={"device": ("in", self.devices), "operation": operation, "status": "Queued"},
			pluck="name",
			order_by="creation",
		)

	def directory(self, device: str):
		return frappe.get_doc(DEVICE_USER, {"device": device, "device_user_id": self.user_id})

	def captured_on_first_device(self):
		"""The employee enrolled at the first device's reader: its UserUpdated callback."""
		first = self.devices[0]
		gateway = self.gateways[first]
		event = {
			"UserID": self.user_id,
			"FirstName": "Asha",
			"LastName": "Rao",
			"UserType": "User",
			"OperationTime": format_logtime(datetime.now(timezone.utc).replace(microsecond=0)),
			"Template": [
				{"Type": "Fingerprint", "UserID": self.user_id, "Data": FINGERPRINT_DATA, "Index": "0"},
				{"Type": "Card", "UserID": self.user_id, "Data": CARD_NUMBER},
			],
		}
		body = {
			"RealTime": {"OperationID": unique("op"), "AuthToken": gateway.auth_token, "UserUpdated": event}
		}
		self.assertEqual(post_callback(body, first).status_code, 200)
		gateway.users[self.user_id] = {
			**{k: event[k] for k in ("UserID", "FirstName", "LastName", "UserType")},
			c.TEMPLATE: event["Template"],
			c.ACCESS: c.ACCESS_ENABLE,
			c.ACCESS_TIME: None,
		}
		gateway.users_managed = True

	# -- enrol once, punch everywhere ----------------------------------------------------------
	def test_enrolling_copies_the_templates_captured_on_another_device(self):
		self.captured_on_first_device()
		second = self.devices[1]
		[command] = self.run_commands(employee_devices.enrol(self.employee, [second]))
		self.assertEqual(
			(command.status, command.operation, command.device_user_id), ("Done", "Add User", self.user_id)
		)

		held = self.gateways[second].users[self.user_id]
		self.assertEqual((held[c.FIRST_NAME], held[c.LAST_NAME]), ("Asha", "Rao"))
		self.assertEqual(
			sorted((t["Type"], t["Data"]) for t in held[c.TEMPLATE]),
			[("Card", CARD_NUMBER), ("Fingerprint", FINGERPRINT_DATA)],
		)
		# The device's UserUpdated came back through the endpoint and merged into the directory.
		row = self.directory(second)
		self.assertEqual((row.status, row.employee, row.access_enabled), ("Active", self.employee, 1))
		self.assertEqual(row.template_count, 2)
		self.assertIn("Fingerprint 0", row.templates_summary)
		# Templates never reach the command record, nor the event log.
		stored = command.parameters + command.request + (command.reply or "")
		self.assertNotIn(FINGERPRINT_DATA, stored)
		self.assertNotIn(CARD_NUMBER, stored)
		self.assertNotIn(self.gateways[second].auth_token, stored)
		events = frappe.get_all("CAMS Device Event", {"device": ("in", self.devices)}, pluck="raw_json")
		self.assertTrue(events)
		self.assertFalse([e for e in events if FINGERPRINT_DATA in e or CARD_NUMBER in e])

		shown = employee_devices.devices_of(self.employee)
		self.assertEqual({r.device for r in shown["rows"]}, set(self.devices))
		self.assertFalse([r for r in shown["rows"] if FINGERPRINT_DATA in json.dumps(r, default=str)])

	def test_without_kept_templates_enrolment_adds_the_user_alone(self):
		self.captured_on_first_device()
		frappe.db.set_single_value(SETTINGS, "keep_biometric_templates", 0)
		self.run_commands(employee_devices.enrol(self.employee, [self.devices[1]]))
		self.assertEqual(self.gateways[self.devices[1]].users[self.user_id][c.TEMPLATE], [])

	def test_remote_enrolment_brings_the_new_fingerprint_back(self):
		[command] = self.run_commands([employee_devices.remote_enrol(self.employee, self.devices[0])])
		self.assertEqual(command.status, "Done")
		row = self.directory(self.devices[0])
		self.assertEqual((row.template_count, row.employee), (1, self.employee))
		self.assertIn("Fingerprint 0", row.templates_summary)

	def test_access_and_the_access_window_follow_the_form(self):
		self.run_commands(employee_devices.enrol(self.employee, self.devices))
		self.run_commands(employee_devices.set_access(self.employee, 0))
		for device in self.devices:
			self.assertEqual(self.gateways[device].users[self.user_id][c.ACCESS], c.ACCESS_DISABLE)
			self.assertEqual(self.directory(device).access_enabled, 0)
		self.run_commands(employee_devices.set_access(self.employee, 1))
		self.assertEqual(self.directory(self.devices[0]).access_enabled, 1)

		start, end = "2026-12-01 08:00:00", "2026-12-31 20:00:00"
		self.run_commands(employee_devices.set_access_window(self.employee, start, end))
		window = self.gateways[self.devices[1]].users[self.user_id][c.ACCESS_TIME]
		# The device's wall clock: the site's time at the device's offset.
		self.assertEqual(len(window[c.ACCESS_START]), 19)
		self.assertEqual(str(self.directory(self.devices[1]).access_end), end)
		with self.assertRaises(frappe.ValidationError):
			employee_devices.set_access_window(self.employee, end, start)

		self.run_commands(employee_devices.remove(self.employee))
		for device in self.devices:
			self.assertNotIn(self.user_id, self.gateways[device].users)
			self.assertEqual(self.directory(device).status, "Deleted")

	def test_an_access_window_is_the_one_the_device_enforces_in_its_own_time(self):
		known, unknown = self.devices
		gateway = self.gateways[known]
		self.run_commands(employee_devices.enrol(self.employee, self.devices))
		# A punch states the device's offset (the simulator's clock is at +05:30).
		moment = datetime.now(timezone(gateway.utc_offset)).replace(microsecond=0)
		self.assertEqual(
			post_callback(punch_body(gateway.auth_token, self.user_id, moment), known).status_code, 200
		)
		self.assertEqual(frappe.db.get_value(DEVICE, known, "utc_offset"), "+05:30")
		self.assertIsNone(frappe.db.get_value(DEVICE, unknown, "utc_offset"))

		start, end = "2026-12-01 00:00:00", "2026-12-31 23:59:59"
		self.run_commands(employee_devices.set_access_window(self.employee, start, end))
		on_device = wall_clock_at(get_datetime(end), get_system_timezone(), gateway.utc_offset)
		self.assertEqual(
			gateway.users[self.user_id][c.ACCESS_TIME],
			{
				c.ACCESS_START: f"{wall_clock_at(get_datetime(start), get_system_timezone(), gateway.utc_offset)}",
				c.ACCESS_END: f"{on_device}",
			},
		)
		# The device lets the employee in until the last second of the window, not after.
		self.assertTrue(gateway.may_punch(self.user_id, on_device))
		self.assertFalse(gateway.may_punch(self.user_id, on_device + timedelta(seconds=1)))
		# A device that has sent no punch yet: taken to keep the site's time.
		self.assertEqual(
			self.gateways[unknown].users[self.user_id][c.ACCESS_TIME],
			{c.ACCESS_START: start, c.ACCESS_END: end},
		)
		# The directory shows the window as entered.
		self.assertEqual(str(self.directory(known).access_end), end)

		# The relieving date's window: the device's own time too.
		relieving = add_days(getdate(now_datetime()), 20)
		frappe.get_doc("Employee", self.employee).update({"relieving_date": relieving}).save()
		self.run_commands(self.commands_of("Update Access Time"))
		last_second = wall_clock_at(
			get_datetime(f"{relieving} 23:59:59"), get_system_timezone(), gateway.utc_offset
		)
		self.assertEqual(gateway.users[self.user_id][c.ACCESS_TIME][c.ACCESS_END], f"{last_second}")

	def test_devices_outside_the_employees_branch_are_refused(self):
		other_branch = self.make_branch()
		elsewhere, _ = make_device(branch=other_branch)
		try:
			with self.assertRaises(frappe.ValidationError):
				employee_devices.enrol(self.employee, [elsewhere])
			self.assertNotIn(elsewhere, employee_devices.devices_in_scope(frappe._dict(branch=self.branch)))
		finally:
			cleanup([elsewhere])
			frappe.db.delete("Branch", {"name": other_branch})

	def test_an_employee_without_an_attendance_device_id_is_told_what_to_set(self):
		nobody = make_employee(None, branch=self.branch)
		try:
			with self.assertRaises(frappe.ValidationError) as raised:
				employee_devices.enrol(nobody, self.devices)
			self.assertIn("Attendance Device ID", str(raised.exception))
			self.assertFalse(frappe.get_all(commands.COMMAND, {"employee": nobody}))
		finally:
			delete_employees([nobody])

	# -- the devices follow the Employee ------------------------------------------------------
	def set_status(self, status: str, **values):
		doc = frappe.get_doc("Employee", self.employee)
		doc.update({"status": status, **values})
		doc.save()

	def test_a_leaving_employee_is_disabled_on_every_device_and_enabled_on_return(self):
		self.run_commands(employee_devices.enrol(self.employee, self.devices))
		self.set_status("Left", relieving_date=getdate(now_datetime()))
		disabled = self.run_commands(self.commands_of("Disable User"))
		self.assertEqual(sorted(cmd.device for cmd in disabled), sorted(self.devices))
		for device in self.devices:
			self.assertEqual(self.gateways[device].users[self.user_id][c.ACCESS], c.ACCESS_DISABLE)

		self.set_status("Active", relieving_date=None)
		self.run_commands(self.commands_of("Enable User"))
		for device in self.devices:
			self.assertEqual(self.gateways[device].users[self.user_id][c.ACCESS], c.ACCESS_ENABLE)
			self.assertEqual(self.directory(device).access_enabled, 1)

	def test_with_the_delete_setting_a_leaver_is_deleted_and_added_back_with_templates(self):
		frappe.db.set_single_value(SETTINGS, "on_employee_leaving", employee_devices.DELETE)
		self.captured_on_first_device()
		self.run_commands(employee_devices.enrol(self.employee, [self.devices[1]]))
		self.set_status("Inactive")
		self.run_commands(self.commands_of("Delete User"))
		for device in self.devices:  # the erasure a worker runs once the deletions commit
			run_queued_job(device_users.erase_job_id(self.user_id, device))
		for device in self.devices:
			self.assertNotIn(self.user_id, self.gateways[device].users)
			row = self.directory(device)
			# Deleted on every device: the kept templates are erased with it.
			self.assertEqual((row.status, row.template_count), ("Deleted", 0))

		self.set_status("Active")
		self.run_commands(self.commands_of("Add User"))
		for device in self.devices:
			self.assertEqual(self.gateways[device].users[self.user_id][c.TEMPLATE], [])
			self.assertEqual(self.directory(device).status, "Active")

	def test_a_future_relieving_date_sets_the_access_window(self):
		self.run_commands(employee_devices.enrol(self.employee, self.devices))
		relieving = add_days(getdate(now_datetime()), 20)
		frappe.get_doc("Employee", self.employee).update({"relieving_date": relieving}).save()
		[first, second] = self.run_commands(self.commands_of("Update Access Time"))
		self.assertEqual(str(self.directory(first.device).access_end), f"{relieving} 23:59:59")
		self.assertEqual(json.loads(second.parameters)["end"], f"{relieving} 23:59:59")
		self.assertIsNotNone(self.gateways[second.device].users[self.user_id][c.ACCESS_TIME])

	def test_leaving_with_a_relieving_date_ahead_sets_the_window_instead_of_disabling(self):
		self.run_commands(employee_devices.enrol(self.employee, self.devices))
		relieving = add_days(getdate(now_datetime()), 5)
		self.set_status("Left", relieving_date=relieving)
		self.assertFalse(self.commands_of("Disable User"))
		windows = self.run_commands(self.commands_of("Update Access Time"))
		self.assertEqual(sorted(w.device for w in windows), sorted(self.devices))
		for device in self.devices:
			self.assertEqual(self.gateways[device].users[self.user_id][c.ACCESS], c.ACCESS_ENABLE)
			self.assertEqual(str(self.directory(device).access_end), f"{relieving} 23:59:59")

	def test_coming_back_with_the_relieving_date_cleared_lifts_the_window(self):
		self.run_commands(employee_devices.enrol(self.employee, self.devices))
		relieving = add_days(getdate(now_datetime()), 5)
		self.set_status("Left", relieving_date=relieving)
		self.run_commands(self.commands_of("Update Access Time"))
		day_after = get_datetime(f"{add_days(relieving, 1)} 09:00:00")
		self.assertFalse(self.gateways[self.devices[0]].may_punch(self.user_id, day_after))

		self.set_status("Active", relieving_date=None)
		self.run_commands(self.commands_of("Enable User") + self.commands_of("Update Access Time"))
		for device in self.devices:
			self.assertTrue(self.gateways[device].may_punch(self.user_id, day_after), device)
			self.assertEqual(str(self.directory(device).access_end), employee_devices.OPEN_END)

	def test_leaving_with_the_id_cleared_in_the_same_save_disables_the_id_the_devices_know(self):
		self.run_commands(employee_devices.enrol(self.employee, self.devices))
		self.set_status("Left", relieving_date=getdate(now_datetime()), attendance_device_id=None)
		disabled = self.run_commands(self.commands_of("Disable User"))
		self.assertEqual(sorted(cmd.device for cmd in disabled), sorted(self.devices))
		self.assertEqual({cmd.device_user_id for cmd in disabled}, {self.user_id})
		for device in self.devices:
			self.assertEqual(self.gateways[device].users[self.user_id][c.ACCESS], c.ACCESS_DISABLE)
			self.assertEqual(self.directory(device).access_enabled, 0)

	def test_the_directory_records_only_what_a_device_confirmed(self):
		# Never enrolled, then left: every device in scope answers "user not found".
		self.set_status("Left", relieving_date=getdate(now_datetime()))
		disabled = self.run_commands(self.commands_of("Disable User"))
		self.assertEqual([(cmd.status, cmd.status_code) for cmd in disabled], [("Done", 9)] * 2)
		self.assertIn("does not hold", disabled[0].note)
		self.assertFalse(frappe.get_all(DEVICE_USER, {"device_user_id": self.user_id}))
		self.assertEqual(employee_devices.devices_of(self.employee)["rows"], [])

		# Disabled on a device, then enrolled again: "user exists" proves the user is there,
		# not that their access is enabled.
		self.set_status("Active", relieving_date=None)
		queued = {"device": ("in", self.devices), "status": "Queued"}
		for name in frappe.get_all(commands.COMMAND, queued, pluck="name"):
			drop_queued_job(f"cams_biometric:command:{name}")
		frappe.db.delete(commands.COMMAND, queued)
		device = self.devices[0]
		self.run_commands(employee_devices.enrol(self.employee, [device]))
		self.run_commands(employee_devices.set_access(self.employee, 0, [device]))
		[again] = self.run_commands(employee_devices.enrol(self.employee, [device]))
		self.assertEqual((again.status, again.status_code), ("Done", 8))
		self.assertIn("use Enable", again.note)
		self.assertEqual(self.gateways[device].users[self.user_id][c.ACCESS], c.ACCESS_DISABLE)
		row = self.directory(device)
		self.assertEqual((row.status, row.access_enabled), ("Active", 0))

		# Deleted on the device behind the directory's back: "not found" marks the row Deleted.
		del self.gateways[device].users[self.user_id]
		[gone] = self.run_commands(employee_devices.set_access(self.employee, 0, [device]))
		self.assertEqual((gone.status, gone.status_code), ("Done", 9))
		self.assertEqual(self.directory(device).status, "Deleted")

	def test_the_do_nothing_setting_and_a_missing_endpoint_send_nothing(self):
		frappe.db.set_single_value(SETTINGS, "on_employee_leaving", employee_devices.NOTHING)
		self.set_status("Left", relieving_date=getdate(now_datetime()))
		self.set_status("Active", relieving_date=None)
		frappe.db.set_single_value(SETTINGS, "on_employee_leaving", employee_devices.DISABLE)
		frappe.db.set_single_value(SETTINGS, "restful_endpoint", None)
		self.set_status("Left", relieving_date=getdate(now_datetime()))
		self.assertFalse(frappe.get_all(commands.COMMAND, {"employee": self.employee}))

	# -- the device form ----------------------------------------------------------------------
	def test_device_information_fills_the_form_and_the_daily_job_asks_every_device(self):
		queued = device_information.refresh_all_devices()
		mine = [
			name for name in queued if frappe.db.get_value(commands.COMMAND, name, "device") in self.devices
		]
		self.assertEqual(len(mine), 2)
		others = [name for name in queued if name not in mine]
		for name in others:
			drop_queued_job(f"cams_biometric:command:{name}")
		frappe.db.delete(commands.COMMAND, {"name": ("in", others or ["-"])})
		self.run_commands(employee_devices.enrol(self.employee, [self.devices[0]]))
		self.run_commands(mine)
		device = frappe.get_doc(DEVICE, self.devices[0])
		self.assertEqual((device.device_model, device.registered_users), ("SIM-1", 1))
		self.assertEqual(device.maximum_users, 10000)
		self.assertIsNone(device.device_information_error)
		seen = get_datetime(device.gateway_last_connected)
		self.assertLess(abs(seen - now_datetime()), timedelta(minutes=2), "LastConnectedTime in site time")
		self.assertFalse(device_information.is_offline(device.gateway_last_connected))
		self.assertTrue(device_information.is_offline(add_days(now_datetime(), -2)))

		self.gateways[self.devices[0]].always = {"status": 7}
		name = commands.queue_command(self.devices[0], "Device Information")
		frappe.db.commit()  # nosemgrep
		commands.run_command(name, sleep=no_sleep)
		self.assertIn(
			"Invalid auth token", frappe.db.get_value(DEVICE, self.devices[0], "device_information_error")
		)

	def test_resend_users_rebuilds_the_directory(self):
		first = self.devices[0]
		gateway = self.gateways[first]
		gateway.users.clear()
		for user_id, name in ((self.user_id, "Asha"), (unique("R"), "Ravi")):
			gateway._add_user(user_id, {"FirstName": name}, "User", [])
		self.run_commands(commands.send_command(first, "Resend All Users"))
		rows = frappe.get_all(DEVICE_USER, {"device": first}, ["device_user_id", "source", "employee"])
		self.assertEqual(len(rows), 2)
		self.assertEqual({r.source for r in rows}, {"Resend"})
		self.assertEqual({r.employee for r in rows if r.device_user_id == self.user_id}, {self.employee})

	def test_the_danger_zone_is_for_system_managers_who_type_the_name(self):
		device = self.devices[0]
		self.run_commands(employee_devices.enrol(self.employee, [device]))
		with self.assertRaises(frappe.ValidationError):
			commands.send_command(device, "Delete All Users")
		with self.assertRaises(frappe.ValidationError):
			commands.erase_device_data(device, "Delete All Users", "not the name")
		hr_manager = make_user("HR Manager")
		frappe.set_user(hr_manager)
		with self.assertRaises(frappe.PermissionError):
			commands.erase_device_data(device, "Delete All Users", device)
		frappe.set_user("Administrator")
		self.assertFalse(self.commands_of("Delete All Users"))

		self.run_commands(commands.erase_device_data(device, "Delete All Users", device))
		self.assertEqual(self.gateways[device].users, {})
		self.assertEqual(self.directory(device).status, "Deleted")
		self.gateways[device].set_punches(generate_punches(users=2, days=1))
		self.run_commands(commands.erase_device_data(device, "Delete All Logs", f" {device} "))
		self.assertEqual(self.gateways[device].punches, [])
		[photos] = self.run_commands(commands.erase_device_data(device, "Delete Attendance Photos", device))
		self.assertEqual(photos.status, "Done")

	def test_hr_users_and_employees_can_send_nothing(self):
		for role in ("HR User", "Employee"):
			user = make_user(role)
			frappe.set_user(user)
			for call in (
				lambda: employee_devices.enrol(self.employee, self.devices),
				lambda: employee_devices.set_access(self.employee, 0),
				lambda: employee_devices.remove(self.employee),
				lambda: employee_devices.devices_of(self.employee),
				lambda: commands.send_command(self.devices[0], "Resend All Users"),
			):
				with self.assertRaises(frappe.PermissionError):
					call()
			frappe.set_user("Administrator")
		self.assertFalse(frappe.get_all(commands.COMMAND, {"device": ("in", self.devices)}))

	# -- Load Punchlog when LoadLog is switched off --------------------------------------------
	def test_statuscode_15_offers_a_resend_whose_punches_arrive_exactly_once(self):
		device = self.devices[0]
		gateway = self.gateways[device]
		rows = generate_punches(users=1, days=2, per_day=4, user_ids=[self.user_id])
		gateway.set_punches(rows)
		# One punch came by callback already: the resend must not double it.
		already = {
			"RealTime": {
				"OperationID": unique("op"),
				"AuthToken": gateway.auth_token,
				"PunchLog": {
					"Type": rows[0]["Type"],
					"InputType": "Fingerprint",
					"UserId": self.user_id,
					"LogTime": rows[0]["LogTime"],
				},
			}
		}
		self.assertEqual(post_callback(already, device).status_code, 200)
		gateway.loadlog_switched_off = True  # CAMS's default while a callback URL is set
		start = add_days(now_datetime(), -4)
		name = loads.start_load(device, str(start), str(now_datetime()))
		frappe.db.commit()  # nosemgrep
		drop_queued_job(loads.page_job_id(name, 0))
		self.assertFalse(loads.load_page(name, sleep=no_sleep))
		load = frappe.get_doc(loads.LOAD_REQUEST, name)
		self.assertEqual((load.status, load.loadlog_unavailable), ("Failed", 1))
		self.assertIn("Request Resend", load.error)

		command = load_resend.request_resend(name)
		with self.assertRaises(frappe.ValidationError):
			load_resend.request_resend(name)
		self.run_commands(command)
		load.reload()
		self.assertEqual(load.status, "Resend Requested")
		self.assertEqual(len(raw_rows(device)), len(rows), "every punch once")
		self.assertEqual(load_resend.punches_arrived(load), len(rows) - 1)
		processing.process_pending_punches(grace_seconds=0)  # the drain a worker would run
		frappe.db.commit()  # nosemgrep
		checkins = frappe.get_all("Employee Checkin", {"employee": self.employee})
		self.assertEqual(len(checkins), len(rows))
		load.run_method("onload")
		self.assertEqual(load.get_onload().resend_punches_arrived, len(rows) - 1)
