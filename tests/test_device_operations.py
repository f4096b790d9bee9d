"""Every RESTful operation, from the client to the stateful simulated device over loopback, with
the device's StatusCodes, and Resend / Enroll posting real callbacks to a local receiver."""

import json
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cams_biometric.protocol import aes
from cams_biometric.protocol import client as cams
from cams_biometric.protocol import constants as c
from cams_biometric.protocol.logtime import parse_logtime
from cams_biometric.protocol.payload import find_auth_token, load_json_body, read_callback, read_punch
from cams_biometric.protocol.simulator import Device, Gateway, GatewayServer, generate_punches
from cams_biometric.protocol.templates import TEMPLATES, apply_user_event

TOKEN = "t" * 32
NOW = datetime.now(timezone.utc).replace(microsecond=0)
SIX = {
	"Card": cams.Template("Card", "0099887766"),
	"Password": cams.Template("Password", "4321"),
	"Face": cams.Template("Face", "RkFDRS1kYXRh", index=0, size=12),
	"Fingerprint": cams.Template("Fingerprint", "RlAtZGF0YQ==", index=1, size=12),
	"Palm": cams.Template("Palm", "UEFMTS1kYXRh", index=0),
	"UserPhoto": cams.Template("UserPhoto", "/9j/4AAQSkZJRg=="),
}


@pytest.fixture
def receiver():
	"""A callback URL on loopback that answers like our site and keeps what it got."""
	received: list[bytes] = []

	class Handler(BaseHTTPRequestHandler):
		def log_message(self, *args):
			pass

		def do_POST(self):
			received.append(self.rfile.read(int(self.headers["Content-Length"])))
			self.send_response(200)
			self.end_headers()
			self.wfile.write(c.CALLBACK_DONE)

	server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
	threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
	yield f"http://127.0.0.1:{server.server_address[1]}/cb?stgid=STG1", received
	server.shutdown()
	server.server_close()


def serve(gateway: Gateway):
	server = GatewayServer(gateway).start()
	client = cams.CamsClient(
		server.url, gateway.service_tag_id, TOKEN, timeout=(2, 5), security_key=gateway.security_key
	)
	return server, client


@pytest.fixture
def device(receiver):
	url, _ = receiver
	gateway = Gateway("STG1", TOKEN, callback_url=url)
	server, client = serve(gateway)
	yield gateway, client
	server.stop()


def events(received: list[bytes], key: str | None = None) -> list[tuple[str, dict]]:
	out = []
	for body in received:
		real_time = load_json_body(body)["RealTime"]
		assert find_auth_token({"RealTime": real_time}) == TOKEN
		out.extend((k, v) for k, v in real_time.items() if k in c.EVENT_KEYS and (key is None or k == key))
	return out


# -- AddUser -------------------------------------------------------------------------------


def test_add_user_without_templates(device):
	gateway, client = device
	reply = client.add_user("100", "Ravi", "Kumar")
	assert reply["StatusCode"] == 0 and reply["Status"] == "done"
	user = gateway.users["100"]
	assert (user["FirstName"], user["LastName"], user["UserType"], user["Template"]) == (
		"Ravi",
		"Kumar",
		"User",
		[],
	)
	assert user["Access"] == "enable"
	assert client.load_device_information()["RegisteredUsers"] == "1"


@pytest.mark.parametrize(
	"types",
	[
		("Card",),
		("Password",),
		("Face",),
		("Fingerprint",),
		("Palm",),
		("UserPhoto",),
		("Card", "Password"),
		("Card", "Fingerprint"),
		("Palm", "Face"),
		("Card", "Fingerprint", "Face"),
		("Card", "Palm", "UserPhoto"),
		("Card", "Password", "Fingerprint", "Face"),
		("Card", "Password", "Palm", "UserPhoto"),
		("Card", "Password", "Face", "Fingerprint", "Palm", "UserPhoto"),
	],
)
def test_add_user_with_each_documented_template_combination(device, types):
	gateway, client = device
	client.add_user("7", "Asha", "Verma", "Administrator", templates=[SIX[t] for t in types])
	stored = gateway.users["7"]["Template"]
	assert [t["Type"] for t in stored] == list(types)
	for template in stored:
		wanted = SIX[template["Type"]]
		assert template["Data"] == wanted.data and template["UserID"] == "7"
		assert ("Index" in template) is (template["Type"] not in c.UNINDEXED_TEMPLATE_TYPES)


def test_templates_as_dicts_and_the_documented_request_shape(payload):
	sample = payload("rest-add-user-card-password-request.json")
	command = cams.add_user_command(
		"100",
		"Ravi",
		"Kumar",
		templates=[{"Type": "Card", "Data": "0099887766"}, {"Type": "Password", "Data": "4321"}],
	)
	assert command == {"Add": sample["Add"]}
	assert cams.user_access_command("1", enable=False) == {
		"Update": payload("rest-disable-user-request.json")["Update"]
	}
	resend = payload("rest-resend-attendance-request.json")["Resend"]
	start = parse_logtime(resend["PunchLog"]["Filter"]["StartTime"])
	end = parse_logtime(resend["PunchLog"]["Filter"]["EndTime"])
	assert cams.resend_attendance_command(start, end) == {"Resend": resend}
	fingerprint = cams.template_object(cams.Template("Fingerprint", "AAAA"), "5")
	assert fingerprint == {"Type": "Fingerprint", "UserID": "5", "Data": "AAAA", "Index": "0"}


def test_user_exists_is_status_8(device):
	gateway, client = device
	client.add_user("100", "Ravi", "Kumar", templates=[SIX["Card"]])
	with pytest.raises(cams.UserExists) as raised:
		client.add_user("100", "Someone", "Else", templates=[SIX["Password"]])
	assert raised.value.status_code == 8 and not raised.value.transient
	assert raised.value.operation_id
	assert cams.ADVICE[cams.UserExists]
	assert gateway.users["100"]["FirstName"] == "Ravi"  # unchanged


def test_template_error_is_status_10():
	# A model without a palm reader refuses palm templates.
	gateway = Gateway("STG1", TOKEN, template_types=("Card", "Password", "Fingerprint", "Face"))
	server, client = serve(gateway)
	try:
		with pytest.raises(cams.TemplateError) as raised:
			client.add_user("5", "A", "B", templates=[SIX["Card"], SIX["Palm"]])
		assert raised.value.status_code == 10
		assert "5" not in gateway.users  # nothing half-added
		client.add_user("5", "A", "B", templates=[SIX["Card"]])
		# Templates for a user the device has (Add without User), refused the same way.
		bad = {"Add": {"Template": [{"Type": "Iris", "UserID": "5", "Data": "x"}]}}
		with pytest.raises(cams.TemplateError):
			client.call(bad)
		photo = {"Add": {"Template": [{"Type": "Face", "UserID": "5", "Data": "eA==", "Index": "0"}]}}
		client.call(photo)
		assert [t["Type"] for t in gateway.users["5"]["Template"]] == ["Card", "Face"]
		with pytest.raises(cams.UserNotFound):
			client.call(
				{"Add": {"Template": [{"Type": "Face", "UserID": "6", "Data": "eA==", "Index": "0"}]}}
			)
	finally:
		server.stop()


def test_unknown_template_types_are_refused_by_the_device_too():
	gateway = Gateway("STG1", TOKEN)
	for template in (
		{"Type": "Tattoo", "UserID": "1", "Data": "x"},
		{"Type": "Card", "UserID": "1", "Data": ""},
		{"Type": "Card", "UserID": "2", "Data": "x"},  # another user's template
		"Card",
	):
		body = {"Add": {"User": {"UserID": "1"}, "Template": [template]}, "AuthToken": TOKEN}
		_, reply, _ = gateway.handle("STG1", json.dumps(body).encode())
		assert json.loads(reply)["StatusCode"] == 10
	two_cards = [{"Type": "Card", "UserID": "1", "Data": "1"}, {"Type": "Card", "UserID": "1", "Data": "2"}]
	body = {"Add": {"User": {"UserID": "1"}, "Template": two_cards}, "AuthToken": TOKEN}
	assert json.loads(gateway.handle("STG1", json.dumps(body).encode())[1])["StatusCode"] == 10
	body = {"Add": {"User": {"FirstName": "no id"}}, "AuthToken": TOKEN}
	assert json.loads(gateway.handle("STG1", json.dumps(body).encode())[1])["StatusCode"] == 1
	assert gateway.users == {}


def test_memory_full_is_status_11():
	gateway = Gateway("STG1", TOKEN, max_users=2, max_templates=3)
	server, client = serve(gateway)
	try:
		client.add_user("1", templates=[SIX["Card"], SIX["Face"]])
		with pytest.raises(cams.DeviceMemoryFull) as raised:
			client.add_user("2", templates=[SIX["Card"], SIX["Fingerprint"]])  # 4 templates > 3
		assert raised.value.status_code == 11
		client.add_user("2", templates=[SIX["Card"]])
		with pytest.raises(cams.DeviceMemoryFull):
			client.add_user("3")  # 3 users > 2
		with pytest.raises(cams.DeviceMemoryFull):
			client.enroll_fingerprint("1")  # a 4th template
		client.delete_user("2")
		client.add_user("3")
		assert sorted(gateway.users) == ["1", "3"]
	finally:
		server.stop()


# -- Delete ----------------------------------------------------------------------------------


def test_delete_user_and_user_not_found(device):
	gateway, client = device
	client.add_user("1")
	client.add_user("2")
	client.delete_user("1")
	assert list(gateway.users) == ["2"]
	with pytest.raises(cams.UserNotFound) as raised:
		client.delete_user("1")
	assert raised.value.status_code == 9 and not raised.value.transient


def test_delete_all_users_logs_and_photos(device):
	gateway, client = device
	rows = generate_punches(users=3, days=2, per_day=2, end=NOW)
	gateway.set_punches(rows)
	gateway.add_photo("1000", rows[0]["LogTime"], "/9j/4AAQ")
	client.add_user("1")
	client.add_user("2")
	client.delete_all_users()
	assert gateway.users == {}
	assert client.load_device_information()["RegisteredUsers"] == "0"
	assert len(client.load_log_page(NOW - timedelta(days=5), NOW).rows) == 12
	client.delete_all_logs()
	assert client.load_log_page(NOW - timedelta(days=5), NOW).rows == []
	client.delete_attendance_photos()
	assert gateway.photos == []
	assert [call["command"] for call in gateway.calls].count(["Delete"]) == 3


# -- Update ----------------------------------------------------------------------------------


def test_enable_disable_and_access_time(device):
	gateway, client = device
	client.add_user("1")
	client.disable_user("1")
	assert gateway.users["1"]["Access"] == "disable"
	assert not gateway.may_punch("1", datetime(2024, 7, 11, 12))
	client.enable_user("1")
	assert gateway.users["1"]["Access"] == "enable"
	client.update_access_time("1", datetime(2022, 7, 11), datetime(2022, 7, 11, 23, 59, 59))
	assert gateway.users["1"]["AccessTime"] == {"Start": "2022-07-11 00:00:00", "End": "2022-07-11 23:59:59"}
	assert gateway.may_punch("1", datetime(2022, 7, 11, 12))
	assert not gateway.may_punch("1", datetime(2022, 7, 12, 0, 0, 1))
	for call in (client.enable_user, client.disable_user):
		with pytest.raises(cams.UserNotFound):
			call("404")
	with pytest.raises(cams.UserNotFound):
		client.update_access_time("404", datetime(2022, 7, 11), datetime(2022, 7, 12))


def test_access_time_is_the_devices_wall_clock():
	ist = timedelta(hours=5, minutes=30)
	start = datetime(2022, 7, 10, 18, 30, tzinfo=timezone.utc)  # midnight in India
	command = cams.update_access_time_command(
		"20", start, start + timedelta(hours=24) - timedelta(seconds=1), ist
	)
	assert command == {
		"Update": {
			"AccessTime": {"UserID": "20", "Start": "2022-07-11 00:00:00", "End": "2022-07-11 23:59:59"}
		}
	}
	with pytest.raises(ValueError):
		cams.update_access_time_command("20", start, start, ist)


def test_malformed_requests_are_status_1(device):
	_, client = device
	client.add_user("1")
	for command in (
		{"Update": {"AccessTime": {"UserID": "1", "Start": "yesterday", "End": "today"}}},
		{"Update": {"User": {"UserID": "1", "Access": "maybe"}}},
		{"Delete": {"Log": "Some"}},
		{"Resend": {"PunchLog": {"Filter": {"StartTime": "x"}}}},
		{"Enroll": {"User": {}}},
	):
		with pytest.raises(cams.InvalidRequest):
			client.call(command)


# -- Resend and Enroll: real callbacks ---------------------------------------------------------


def test_resend_attendance_posts_the_ranges_punches(device, receiver):
	gateway, client = device
	_, received = receiver
	rows = generate_punches(users=4, days=3, per_day=2, end=NOW)  # 24, oldest first
	gateway.set_punches(rows)
	start, end = parse_logtime(rows[5]["LogTime"]), parse_logtime(rows[16]["LogTime"])
	assert client.resend_attendance(start, end)["StatusCode"] == 0
	assert gateway.wait_for_callbacks()
	punches = [read_punch(event) for _, event in events(received, "PunchLog")]
	assert [(p.user_id, p.moment) for p in punches] == [
		(row["UserID"], parse_logtime(row["LogTime"])) for row in rows[5:17]
	]
	assert gateway.callback_outcomes == ["200"] * 12
	callback = read_callback(load_json_body(received[0]))
	assert callback.event_type == "Punch Log" and callback.serial_number == "SIM-SERIAL"


def test_resend_all_users_posts_user_updated_callbacks_that_merge_back(device, receiver):
	gateway, client = device
	_, received = receiver
	client.add_user("1", "Ann", "One", templates=[SIX["Card"], SIX["Fingerprint"]])
	client.add_user("2", "Bob", "Two")
	client.enroll_fingerprint("2", "Bob", "Two")
	client.enroll_fingerprint("2")
	assert gateway.wait_for_callbacks()
	# Each addition posts the new user; each enrollment its new template only; in order, as a
	# device sends them.
	posted = [(event["UserID"], [t["Type"] for t in event["Template"]]) for _, event in events(received)]
	assert posted == [
		("1", ["Card", "Fingerprint"]),
		("2", []),
		("2", ["Fingerprint"]),
		("2", ["Fingerprint"]),
	]
	enrolled = events(received, "UserUpdated")[2:]
	assert [[t["Index"] for t in event["Template"]] for _, event in enrolled] == [["0"], ["1"]]
	received.clear()
	client.resend_all_users()
	assert gateway.wait_for_callbacks()
	states = {}
	for key, event in events(received):
		assert key == "UserUpdated"
		states[event["UserID"]] = apply_user_event(states.get(event["UserID"]), key, event)
	assert sorted(states) == ["1", "2"]
	for user_id, state in states.items():
		assert state[TEMPLATES] == gateway.users[user_id]["Template"]
	assert states["1"]["FirstName"] == "Ann"
	assert [t["Type"] for t in states["2"][TEMPLATES]] == ["Fingerprint", "Fingerprint"]


def test_add_and_delete_user_post_the_change_as_the_device_reports_it(device, receiver):
	gateway, client = device
	_, received = receiver
	client.add_user("5", "Eve", "Five", templates=[SIX["Card"]])
	client.delete_user("5")
	assert gateway.wait_for_callbacks()
	(updated_key, updated), (deleted_key, deleted) = events(received)
	assert updated_key == "UserUpdated" and updated["FirstName"] == "Eve"
	assert [t["Type"] for t in updated["Template"]] == ["Card"]
	assert deleted_key == "UserDeleted" and deleted["UserID"] == "5" and "OperationTime" in deleted


def test_enroll_fingerprint_adds_a_user_the_device_lacks(device, receiver):
	gateway, client = device
	_, received = receiver
	client.enroll_fingerprint("3", "Cy", "Three")
	assert gateway.wait_for_callbacks()
	((key, event),) = events(received)
	assert key == "UserUpdated" and event["UserID"] == "3" and event["FirstName"] == "Cy"
	assert event["Template"][0]["Type"] == "Fingerprint"
	assert gateway.users["3"]["Template"] == event["Template"]
	with pytest.raises(cams.TemplateError):
		client.call({"Enroll": {"User": {"UserID": "3", "Type": "Face"}}})


def test_callbacks_are_encrypted_with_the_devices_key(receiver):
	url, received = receiver
	gateway = Gateway("STG1", TOKEN, generate_punches(2, 1, 2, end=NOW), security_key="k3y", callback_url=url)
	server, client = serve(gateway)
	try:
		client.resend_attendance(NOW - timedelta(days=2), NOW)
		assert gateway.wait_for_callbacks()
		assert len(received) == 4
		doc, _ = aes.decrypt(received[0], "k3y")
		assert find_auth_token(doc) == TOKEN and "PunchLog" in doc["RealTime"]
	finally:
		server.stop()


def test_without_a_callback_url_resend_posts_nothing():
	gateway = Gateway("STG1", TOKEN, generate_punches(2, 1, 2, end=NOW))
	server, client = serve(gateway)
	try:
		assert client.resend_attendance(NOW - timedelta(days=2), NOW)["StatusCode"] == 0
		assert gateway.wait_for_callbacks() and gateway.callback_outcomes == []
	finally:
		server.stop()


# -- what the client refuses before sending, and secrets -------------------------------------------


def test_client_side_validation_names_no_secret(device):
	gateway, client = device
	with pytest.raises(ValueError) as raised:
		client.add_user("1", templates=[cams.Template("Tattoo", "SECRET-DATA")])
	assert "Tattoo" in str(raised.value) and "SECRET-DATA" not in str(raised.value)
	with pytest.raises(ValueError) as raised:
		client.add_user("1", templates=[{"Type": "S3CRET" * 10, "Data": "SECRET-DATA"}])
	assert "SECRET" not in str(raised.value) and "S3CRET" not in str(raised.value)
	for bad in (
		dict(user_id=""),
		dict(user_id="1", user_type="Root"),
		dict(user_id="1", templates=[SIX["Card"], cams.Template("Card", "2")]),
		dict(user_id="1", templates=[cams.Template("Face", "x", index="left")]),
		dict(user_id="1", templates=[cams.Template("Card", "")]),
		dict(user_id="x" * 65),
	):
		with pytest.raises(ValueError):
			client.add_user(**bad)
	with pytest.raises(ValueError):
		client.resend_attendance(NOW, NOW - timedelta(days=1))
	assert gateway.calls == []  # nothing was sent


def test_secrets_stay_out_of_reprs_and_errors(device):
	_, client = device
	template = cams.Template("Password", "4321")
	assert "4321" not in repr(template)
	assert TOKEN not in repr(client) and "STG1" in repr(client)
	client.add_user("1", templates=[template])
	with pytest.raises(cams.UserExists) as raised:
		client.add_user("1", templates=[template])
	for text in (str(raised.value), repr(raised.value)):
		assert TOKEN not in text and "4321" not in text


@pytest.mark.parametrize(
	"code, error",
	[(8, cams.UserExists), (9, cams.UserNotFound), (10, cams.TemplateError), (11, cams.DeviceMemoryFull)],
)
def test_status_codes_map_to_typed_errors(code, error):
	raised = cams.error_for_status(code, "op1")
	assert type(raised) is error and raised.status_code == code and not raised.transient
	assert c.STATUS_CODES[code] in str(raised) and error in cams.ADVICE


def test_a_log_only_device_counts_its_punchers():
	device = Device(generate_punches(3, 1, 2, end=NOW))
	assert device.device_information()["RegisteredUsers"] == "3"


def test_command_line_serve_configures_the_device(served_gateways, capsys):
	from cams_biometric.protocol import simulator

	served = served_gateways
	argv = [
		"serve",
		"--users",
		"1",
		"--days",
		"1",
		"--callback-url",
		"http://127.0.0.1:9/cb",
		"--max-users",
		"5",
	]
	assert simulator.main(argv) == 0
	assert served[0].callback_url == "http://127.0.0.1:9/cb" and served[0].max_users == 5
	assert "Resend and Enroll post their callbacks to http://127.0.0.1:9/cb" in capsys.readouterr().out


def test_with_loadlog_switched_off_loadlog_answers_15_and_resend_still_works(device, receiver):
	gateway, client = device
	_, received = receiver
	rows = generate_punches(users=2, days=1, per_day=2, end=NOW)
	gateway.set_punches(rows)
	gateway.loadlog_switched_off = True
	start, end = parse_logtime(rows[0]["LogTime"]), parse_logtime(rows[-1]["LogTime"])
	with pytest.raises(cams.FeatureNotSupported):
		client.load_log_page(start, end, 0)
	assert client.resend_attendance(start, end)["StatusCode"] == 0
	assert gateway.wait_for_callbacks()
	assert len(events(received, "PunchLog")) == len(rows)
