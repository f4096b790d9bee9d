"""LogTime: ``YYYY-MM-DD HH:mm:ss GMT ±HHMM``, the device's local time and its UTC offset.

Parsed explicitly: dateutil reads ``GMT +0300`` as "GMT, then +0300 relative to GMT", which
inverts the sign, and drops the offset altogether for some spellings.
"""

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

_LOGTIME = re.compile(
	r"""^\s*
	(?P<date>\d{4}-\d{1,2}-\d{1,2})
	[ T]+
	(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?
	\s*(?P<zone>GMT|UTC|Z)?\s*
	(?:
		(?P<sign>[+-])\s*(?:(?P<oh>\d{1,2}):(?P<om>\d{2})|(?P<ohhmm>\d{4})|(?P<oh_only>\d{1,2}))
	)?
	\s*$""",
	re.VERBOSE | re.IGNORECASE,
)

# Plausible range for a punch: rejects clock resets to year 1 and typos like 20244.
MIN_YEAR = 1970
MAX_YEAR = 2099
# Real UTC offsets run from -12:00 to +14:00.
MAX_OFFSET = timedelta(hours=14)


class LogTimeError(ValueError):
	"""A LogTime string that cannot be read as a moment in time."""


def parse_logtime(value) -> datetime:
	"""Return the aware datetime of a CAMS LogTime string.

	Lenient about ``+05:30``, ``+5:30``, ``+05``, missing seconds, and a bare ``GMT``/``UTC``
	(offset zero); strict about anything else. A time with neither zone nor offset is
	refused, because nobody can tell which instant it means.
	"""
	if not isinstance(value, str):
		raise LogTimeError(f"LogTime must be a string, got {type(value).__name__}")
	if len(value) > 64:
		raise LogTimeError("LogTime is too long to be a date and time")
	match = _LOGTIME.match(value)
	if not match:
		raise LogTimeError(f"LogTime {value!r} is not in the form 'YYYY-MM-DD HH:mm:ss GMT +HHMM'")

	parts = match.groupdict()
	if not parts["sign"] and not parts["zone"]:
		raise LogTimeError(f"LogTime {value!r} has no UTC offset (expected e.g. 'GMT +0530')")

	offset = timedelta(0)
	if parts["sign"]:
		if parts["ohhmm"]:
			hours, minutes = int(parts["ohhmm"][:2]), int(parts["ohhmm"][2:])
		elif parts["oh_only"]:
			hours, minutes = int(parts["oh_only"]), 0
		else:
			hours, minutes = int(parts["oh"]), int(parts["om"])
		if minutes >= 60:
			raise LogTimeError(f"LogTime {value!r} has an invalid UTC offset")
		offset = timedelta(hours=hours, minutes=minutes)
		if offset > MAX_OFFSET:
			raise LogTimeError(f"LogTime {value!r} has a UTC offset beyond ±14:00")
		if parts["sign"] == "-":
			offset = -offset

	try:
		year, month, day = (int(p) for p in parts["date"].split("-"))
		moment = datetime(
			year,
			month,
			day,
			int(parts["hour"]),
			int(parts["minute"]),
			int(parts["second"] or 0),
			tzinfo=timezone(offset),
		)
	except ValueError as e:
		raise LogTimeError(f"LogTime {value!r} is not a valid date and time: {e}") from None

	if not MIN_YEAR <= moment.year <= MAX_YEAR:
		raise LogTimeError(f"LogTime {value!r} is outside the years {MIN_YEAR}–{MAX_YEAR}")
	return moment


def format_logtime(moment: datetime) -> str:
	"""Format an aware datetime the way the gateway writes it: ``2024-09-17 07:48:22 GMT +0300``."""
	if moment.tzinfo is None or moment.utcoffset() is None:
		raise ValueError("format_logtime needs an aware datetime")
	offset_minutes = int(moment.utcoffset().total_seconds() // 60)
	sign = "-" if offset_minutes < 0 else "+"
	hours, minutes = divmod(abs(offset_minutes), 60)
	return f"{moment:%Y-%m-%d %H:%M:%S} GMT {sign}{hours:02d}{minutes:02d}"


def to_utc(moment: datetime) -> datetime:
	"""The same instant, as an aware UTC datetime."""
	return moment.astimezone(timezone.utc)


def to_local_naive(moment: datetime, time_zone: str) -> datetime:
	"""The wall-clock time of ``moment`` in the IANA zone ``time_zone``, without tzinfo.

	This is how Frappe stores Datetime values: naive, in the site's System Settings zone.
	"""
	return moment.astimezone(ZoneInfo(time_zone)).replace(tzinfo=None)


def from_local_naive(value: datetime, time_zone: str) -> datetime:
	"""Attach the IANA zone ``time_zone`` to a naive wall-clock datetime."""
	return value.replace(tzinfo=ZoneInfo(time_zone))


def is_ambiguous(value: datetime, time_zone: str) -> bool:
	"""True when the naive wall-clock ``value`` occurs twice in ``time_zone`` (the hour
	repeated when daylight saving time ends), so that it alone does not name an instant."""
	zone = ZoneInfo(time_zone)
	return value.replace(tzinfo=zone, fold=0).utcoffset() != value.replace(tzinfo=zone, fold=1).utcoffset()


_UTC_OFFSET = re.compile(r"^\s*(?P<sign>[+-])(?P<hours>\d{2}):(?P<minutes>\d{2})\s*$")


def format_utc_offset(offset: timedelta) -> str:
	"""A UTC offset as a device's record keeps it: ``+05:30``, ``-04:00``."""
	minutes = int(offset.total_seconds() // 60)
	sign = "-" if minutes < 0 else "+"
	hours, minutes = divmod(abs(minutes), 60)
	return f"{sign}{hours:02d}:{minutes:02d}"


def parse_utc_offset(text: str) -> timedelta:
	"""The offset ``format_utc_offset`` wrote; LogTimeError for anything else."""
	match = _UTC_OFFSET.match(text or "") if isinstance(text, str) else None
	if not match or int(match["minutes"]) >= 60:
		raise LogTimeError(f"{text!r} is not a UTC offset like +05:30")
	offset = timedelta(hours=int(match["hours"]), minutes=int(match["minutes"]))
	if offset > MAX_OFFSET:
		raise LogTimeError(f"{text!r} is beyond ±14:00")
	return -offset if match["sign"] == "-" else offset


def wall_clock_at(value: datetime, time_zone: str, utc_offset: timedelta | None) -> datetime:
	"""The naive wall-clock time ``value`` (naive, in the IANA zone ``time_zone``) reads on a
	clock at ``utc_offset``; unchanged when the offset is not known (None)."""
	if utc_offset is None:
		return value
	return from_local_naive(value, time_zone).astimezone(timezone(utc_offset)).replace(tzinfo=None)
