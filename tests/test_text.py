"""Device strings are made harmless where they enter: user ids of a known alphabet, text
that can never be markup."""

import pytest

from cams_biometric.protocol import client as cams
from cams_biometric.protocol import constants as c
from cams_biometric.protocol.device_info import read_device_information
from cams_biometric.protocol.payload import (
	PhotoError,
	PunchError,
	read_attendance_photo,
	read_callback,
	read_punch,
)
from cams_biometric.protocol.text import is_user_id, no_markup, plain_text, user_id_or_none

HOSTILE = [
	"<img src=x onerror=alert(1)>",
	"<script>alert(1)</script>",
	'"><svg onload=alert(1)>',
	"</textarea><iframe src=javascript:alert(1)>",
]
PUNCH = {"UserId": "7", "LogTime": "2024-09-17 07:48:22 GMT +0300", "Type": "CheckIn"}


@pytest.mark.parametrize("user_id", ["1", "100", "User123", "0042", "E-001", "emp_7", "a.b", "x" * 64])
def test_user_ids_that_devices_send_are_taken(user_id):
	assert is_user_id(user_id)
	assert read_punch({**PUNCH, "UserId": user_id}).user_id == user_id
	assert cams.delete_user_command(user_id)[c.DELETE][c.USER][c.USER_ID] == user_id


def test_a_numeric_user_id_and_spaces_around_it_are_taken():
	assert read_punch({**PUNCH, "UserId": 7}).user_id == "7"
	assert read_punch({**PUNCH, "UserId": " 7 "}).user_id == "7"
	assert user_id_or_none(" 12 ") == "12"
	assert user_id_or_none(12) == "12"


@pytest.mark.parametrize("user_id", [*HOSTILE, "a b", "1'2", 'a"b', "a&b", "ü1", "1;2", "x" * 65])
def test_anything_else_is_no_user_id(user_id):
	assert not is_user_id(user_id)
	assert user_id_or_none(user_id) is None
	with pytest.raises(PunchError, match="UserId"):
		read_punch({**PUNCH, "UserId": user_id})
	with pytest.raises(ValueError, match="user ID"):
		cams.delete_user_command(user_id)


def test_the_error_of_a_bad_user_id_does_not_quote_it():
	with pytest.raises(PunchError) as raised:
		read_punch({**PUNCH, "UserId": HOSTILE[0]})
	assert "<" not in str(raised.value) and "onerror" not in str(raised.value)


@pytest.mark.parametrize("value", HOSTILE)
def test_text_is_never_markup(value):
	text = plain_text(value)
	assert "<" not in text and ">" not in text
	# It still reads as sent.
	assert text == value.replace("<", "\u2039").replace(">", "\u203a")
	assert no_markup(value) == text


def test_plain_text_drops_controls_and_direction_overrides():
	assert plain_text("Front\u202e Door\r\n\x00") == "Front Door"
	assert plain_text("  ") is None
	assert plain_text({"a": 1}) is None
	assert plain_text(["a"]) is None
	assert plain_text(None) is None
	assert plain_text(36.8) == "36.8"
	assert plain_text("x" * 500, 10) == "x" * 10
	assert plain_text("O'Brien & Sons") == "O'Brien & Sons"
	assert no_markup("first <b>\nsecond") == "first \u2039b\u203a\nsecond"


@pytest.mark.parametrize("value", HOSTILE)
def test_punch_fields_are_stored_without_markup(value):
	punch = read_punch({**PUNCH, "Type": value[:40], "InputType": value})
	assert "<" not in punch.punch_type and "<" not in punch.input_type
	with pytest.raises(PunchError) as raised:
		read_punch({**PUNCH, "LogTime": value})
	assert "<" not in str(raised.value)


@pytest.mark.parametrize("value", HOSTILE)
def test_envelope_fields_are_stored_without_markup(value):
	event = read_callback(
		{
			"RealTime": {
				"OperationID": value,
				"SerialNumber": value,
				"LabelName": value,
				"Time": value,
				"PunchLog": PUNCH,
			}
		}
	)
	for field in (event.operation_id, event.serial_number, event.label_name, event.time):
		assert "<" not in field and ">" not in field


def test_photo_errors_do_not_carry_markup():
	with pytest.raises(PhotoError) as raised:
		read_attendance_photo({"UserID": "3", "LogTime": HOSTILE[0], "LogPhoto": "/9j/"}, 1000)
	assert "<" not in str(raised.value)
	with pytest.raises(PhotoError, match="UserId"):
		read_attendance_photo({"UserID": HOSTILE[0], "LogTime": PUNCH["LogTime"], "LogPhoto": "/9j/"}, 1000)


def test_device_information_texts_are_no_markup():
	values = read_device_information(
		{"DeviceModel": HOSTILE[0], "Manufacturer": HOSTILE[1], "MacAddress": "ab"}
	)
	assert "<" not in values["device_model"] and "<" not in values["manufacturer"]
	assert values["mac_address"] == "ab"
