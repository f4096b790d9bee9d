"""Reading attendance photos (RealTimeAttendancePhoto, callback #10)."""

import base64

import pytest

from cams_biometric.protocol.logtime import parse_logtime
from cams_biometric.protocol.payload import (
	JPEG_START,
	PhotoError,
	punch_key,
	read_attendance_photo,
	read_callback,
	read_punch,
)
from cams_biometric.protocol.simulator import SAMPLE_PHOTO, photo_event, photo_jpeg

LIMIT = 200 * 1024


def event(photo, **changes) -> dict:
	return {"UserID": "3", "LogPhoto": photo, "LogTime": "2020-09-17 07:48:30 GMT +0530", **changes}


def test_the_sample_photo_is_read_with_the_key_of_its_punch(payload):
	body = payload("callback-attendance-photo.json")
	photo = read_attendance_photo(read_callback(body).data, LIMIT)
	assert photo.user_id == "3" and photo.log_time == "2020-09-17 07:48:30 GMT +0530"
	assert photo.jpeg == base64.b64decode(body["RealTime"]["Log"]["LogPhoto"])
	# The photo's punch (same user and LogTime, spelt UserId) has the same key.
	punch = read_punch({"UserId": "3", "LogTime": "2020-09-17 02:18:30 GMT +0000", "Type": "CheckIn"})
	assert punch_key("D1", photo.user_id, photo.moment) == punch_key("D1", punch.user_id, punch.moment)


def test_base64_in_lines_or_as_a_data_uri_is_read():
	text = base64.b64encode(SAMPLE_PHOTO).decode()
	wrapped = "\r\n".join(text[i : i + 76] for i in range(0, len(text), 76))
	assert read_attendance_photo(event(wrapped), LIMIT).jpeg == SAMPLE_PHOTO
	assert read_attendance_photo(event("data:image/jpeg;base64," + text), LIMIT).jpeg == SAMPLE_PHOTO


@pytest.mark.parametrize(
	"changes, message",
	[
		({"LogPhoto": ""}, "carries no LogPhoto"),
		({"LogPhoto": None}, "carries no LogPhoto"),
		({"LogPhoto": "not base64 at all!"}, "not valid Base64"),
		({"LogPhoto": base64.b64encode(b"\x89PNG\r\n\x1a\nrest").decode()}, "not a JPEG"),
		({"LogPhoto": base64.b64encode(b"GIF89a" * 10).decode()}, "not a JPEG"),
		({"UserID": ""}, "photo has an empty UserId"),
		({"LogTime": None}, "no LogTime"),
		({"LogTime": "yesterday"}, "LogTime"),
	],
)
def test_unusable_photos_say_why(changes, message):
	with pytest.raises(PhotoError, match=message):
		read_attendance_photo(event(base64.b64encode(SAMPLE_PHOTO).decode(), **changes), LIMIT)
	with pytest.raises(PhotoError, match="not a JSON object"):
		read_attendance_photo("photo", LIMIT)


def test_a_photo_over_the_limit_is_refused_with_both_sizes_before_it_is_decoded():
	jpeg = JPEG_START + bytes(300 * 1024)
	with pytest.raises(PhotoError, match=r"The photo is 300\.1 KB, more than the 200 KB allowed"):
		read_attendance_photo(event(base64.b64encode(jpeg).decode()), LIMIT)
	# Just over is not shown as equal to the limit.
	with pytest.raises(PhotoError, match=r"200\.1 KB, more than the 200 KB"):
		read_attendance_photo(event(base64.b64encode(JPEG_START + bytes(LIMIT)).decode()), LIMIT)
	exactly = JPEG_START + bytes(LIMIT - len(JPEG_START))
	assert len(read_attendance_photo(event(base64.b64encode(exactly).decode()), LIMIT).jpeg) == LIMIT


def test_the_simulators_photos_are_valid_distinct_jpegs():
	row = {"UserID": "1000", "LogTime": "2024-09-17 09:00:05 GMT +0530", "Type": "CheckIn"}
	other = {**row, "LogTime": "2024-09-17 18:00:05 GMT +0530"}
	first, second = (read_attendance_photo(photo_event(r), LIMIT) for r in (row, other))
	assert first.jpeg != second.jpeg
	assert first.jpeg.endswith(b"\xff\xd9") and b"1000 2024-09-17 09:00:05" in first.jpeg
	assert first.moment == parse_logtime(row["LogTime"])
	assert photo_jpeg("x").startswith(JPEG_START)
	with pytest.raises(ValueError):
		photo_jpeg("x", b"not a jpeg")
