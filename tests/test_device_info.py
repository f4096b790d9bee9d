import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cams_biometric.protocol.device_info import read_device_information

PAYLOADS = Path(__file__).parent / "fixtures" / "payloads"


def test_the_vendors_reply_is_read_with_its_misspelt_key_and_offset():
	reply = json.loads((PAYLOADS / "rest-device-information-reply.json").read_text())
	values = read_device_information(reply["DeviceInformation"])
	assert values["device_model"] == "RSP10"
	assert values["mac_address"] == "00:17:61:10:2A:3B"
	assert values["registered_users"] == 120
	assert values["registered_faces"] == 100
	assert values["registered_fingerprints"] == 230
	assert values["maximum_faces"] == 5000
	assert values["maximum_attendance_logs"] == 500000
	assert values["maximum_users"] is None
	assert values["last_connected"] == datetime(2024, 9, 17, 3, 30, tzinfo=timezone.utc)
	assert values["last_connected"].utcoffset() == timedelta(hours=5, minutes=30)


def test_missing_or_garbled_values_are_none_not_an_error():
	values = read_device_information(
		{
			"RegisteredUsers": "many",
			"RegisteredFaces": "-3",
			"LastConnectedTime": "yesterday",
			"DeviceModel": "",
		}
	)
	assert values["registered_users"] is None
	assert values["registered_faces"] is None
	assert values["last_connected"] is None
	assert values["device_model"] is None


def test_the_correct_spelling_is_read_too():
	assert read_device_information({"RegisteredFingerprints": "7"})["registered_fingerprints"] == 7
