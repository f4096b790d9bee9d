import json
from datetime import datetime, timezone

import pytest

from cams_biometric.protocol import constants as c
from cams_biometric.protocol.payload import (
	PayloadError,
	PunchError,
	find_auth_token,
	invalid_punch_key,
	load_json_body,
	looks_like_json,
	punch_key,
	read_callback,
	read_punch,
	redact,
	strip_biometrics,
)

TOKEN = "k3wgUszWcH4EjXM7sUWI38yJPkXhmvao"


@pytest.mark.parametrize(
	"name, event_type",
	[
		("callback-punch.json", "Punch Log"),
		("callback-punch-break.json", "Punch Log"),
		("callback-punch-negative-offset.json", "Punch Log"),
		("callback-attendance-photo.json", "Attendance Photo"),
		("callback-user-updated.json", "User Updated"),
		("callback-user-deleted.json", "User Deleted"),
		("callback-date-modified.json", "Date Modified"),
	],
)
def test_every_callback_sample_is_recognised(payload, name, event_type):
	doc = payload(name)
	assert find_auth_token(doc) == TOKEN
	event = read_callback(doc)
	assert event.event_type == event_type
	assert event.operation_id == doc["RealTime"]["OperationID"]
	assert event.serial_number == doc["RealTime"].get("SerialNumber")
	assert isinstance(event.data, dict)


def test_punch_sample(payload):
	event = read_callback(payload("callback-punch.json"))
	punch = read_punch(event.data)
	assert punch.user_id == "2"
	assert punch.punch_type == "CheckIn"
	assert punch.input_type == "Fingerprint"
	assert punch.temperature == 36.8
	assert punch.face_mask is False
	assert punch.log_time == "2024-09-17 07:48:22 GMT +0300"
	assert punch.moment.astimezone(timezone.utc) == datetime(2024, 9, 17, 4, 48, 22, tzinfo=timezone.utc)
	assert event.label_name == "Head Office"


def test_negative_offset_sample(payload):
	punch = read_punch(read_callback(payload("callback-punch-negative-offset.json")).data)
	assert (punch.user_id, punch.punch_type, punch.input_type) == ("1042", "CheckOut", "Face")
	assert punch.moment.astimezone(timezone.utc) == datetime(2024, 3, 10, 21, 32, 9, tzinfo=timezone.utc)
	assert punch.temperature is None and punch.face_mask is None


def test_loadlog_rows_use_userid_and_numeric_temperature(payload):
	rows = payload("rest-loadlog-reply.json")["PunchLog"]["Log"]
	punches = [read_punch(row) for row in rows]
	assert [p.user_id for p in punches] == ["2", "1"]
	assert punches[0].temperature == 36.8
	assert punches[1].punch_type == "CheckOut"


def test_photo_and_user_events_carry_userid(payload):
	assert read_callback(payload("callback-attendance-photo.json")).data["UserID"] == "3"
	updated = read_callback(payload("callback-user-updated.json"))
	assert [t["Type"] for t in updated.data["Template"]] == ["Fingerprint", "Card"]


def test_command_replies_and_unknown_bodies_are_kept():
	reply = {"Status": "done", "StatusCode": 0, "OperationID": "op1234567890", "AuthToken": TOKEN}
	assert read_callback(reply).event_type == c.EVENT_COMMAND_REPLY
	assert find_auth_token(reply) == TOKEN
	nested = {"RealTime": {"AuthToken": TOKEN, "OperationID": "x", "AddUser": {"StatusCode": 0}}}
	assert read_callback(nested).event_type == c.EVENT_COMMAND_REPLY
	assert read_callback({"RealTime": {"AuthToken": TOKEN}}).event_type == c.EVENT_UNKNOWN
	assert read_callback({"hello": 1}).event_type == c.EVENT_UNKNOWN


@pytest.mark.parametrize(
	"doc, token",
	[
		({"RealTime": {"AuthToken": TOKEN}}, TOKEN),
		({"AuthToken": TOKEN}, TOKEN),
		({"RealTime": {"AuthToken": ""}}, None),
		({"RealTime": {"AuthToken": 12345}}, None),
		({"RealTime": {"AuthToken": [TOKEN]}}, None),
		({"RealTime": "x"}, None),
		({}, None),
	],
)
def test_find_auth_token(doc, token):
	assert find_auth_token(doc) == token


def test_alternate_spellings():
	punch = read_punch(
		{"UserID": 7, "LogTime": "2024-01-01 08:00:00 GMT +0000", "Type": "checkin", "InputeType": "Card"}
	)
	assert (punch.user_id, punch.punch_type, punch.input_type) == ("7", "CheckIn", "Card")
	assert (
		read_punch({"UserId": " 7 ", "LogTime": "2024-01-01 08:00:00 GMT +0000", "Type": "Lunch"}).punch_type
		== "Lunch"
	)


@pytest.mark.parametrize(
	"row, message",
	[
		("not a dict", "not a JSON object"),
		({"LogTime": "2024-01-01 08:00:00 GMT +0000", "Type": "CheckIn"}, "no usable UserId"),
		({"UserId": "", "LogTime": "2024-01-01 08:00:00 GMT +0000", "Type": "CheckIn"}, "empty UserId"),
		({"UserId": True, "LogTime": "2024-01-01 08:00:00 GMT +0000", "Type": "CheckIn"}, "no usable UserId"),
		(
			{"UserId": {"a": 1}, "LogTime": "2024-01-01 08:00:00 GMT +0000", "Type": "CheckIn"},
			"no usable UserId",
		),
		({"UserId": "x" * 65, "LogTime": "2024-01-01 08:00:00 GMT +0000", "Type": "CheckIn"}, "longer than"),
		(
			{"UserId": "a|b", "LogTime": "2024-01-01 08:00:00 GMT +0000", "Type": "CheckIn"},
			"control characters",
		),
		({"UserId": "1", "Type": "CheckIn"}, "no LogTime"),
		({"UserId": "1", "LogTime": "yesterday", "Type": "CheckIn"}, "not in the form"),
		({"UserId": "1", "LogTime": 1726548502, "Type": "CheckIn"}, "must be a string"),
		({"UserId": "1", "LogTime": "2024-01-01 08:00:00 GMT +0000"}, "no Type"),
		({"UserId": "1", "LogTime": "2024-01-01 08:00:00 GMT +0000", "Type": "x" * 41}, "not a punch type"),
	],
)
def test_bad_punches_say_why(row, message):
	with pytest.raises(PunchError, match=message):
		read_punch(row)


@pytest.mark.parametrize(
	"value, expected",
	[("36.8", 36.8), (36.8, 36.8), ("hot", None), ("nan", None), (True, None), (1e9, None), (None, None)],
)
def test_temperature_is_lenient(value, expected):
	row = {"UserId": "1", "LogTime": "2024-01-01 08:00:00 GMT +0000", "Type": "CheckIn", "Temperature": value}
	assert read_punch(row).temperature == expected


@pytest.mark.parametrize(
	"body, message",
	[
		(b"", "empty"),
		(b"   ", "empty"),
		(b"\xff\xfe\x00garbage", "not UTF-8"),
		(b'{"RealTime": ', "not valid JSON"),
		(b"[1, 2]", "must be an object"),
		(b'"text"', "must be an object"),
		(b"[" * 100000 + b"]" * 100000, "nested too deeply|not valid JSON"),
	],
)
def test_unreadable_bodies(body, message):
	with pytest.raises(PayloadError, match=message):
		load_json_body(body)


def test_bom_and_json_detection(payload):
	raw = json.dumps(payload("callback-punch.json")).encode()
	assert load_json_body(b"\xef\xbb\xbf" + raw)["RealTime"]["PunchLog"]["UserId"] == "2"
	assert looks_like_json(b"  \n" + raw)
	assert not looks_like_json(b"U2FsdGVkX1+abc=")


def test_punch_key_names_the_instant_not_the_wall_clock():
	a = read_punch({"UserId": "2", "LogTime": "2024-09-17 07:48:22 GMT +0300", "Type": "CheckIn"})
	b = read_punch({"UserID": "2", "LogTime": "2024-09-17 10:18:22 GMT +05:30", "Type": "CheckOut"})
	assert punch_key("STG1", a.user_id, a.moment) == punch_key("STG1", b.user_id, b.moment)
	assert punch_key("STG1", "2", a.moment) == "STG1|2|2024-09-17T04:48:22Z"
	assert punch_key("STG2", "2", a.moment) != punch_key("STG1", "2", a.moment)
	assert len(punch_key("S" * c.MAX_SERVICE_TAG_LENGTH, "u" * c.MAX_USER_ID_LENGTH, a.moment)) <= 140


def test_invalid_punch_key_is_stable_and_bounded():
	row = {"UserId": "2", "LogTime": "garbage", "Type": "CheckIn"}
	assert invalid_punch_key("STG1", row) == invalid_punch_key("STG1", dict(reversed(row.items())))
	assert invalid_punch_key("STG1", row) != invalid_punch_key("STG1", {**row, "UserId": "3"})
	assert len(invalid_punch_key("S" * 32, {"x": "y" * 10000})) <= 140


def test_redact_removes_every_auth_token(payload):
	doc = payload("callback-punch.json")
	doc["Extra"] = [{"authtoken": "secret"}]
	cleaned = redact(doc)
	assert TOKEN not in json.dumps(cleaned) and "secret" not in json.dumps(cleaned)
	assert cleaned["RealTime"]["PunchLog"] == doc["RealTime"]["PunchLog"]
	assert doc["RealTime"]["AuthToken"] == TOKEN  # the original is untouched


def test_biometric_data_is_stripped_from_what_is_logged(payload):
	body = payload("callback-user-merge-2.json")
	stripped = strip_biometrics(body)
	templates = stripped["RealTime"]["UserUpdated"]["Template"]
	original = body["RealTime"]["UserUpdated"]["Template"]
	assert [t["Type"] for t in templates] == [t["Type"] for t in original]
	for before, after in zip(original, templates, strict=True):
		assert after["Data"] == f"<withheld: {len(before['Data'])} characters>"
		assert before["Data"] not in json.dumps(stripped)
	assert body["RealTime"]["UserUpdated"]["Template"][0]["Data"] == original[0]["Data"]  # not mutated

	photo = strip_biometrics(payload("callback-attendance-photo.json"))
	assert photo["RealTime"]["Log"]["LogPhoto"].startswith("<withheld: ")
	assert (
		photo["RealTime"]["Log"]["UserID"]
		== payload("callback-attendance-photo.json")["RealTime"]["Log"]["UserID"]
	)
	assert strip_biometrics({"RealTime": {"PunchLog": {"UserId": "2"}}}) == {
		"RealTime": {"PunchLog": {"UserId": "2"}}
	}
