"""Reading CAMS bodies: the JSON envelope, the callback events and the punch rows."""

import base64
import binascii
import hashlib
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cams_biometric.protocol import constants as c
from cams_biometric.protocol.logtime import LogTimeError, parse_logtime, to_utc
from cams_biometric.protocol.text import USER_ID_ALPHABET, USER_ID_PATTERN, no_markup, plain_text


class PayloadError(ValueError):
	"""A body that is not a JSON object we can read at all (answered with HTTP 400)."""


class PunchError(ValueError):
	"""A punch whose fields are unusable; it is stored with status Error and this text."""


@dataclass(frozen=True)
class Punch:
	user_id: str
	log_time: str  # the LogTime string as the device sent it
	moment: datetime  # the aware instant LogTime names
	punch_type: str  # one of constants.PUNCH_TYPES, or the unknown value as sent
	input_type: str | None = None
	temperature: float | None = None
	face_mask: bool | None = None


@dataclass(frozen=True)
class CallbackEvent:
	event_type: str  # a value of constants.EVENT_KEYS, or EVENT_COMMAND_REPLY / EVENT_UNKNOWN
	data: Any  # the event's own object (e.g. the PunchLog dict), or the whole body
	operation_id: str | None = None
	serial_number: str | None = None
	label_name: str | None = None
	time: str | None = None


def load_json_body(body: bytes | str) -> dict:
	"""Decode a raw body into a JSON object, or raise PayloadError saying why not."""
	if isinstance(body, bytes):
		try:
			body = body.decode("utf-8-sig")
		except UnicodeDecodeError:
			raise PayloadError("The body is not UTF-8 text") from None
	if not body.strip():
		raise PayloadError("The body is empty")
	try:
		doc = json.loads(body)
	except RecursionError:
		raise PayloadError("The JSON body is nested too deeply") from None
	except ValueError as e:
		raise PayloadError(f"The body is not valid JSON ({e})") from None
	if not isinstance(doc, dict):
		raise PayloadError("The JSON body must be an object")
	return doc


def looks_like_json(body: bytes) -> bool:
	"""True when a body is meant as plain JSON rather than base64 ciphertext."""
	return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[")


def find_auth_token(doc: dict) -> str | None:
	"""The AuthToken of a callback (inside RealTime) or of a REST-shaped reply (top level)."""
	realtime = doc.get(c.REALTIME)
	for holder in (realtime, doc):
		if isinstance(holder, dict):
			token = holder.get(c.AUTH_TOKEN)
			if isinstance(token, str) and token:
				return token
	return None


def _optional_str(value) -> str | None:
	return plain_text(value, 140)


def read_callback(doc: dict) -> CallbackEvent:
	"""Tell which of the callback events a body is, and pull out its envelope fields."""
	realtime = doc.get(c.REALTIME)
	if not isinstance(realtime, dict):
		# Replies to RESTful commands ("lazy responses") are not documented; keep them all.
		event_type = c.EVENT_COMMAND_REPLY if (c.STATUS in doc or c.STATUS_CODE in doc) else c.EVENT_UNKNOWN
		return CallbackEvent(event_type, doc, operation_id=_optional_str(doc.get(c.OPERATION_ID)))

	envelope = {
		"operation_id": _optional_str(realtime.get(c.OPERATION_ID)),
		"serial_number": _optional_str(realtime.get(c.SERIAL_NUMBER)),
		"label_name": _optional_str(realtime.get(c.LABEL_NAME)),
		"time": _optional_str(realtime.get(c.TIME)),
	}
	for key, event_type in c.EVENT_KEYS.items():
		if key in realtime:
			return CallbackEvent(event_type, realtime[key], **envelope)

	envelope_keys = {c.OPERATION_ID, c.AUTH_TOKEN, c.TIME, c.SERIAL_NUMBER, c.LABEL_NAME}
	other = {k: v for k, v in realtime.items() if k not in envelope_keys}
	event_type = c.EVENT_COMMAND_REPLY if other else c.EVENT_UNKNOWN
	return CallbackEvent(event_type, realtime, **envelope)


def first_of(row: dict, keys: tuple[str, ...]):
	for key in keys:
		if key in row:
			return row[key]
	return None


def read_user_id(row: dict, what: str = "punch") -> str:
	"""The user id of a punch (or of another event, named by ``what`` in the error)."""
	value = first_of(row, c.USER_ID_KEYS)
	if isinstance(value, bool) or value is None or isinstance(value, dict | list | float):
		raise PunchError(f"The {what} has no usable UserId")
	user_id = str(value).strip()
	if not user_id:
		raise PunchError(f"The {what} has an empty UserId")
	if len(user_id) > c.MAX_USER_ID_LENGTH:
		raise PunchError(f"The {what}'s UserId is longer than {c.MAX_USER_ID_LENGTH} characters")
	if any(ch in user_id for ch in "|\r\n\t\x00"):
		raise PunchError(f"The {what}'s UserId contains control characters")
	if not USER_ID_PATTERN.fullmatch(user_id):
		raise PunchError(f"The {what}'s UserId has characters other than {USER_ID_ALPHABET}")
	return user_id


def canonical_punch_type(value) -> str:
	"""Match a Type case-insensitively to the documented spelling; keep unknown values."""
	text = (plain_text(value, 1000) or "") if value is not None else ""
	for known in c.PUNCH_TYPES:
		if text.lower() == known.lower():
			return known
	return text


def _read_temperature(value) -> float | None:
	if value is None or isinstance(value, bool):
		return None
	try:
		temperature = float(value)
	except (TypeError, ValueError):
		return None
	return temperature if math.isfinite(temperature) and -100 < temperature < 200 else None


def _read_face_mask(value) -> bool | None:
	if isinstance(value, bool):
		return value
	if isinstance(value, int | float):
		return bool(value)
	if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1", "false", "no", "0"):
		return value.strip().lower() in ("true", "yes", "1")
	return None


def read_punch(row) -> Punch:
	"""Read one punch (a callback PunchLog or a LoadLog row); PunchError says what is wrong."""
	if not isinstance(row, dict):
		raise PunchError("The punch is not a JSON object")
	user_id = read_user_id(row)
	log_time = row.get(c.LOG_TIME)
	if log_time is None:
		raise PunchError("The punch has no LogTime")
	try:
		moment = parse_logtime(log_time)
	except LogTimeError as e:
		raise PunchError(no_markup(str(e))) from None
	punch_type = canonical_punch_type(row.get(c.PUNCH_TYPE))
	if not punch_type:
		raise PunchError("The punch has no Type")
	if len(punch_type) > 40:
		raise PunchError("The punch's Type is not a punch type")
	input_type = _optional_str(first_of(row, c.INPUT_TYPE_KEYS))
	return Punch(
		user_id=user_id,
		log_time=plain_text(log_time),
		moment=moment,
		punch_type=punch_type,
		input_type=input_type[:40] if input_type else None,
		temperature=_read_temperature(row.get(c.TEMPERATURE)),
		face_mask=_read_face_mask(row.get(c.FACE_MASK)),
	)


def punch_key(device: str, user_id: str, moment: datetime) -> str:
	"""The identity of a punch: the same user at the same device at the same instant.

	Stored under a unique index, so the same punch can never be stored twice, whether it
	came by callback, by LoadLog, or by both at once.
	"""
	return f"{device}|{user_id}|{to_utc(moment):%Y-%m-%dT%H:%M:%SZ}"


def invalid_punch_key(device: str, data) -> str:
	"""A key for a punch we could not read, so a gateway resending it is not stored twice."""
	canonical = json.dumps(data, sort_keys=True, ensure_ascii=True, default=str)
	return f"{device}|invalid|{hashlib.sha1(canonical.encode()).hexdigest()}"


def redact(value):
	"""A copy of a body without its AuthToken(s), fit to store and show."""
	if isinstance(value, dict):
		return {k: redact(v) for k, v in value.items() if str(k).lower() != c.AUTH_TOKEN.lower()}
	if isinstance(value, list):
		return [redact(v) for v in value]
	return value


LOG_PHOTO = "LogPhoto"  # the base64 JPEG of an attendance photo (callback #10)


def strip_biometrics(value):
	"""A copy of a body without biometric data: each template's Data and each attendance
	photo become a note of their length. Templates and photos must never sit in plain text
	in a log (the device event log, an Error Log); the device user directory keeps templates
	encrypted."""
	if isinstance(value, list):
		return [strip_biometrics(v) for v in value]
	if not isinstance(value, dict):
		return value
	stripped = {}
	for key, item in value.items():
		if key == c.TEMPLATE and isinstance(item, list):
			stripped[key] = [_without_data(t) for t in item]
		elif key == LOG_PHOTO and isinstance(item, str) and item:
			stripped[key] = _withheld(item)
		else:
			stripped[key] = strip_biometrics(item)
	return stripped


def _without_data(template):
	if not isinstance(template, dict):
		return template
	data = template.get(c.TEMPLATE_DATA)
	return {**template, c.TEMPLATE_DATA: _withheld(data)} if data else dict(template)


def _withheld(data) -> str:
	return f"<withheld: {len(str(data))} characters>"


class PhotoError(ValueError):
	"""An attendance photo that is not kept; the text says why."""


class PhotoTooLarge(PhotoError):
	"""A photo over the size limit."""


@dataclass(frozen=True)
class AttendancePhoto:
	user_id: str
	log_time: str  # as the device sent it
	moment: datetime  # the instant LogTime names: the photo's punch has the same
	jpeg: bytes


# Every JPEG starts with the SOI marker followed by the next marker's 0xFF.
JPEG_START = b"\xff\xd8\xff"
_DATA_URI = re.compile(r"^data:image/[a-z]+;base64,", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")


def read_attendance_photo(event, max_bytes: int) -> AttendancePhoto:
	"""Read a RealTimeAttendancePhoto (#10) event: UserID, LogTime and LogPhoto, a Base64 JPEG
	of at most ``max_bytes``; PhotoError says why a photo is not usable."""
	if not isinstance(event, dict):
		raise PhotoError("The photo event is not a JSON object")
	try:
		user_id = read_user_id(event, what="photo")
	except PunchError as e:
		raise PhotoError(str(e)) from None
	log_time = event.get(c.LOG_TIME)
	if not isinstance(log_time, str):
		raise PhotoError("The photo has no LogTime")
	try:
		moment = parse_logtime(log_time)
	except LogTimeError as e:
		raise PhotoError(no_markup(str(e))) from None
	text = event.get(LOG_PHOTO)
	if not isinstance(text, str) or not text.strip():
		raise PhotoError("The photo event carries no LogPhoto")
	# Some devices wrap their Base64 in lines, or send it as a data URI.
	text = _WHITESPACE.sub("", _DATA_URI.sub("", text.strip()))
	# Refused before decoding: the Base64 length tells the size.
	size = len(text) * 3 // 4 - text[-2:].count("=")
	if size > max_bytes:
		raise PhotoTooLarge(f"The photo is {_kb(size)} KB, more than the {_kb(max_bytes)} KB allowed")
	try:
		jpeg = base64.b64decode(text, validate=True)
	except (binascii.Error, ValueError):
		raise PhotoError("The photo is not valid Base64") from None
	if not jpeg.startswith(JPEG_START):
		raise PhotoError("The photo is not a JPEG image")
	return AttendancePhoto(user_id=user_id, log_time=plain_text(log_time), moment=moment, jpeg=jpeg)


def _kb(size: int) -> str:
	# Rounded up: a photo just over the limit must not read as equal to it.
	return f"{math.ceil(size * 10 / 1024) / 10:.1f}".removesuffix(".0")
