from datetime import datetime, timedelta, timezone

import pytest

from cams_biometric.protocol.logtime import (
	LogTimeError,
	format_logtime,
	format_utc_offset,
	is_ambiguous,
	parse_logtime,
	parse_utc_offset,
	to_local_naive,
	to_utc,
	wall_clock_at,
)


@pytest.mark.parametrize(
	"text, utc",
	[
		("2024-09-17 07:48:22 GMT +0300", datetime(2024, 9, 17, 4, 48, 22)),
		("2020-09-17 11:09:09 GMT +0530", datetime(2020, 9, 17, 5, 39, 9)),
		("2024-03-10 17:02:09 GMT -0430", datetime(2024, 3, 10, 21, 32, 9)),
		("2024-03-10 17:02:09 GMT -04:30", datetime(2024, 3, 10, 21, 32, 9)),
		("2024-09-17 07:48:22 GMT +05:30", datetime(2024, 9, 17, 2, 18, 22)),
		("2024-09-17 07:48 GMT +0530", datetime(2024, 9, 17, 2, 18, 0)),
		("2024-09-17 07:48:22 GMT+0530", datetime(2024, 9, 17, 2, 18, 22)),
		("2024-09-17 07:48:22 +5:30", datetime(2024, 9, 17, 2, 18, 22)),
		("2024-09-17 07:48:22 GMT", datetime(2024, 9, 17, 7, 48, 22)),
		("2024-09-17T07:48:22 UTC +0000", datetime(2024, 9, 17, 7, 48, 22)),
		("  2024-09-17 07:48:22 GMT -1200 ", datetime(2024, 9, 17, 19, 48, 22)),
		("2024-09-17 07:48:22 GMT +1400", datetime(2024, 9, 16, 17, 48, 22)),
		("2024-12-31 23:30:00 GMT -0100", datetime(2025, 1, 1, 0, 30, 0)),
	],
)
def test_parse_gives_the_right_instant(text, utc):
	assert to_utc(parse_logtime(text)).replace(tzinfo=None) == utc


def test_sign_is_not_inverted_as_dateutil_does():
	# dateutil.parser reads "GMT +0300" as UTC-3; the device means UTC+3.
	moment = parse_logtime("2024-09-17 07:48:22 GMT +0300")
	assert moment.utcoffset() == timedelta(hours=3)


@pytest.mark.parametrize(
	"text",
	[
		"",
		"garbage",
		"2024-09-17 07:48:22",  # no offset: which instant?
		"2024-13-17 07:48:22 GMT +0300",
		"2024-02-30 07:48:22 GMT +0300",
		"2024-09-17 25:48:22 GMT +0300",
		"2024-09-17 07:61:22 GMT +0300",
		"2024-09-17 07:48:22 GMT +0360",
		"2024-09-17 07:48:22 GMT +1500",
		"2024-09-17 07:48:22 GMT +03000",
		"0001-01-01 00:00:00 GMT +0000",
		"9999-12-31 23:59:59 GMT +1400",
		"2024-09-17 07:48:22 GMT +0300; DROP TABLE x",
		"2024-09-17 07:48:22 GMT +0300" + " " * 100,
	],
)
def test_garbage_is_refused(text):
	with pytest.raises(LogTimeError):
		parse_logtime(text)


@pytest.mark.parametrize("value", [None, 1726548502, 17.5, ["2024-09-17 07:48:22 GMT +0300"], {"a": 1}])
def test_non_strings_are_refused(value):
	with pytest.raises(LogTimeError):
		parse_logtime(value)


@pytest.mark.parametrize(
	"text, zone, local",
	[
		# The sample punch at a device three hours ahead of UTC, on a site in India.
		("2024-09-17 07:48:22 GMT +0300", "Asia/Kolkata", datetime(2024, 9, 17, 10, 18, 22)),
		("2024-09-17 07:48:22 GMT +0300", "Africa/Nairobi", datetime(2024, 9, 17, 7, 48, 22)),
		# A negative-offset device, a site in UTC and one west of it across midnight.
		("2024-03-10 17:02:09 GMT -0430", "UTC", datetime(2024, 3, 10, 21, 32, 9)),
		("2024-03-10 23:02:09 GMT -0430", "Asia/Tokyo", datetime(2024, 3, 11, 12, 32, 9)),
		("2024-03-10 01:30:00 GMT +0000", "America/Caracas", datetime(2024, 3, 9, 21, 30, 0)),
		# Across a DST change: New York switched to UTC-4 at 07:00 UTC on 2024-03-10.
		("2024-03-10 06:59:59 GMT +0000", "America/New_York", datetime(2024, 3, 10, 1, 59, 59)),
		("2024-03-10 07:00:00 GMT +0000", "America/New_York", datetime(2024, 3, 10, 3, 0, 0)),
	],
)
def test_conversion_to_the_site_zone(text, zone, local):
	assert to_local_naive(parse_logtime(text), zone) == local


def test_format_round_trips():
	for text in (
		"2024-09-17 07:48:22 GMT +0300",
		"2024-03-10 17:02:09 GMT -0430",
		"2020-01-01 00:00:00 GMT +0000",
	):
		assert format_logtime(parse_logtime(text)) == text


def test_format_needs_an_aware_datetime():
	with pytest.raises(ValueError):
		format_logtime(datetime(2024, 1, 1))
	assert format_logtime(datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=-3, minutes=-30)))) == (
		"2024-01-01 00:00:00 GMT -0330"
	)


def test_the_repeated_hour_of_a_fall_back_is_ambiguous():
	assert is_ambiguous(datetime(2025, 11, 2, 1, 30), "America/New_York")
	assert not is_ambiguous(datetime(2025, 11, 2, 2, 30), "America/New_York")
	assert not is_ambiguous(datetime(2025, 11, 2, 0, 59), "America/New_York")
	assert not is_ambiguous(datetime(2025, 11, 2, 1, 30), "Asia/Kolkata")  # no daylight saving


@pytest.mark.parametrize(
	"offset, text",
	[
		(timedelta(hours=5, minutes=30), "+05:30"),
		(timedelta(0), "+00:00"),
		(-timedelta(hours=4, minutes=30), "-04:30"),
		(timedelta(hours=14), "+14:00"),
	],
)
def test_utc_offsets_round_trip(offset, text):
	assert format_utc_offset(offset) == text
	assert parse_utc_offset(text) == offset


@pytest.mark.parametrize("text", ["", "0530", "+5:30", "+05:60", "+15:00", None, 330])
def test_other_utc_offsets_are_refused(text):
	with pytest.raises(LogTimeError):
		parse_utc_offset(text)


def test_wall_clock_of_a_site_time_on_a_device_clock():
	end = datetime(2026, 12, 31, 23, 59, 59)
	assert wall_clock_at(end, "Asia/Kolkata", timedelta(hours=5, minutes=30)) == end
	# New York in winter is UTC-5: 10 h 30 min behind a device at +05:30.
	assert wall_clock_at(end, "America/New_York", timedelta(hours=5, minutes=30)) == datetime(
		2027, 1, 1, 10, 29, 59
	)
	assert wall_clock_at(end, "America/New_York", None) == end, "an unknown offset keeps the site's time"
