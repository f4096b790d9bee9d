"""A small client for the CAMS RESTful API (our site → device, through the gateway).

Everything it needs is injected (endpoint, Service Tag ID, AuthToken, optional AES key,
even the HTTP session), so the Frappe layer, the tests and the simulator can all use it.
"""

import json
import secrets
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from itertools import pairwise

import requests

from cams_biometric.protocol import aes
from cams_biometric.protocol import constants as c
from cams_biometric.protocol.logtime import LogTimeError, format_logtime, parse_logtime
from cams_biometric.protocol.payload import looks_like_json
from cams_biometric.protocol.text import USER_ID_ALPHABET, is_user_id

# (connect, read) seconds: the gateway relays each call to the device, ~15 s and more.
DEFAULT_TIMEOUT = (10, 90)

# Why paging ended. The first two mean the range was read to its end; the others that paging
# could not safely go on, so punches later in the range may be missing (a partial load).
SHORT_PAGE = "short page"
REACHED_END = "reached the end"
OFFSET_STUCK = "offset did not advance"
TIME_STUCK = "time did not advance"
OUT_OF_ORDER = "rows out of time order"
NO_LOGTIME = "no readable LogTime"
COMPLETE_REASONS = frozenset({SHORT_PAGE, REACHED_END})

# Paging by time asks again from one second before a page's last punch: that re-reads its
# last second whether the gateway's StartTime is inclusive or not (the docs do not say), and
# the raw log's unique key drops the repeats.
TIME_PAGING_OVERLAP = timedelta(seconds=1)


class CamsError(Exception):
	"""A RESTful call that did not succeed. ``transient`` errors are worth retrying."""

	transient = False
	status_code: int | None = None

	def __init__(self, message: str, *, status_code: int | None = None, operation_id: str | None = None):
		super().__init__(message)
		self.status_code = status_code if status_code is not None else type(self).status_code
		self.operation_id = operation_id


class TransientError(CamsError):
	transient = True


class GatewayUnreachable(TransientError):
	"""No answer: connection refused, DNS, or the read timed out."""


class GatewayHTTPError(CamsError):
	"""The gateway answered with an HTTP error status."""

	def __init__(self, message: str, *, http_status: int, **kwargs):
		super().__init__(message, **kwargs)
		self.http_status = http_status
		self.transient = http_status >= 500 or http_status in (408, 429)


class ProtocolError(TransientError):
	"""A reply we cannot read (not JSON, not an object, no usable rows)."""


class DeviceOffline(TransientError):
	status_code = 5


class OperationTimeout(TransientError):
	status_code = 6


class UnknownGatewayError(TransientError):
	status_code = 999


class InvalidRequest(CamsError):
	status_code = 1


class InvalidServiceTag(CamsError):
	status_code = 2


class InvalidEncryption(CamsError):
	status_code = 4


class InvalidAuthToken(CamsError):
	status_code = 7


class InvalidSecurityKey(CamsError):
	status_code = 13


class FeatureNotSupported(CamsError):
	status_code = 15


class UserExists(CamsError):
	status_code = 8


class UserNotFound(CamsError):
	status_code = 9


class TemplateError(CamsError):
	status_code = 10


class DeviceMemoryFull(CamsError):
	status_code = 11


ERRORS_BY_STATUS_CODE: dict[int, type[CamsError]] = {
	1: InvalidRequest,
	2: InvalidServiceTag,
	3: InvalidRequest,
	4: InvalidEncryption,
	5: DeviceOffline,
	6: OperationTimeout,
	7: InvalidAuthToken,
	8: UserExists,
	9: UserNotFound,
	10: TemplateError,
	11: DeviceMemoryFull,
	13: InvalidSecurityKey,
	15: FeatureNotSupported,
	999: UnknownGatewayError,
}

# What an admin should do about each permanent error.
ADVICE = {
	InvalidServiceTag: "Check the device's Service Tag ID against the CAMS API Monitor.",
	InvalidAuthToken: "Copy the device's AuthToken from the CAMS API Monitor again.",
	InvalidEncryption: "Check the device's security key against the CAMS API Monitor.",
	InvalidSecurityKey: "Check the device's security key against the CAMS API Monitor.",
	FeatureNotSupported: (
		"This subscription does not include LoadLog, or it is switched off while a callback URL is set:"
		" ask CAMS support to enable it for the device."
	),
	InvalidRequest: "The gateway refused the request; check the RESTful endpoint URL and the date range.",
	UserExists: "The device already has a user with this ID: update or delete that user first.",
	UserNotFound: "The device has no user with this ID: add the user to the device first.",
	TemplateError: (
		"The device refused a template: check its type (the device may lack that reader) and its data."
	),
	DeviceMemoryFull: "The device's memory is full: delete users, templates or old punches from it first.",
}


def error_for_status(code: int, operation_id: str | None = None) -> CamsError:
	error_class = ERRORS_BY_STATUS_CODE.get(code)
	meaning = c.STATUS_CODES.get(code, "Unknown status code")
	if error_class is None:
		return CamsError(f"CAMS StatusCode {code}: {meaning}", status_code=code, operation_id=operation_id)
	return error_class(f"CAMS StatusCode {code}: {meaning}", status_code=code, operation_id=operation_id)


def new_operation_id() -> str:
	"""10 to 15 alphanumeric characters, as the gateway expects."""
	alphabet = string.ascii_lowercase + string.digits
	return "".join(secrets.choice(alphabet) for _ in range(12))


def _as_int(value) -> int | None:
	if isinstance(value, bool):
		return None
	if isinstance(value, int):
		return value
	if isinstance(value, float) and value.is_integer():
		return int(value)
	if isinstance(value, str) and value.strip().lstrip("-").isdigit():
		return int(value.strip())
	return None


def loadlog_command(start: datetime, end: datetime, offset: int) -> dict:
	"""The LoadLog (#12) command part. The offset's name is not documented: see OFFSET_KEYS."""
	return {
		c.LOAD: {
			c.PUNCH_LOG: {
				c.FILTER: {c.START_TIME: format_logtime(start), c.END_TIME: format_logtime(end)},
				c.OFFSET_KEYS[0]: offset,
			}
		}
	}


def find_offset(reply: dict) -> int | None:
	"""The next offset in a LoadLog reply, wherever and however the gateway spells it."""
	holders = [reply.get(c.PUNCH_LOG), reply]
	for holder in holders:
		if isinstance(holder, dict):
			for key in c.OFFSET_KEYS:
				if key in holder:
					return _as_int(holder[key])
	return None


@dataclass(frozen=True)
class Template:
	"""One biometric or credential template for AddUser. ``data`` (a card number, a PIN, a
	base64 fingerprint) is a secret: it is left out of the repr and of every error message."""

	type: str
	data: str = field(repr=False)
	index: int | str | None = None  # Type + Index is the key; Card, Password, UserPhoto have none
	size: int | str | None = None

	@classmethod
	def from_dict(cls, value: dict) -> "Template":
		return cls(
			type=value.get(c.TEMPLATE_TYPE),
			data=value.get(c.TEMPLATE_DATA),
			index=value.get(c.TEMPLATE_INDEX),
			size=value.get(c.TEMPLATE_SIZE),
		)


def _check_user_id(user_id) -> str:
	if isinstance(user_id, int) and not isinstance(user_id, bool):
		user_id = str(user_id)
	if not isinstance(user_id, str) or not user_id.strip():
		raise ValueError("A user ID must be a non-empty string")
	if len(user_id) > c.MAX_USER_ID_LENGTH:
		raise ValueError(f"A user ID has at most {c.MAX_USER_ID_LENGTH} characters")
	if not is_user_id(user_id):
		raise ValueError(f"A user ID has only {USER_ID_ALPHABET}")
	return user_id


def template_object(template: "Template | dict", user_id: str) -> dict:
	"""The wire object of one template. Raises ValueError (naming the type, never the data)."""
	if isinstance(template, dict):
		template = Template.from_dict(template)
	if not isinstance(template, Template):
		raise ValueError("A template must be a Template or a dict")
	if template.type not in c.ADD_USER_TEMPLATE_TYPES:
		shown = template.type if isinstance(template.type, str) and len(template.type) <= 20 else "?"
		raise ValueError(
			f"Unknown template type {shown!r}: use one of {', '.join(c.ADD_USER_TEMPLATE_TYPES)}"
		)
	if not isinstance(template.data, str) or not template.data:
		raise ValueError(f"The {template.type} template has no data")
	wire = {c.TEMPLATE_TYPE: template.type, c.USER_ID: user_id, c.TEMPLATE_DATA: template.data}
	if template.type not in c.UNINDEXED_TEMPLATE_TYPES:
		index = c.DEFAULT_TEMPLATE_INDEX if template.index is None else template.index
		if _as_int(index) is None or _as_int(index) < 0:
			raise ValueError(f"The {template.type} template's index must be a whole number from 0")
		if template.size is not None:
			wire[c.TEMPLATE_SIZE] = str(template.size)
		wire[c.TEMPLATE_INDEX] = str(_as_int(index))
	elif template.size is not None:
		wire[c.TEMPLATE_SIZE] = str(template.size)
	return wire


def add_user_command(
	user_id: str,
	first_name: str = "",
	last_name: str = "",
	user_type: str = "User",
	templates: "list[Template | dict] | tuple" = (),
) -> dict:
	"""AddUser (#14-#27) with any combination of templates, or #28 without any."""
	user_id = _check_user_id(user_id)
	if user_type not in c.USER_TYPES:
		raise ValueError(f"The user type must be one of {', '.join(c.USER_TYPES)}")
	wires = [template_object(template, user_id) for template in templates or ()]
	keys = [(w[c.TEMPLATE_TYPE], w.get(c.TEMPLATE_INDEX)) for w in wires]
	if len(set(keys)) != len(keys):
		raise ValueError("Two templates have the same type and index")
	add = {
		c.USER: {
			c.USER_ID: user_id,
			c.FIRST_NAME: first_name or "",
			c.LAST_NAME: last_name or "",
			c.USER_TYPE: user_type,
		}
	}
	if wires:
		add[c.TEMPLATE] = wires
	return {c.ADD: add}


def device_information_command() -> dict:
	"""LoadDeviceInformation (#13)."""
	return {c.LOAD: {c.DEVICE_INFORMATION: "All"}}


def delete_user_command(user_id: str) -> dict:
	return {c.DELETE: {c.USER: {c.USER_ID: _check_user_id(user_id)}}}


def delete_all_users_command() -> dict:
	return {c.DELETE: {c.USER: c.ALL}}


def delete_all_logs_command() -> dict:
	return {c.DELETE: {c.LOG: c.ALL}}


def delete_attendance_photos_command() -> dict:
	return {c.DELETE: {c.PUNCH_PHOTO: c.ALL}}


def resend_attendance_command(start: datetime, end: datetime) -> dict:
	"""ResendAttendance (#33): the device posts the range's punches to the callback URL again."""
	if end <= start:
		raise ValueError("The end must be after the start")
	return {
		c.RESEND: {
			c.PUNCH_LOG: {c.FILTER: {c.START_TIME: format_logtime(start), c.END_TIME: format_logtime(end)}}
		}
	}


def resend_all_users_command() -> dict:
	return {c.RESEND: {c.USER: c.ALL}}


def enroll_fingerprint_command(user_id: str, first_name: str = "", last_name: str = "") -> dict:
	"""EnrollFingerPrint (#35): the device asks the user for a finger; the template arrives later
	as a UserUpdated callback."""
	return {
		c.ENROLL: {
			c.USER: {
				c.USER_ID: _check_user_id(user_id),
				c.ENROLL_TYPE: c.ENROLL_FINGERPRINT,
				c.FIRST_NAME: first_name or "",
				c.LAST_NAME: last_name or "",
			}
		}
	}


def _access_time(moment: datetime, utc_offset: timedelta) -> str:
	if moment.tzinfo is not None and moment.utcoffset() is not None:
		moment = moment.astimezone(timezone(utc_offset)).replace(tzinfo=None)
	return moment.strftime(c.ACCESS_TIME_FORMAT)


def update_access_time_command(
	user_id: str, start: datetime, end: datetime, utc_offset: timedelta = timedelta(0)
) -> dict:
	"""UpdateAccessTime (#36). Start and End are the device's wall clock: an aware datetime is
	converted to ``utc_offset`` (the device's), a naive one is taken as it is."""
	start_text, end_text = _access_time(start, utc_offset), _access_time(end, utc_offset)
	if end_text <= start_text:
		raise ValueError("The end of the access time must be after its start")
	return {
		c.UPDATE: {
			c.ACCESS_TIME: {
				c.USER_ID: _check_user_id(user_id),
				c.ACCESS_START: start_text,
				c.ACCESS_END: end_text,
			}
		}
	}


def user_access_command(user_id: str, enable: bool) -> dict:
	"""EnableUser (#37) / DisableUser (#38)."""
	access = c.ACCESS_ENABLE if enable else c.ACCESS_DISABLE
	return {c.UPDATE: {c.USER: {c.USER_ID: _check_user_id(user_id), c.ACCESS: access}}}


@dataclass
class LoadLogPage:
	offset: int  # the offset this page was asked for
	rows: list[dict]
	next_offset: int | None
	return_row_count: int | None
	operation_id: str
	stop_reason: str | None = field(default=None)  # set on the last page: why paging ended
	start: datetime | None = None  # the StartTime and EndTime this page was asked for
	end: datetime | None = None


@dataclass(frozen=True)
class NextPage:
	"""What follows a LoadLog page: the next request's StartTime and offset, or why there is none."""

	start: datetime | None = None
	offset: int = 0
	stop_reason: str | None = None

	@property
	def complete(self) -> bool:
		"""Paging stopped because the range was read to its end, not because it could not go on."""
		return self.stop_reason in COMPLETE_REASONS


class CamsClient:
	def __init__(
		self,
		endpoint: str,
		service_tag_id: str,
		auth_token: str,
		*,
		security_key: str | None = None,
		aes_key_derivation: str | None = None,
		timeout: tuple[float, float] | float = DEFAULT_TIMEOUT,
		session: requests.Session | None = None,
		utc_offset: timedelta | None = None,
	):
		if not endpoint or not endpoint.startswith(("http://", "https://")):
			raise ValueError("The RESTful endpoint must be an http:// or https:// URL")
		self.endpoint = endpoint
		self.service_tag_id = service_tag_id
		self.auth_token = auth_token
		self.security_key = security_key or None
		self.aes_key_derivation = aes_key_derivation or "sha256"
		self.timeout = timeout
		self.session = session or requests.Session()
		self.utc_offset = utc_offset or timedelta(0)

	def call(self, command: dict, operation_id: str | None = None) -> dict:
		"""Send one command; returns the reply, or raises a CamsError subclass. A retry of a
		command passes its first OperationID, so that the gateway can tell it is the same."""
		operation_id = operation_id or new_operation_id()
		now = datetime.now(timezone(self.utc_offset)).replace(microsecond=0)
		body = json.dumps(
			{
				**command,
				c.OPERATION_ID: operation_id,
				c.AUTH_TOKEN: self.auth_token,
				c.TIME: format_logtime(now),
			}
		).encode()
		if self.security_key:
			body = aes.encrypt(body, self.security_key, self.aes_key_derivation)
		try:
			response = self.session.post(
				self.endpoint,
				params={c.STGID_PARAM: self.service_tag_id},
				data=body,
				headers={"Content-Type": "application/json"},
				timeout=self.timeout,
			)
		except requests.Timeout as e:
			raise GatewayUnreachable(f"The gateway did not answer in time ({e})", operation_id=operation_id)
		except requests.RequestException as e:
			raise GatewayUnreachable(f"Could not reach the gateway ({e})", operation_id=operation_id)

		if response.status_code >= 400:
			raise GatewayHTTPError(
				f"The gateway answered HTTP {response.status_code}",
				http_status=response.status_code,
				operation_id=operation_id,
			)
		reply = self._read_reply(response.content, operation_id)
		status_code = _as_int(reply.get(c.STATUS_CODE))
		if status_code is None:
			status = str(reply.get(c.STATUS, "")).lower()
			status_code = 0 if status == c.STATUS_DONE else 999
		if status_code != 0:
			raise error_for_status(status_code, operation_id)
		return reply

	def _read_reply(self, content: bytes, operation_id: str) -> dict:
		try:
			if self.security_key and not looks_like_json(content):
				reply, _ = aes.decrypt(content, self.security_key, preferred=self.aes_key_derivation)
			else:
				reply = json.loads(content.decode("utf-8-sig"))
		except (ValueError, aes.AESDecryptError):
			raise ProtocolError("The gateway's reply is not JSON", operation_id=operation_id)
		if not isinstance(reply, dict):
			raise ProtocolError("The gateway's reply is not a JSON object", operation_id=operation_id)
		return reply

	def load_device_information(self) -> dict:
		reply = self.call(device_information_command())
		info = reply.get(c.DEVICE_INFORMATION)
		if not isinstance(info, dict):
			raise ProtocolError("The reply has no DeviceInformation")
		return info

	def __repr__(self) -> str:
		return f"<CamsClient {self.endpoint} stgid={self.service_tag_id}>"  # never the token or key

	def add_user(
		self,
		user_id: str,
		first_name: str = "",
		last_name: str = "",
		user_type: str = "User",
		templates: "list[Template | dict] | tuple" = (),
	) -> dict:
		"""AddUser, with any of the six template types or none. UserExists, TemplateError and
		DeviceMemoryFull are the device's refusals."""
		return self.call(add_user_command(user_id, first_name, last_name, user_type, templates))

	def delete_user(self, user_id: str) -> dict:
		return self.call(delete_user_command(user_id))

	def delete_all_users(self) -> dict:
		return self.call(delete_all_users_command())

	def delete_all_logs(self) -> dict:
		return self.call(delete_all_logs_command())

	def delete_attendance_photos(self) -> dict:
		return self.call(delete_attendance_photos_command())

	def resend_attendance(self, start: datetime, end: datetime) -> dict:
		"""Ask the device to post the range's punches to the callback URL again."""
		return self.call(resend_attendance_command(start, end))

	def resend_all_users(self) -> dict:
		"""Ask the device to post every user (UserUpdated callbacks) to the callback URL."""
		return self.call(resend_all_users_command())

	def enroll_fingerprint(self, user_id: str, first_name: str = "", last_name: str = "") -> dict:
		return self.call(enroll_fingerprint_command(user_id, first_name, last_name))

	def update_access_time(self, user_id: str, start: datetime, end: datetime) -> dict:
		return self.call(update_access_time_command(user_id, start, end, self.utc_offset))

	def enable_user(self, user_id: str) -> dict:
		return self.call(user_access_command(user_id, True))

	def disable_user(self, user_id: str) -> dict:
		return self.call(user_access_command(user_id, False))

	def load_log_page(self, start: datetime, end: datetime, offset: int = 0) -> LoadLogPage:
		"""One page of up to 50 rows from ``start`` (an aware instant) and ``offset`` on."""
		reply = self.call(loadlog_command(start, end, offset))
		punch_log = reply.get(c.PUNCH_LOG)
		if punch_log is None:
			punch_log = {c.LOG_ROWS: []}
		if not isinstance(punch_log, dict):
			raise ProtocolError("The reply's PunchLog is not an object")
		rows = punch_log.get(c.LOG_ROWS) or []
		if not isinstance(rows, list):
			raise ProtocolError("The reply's PunchLog.Log is not a list")
		return LoadLogPage(
			offset=offset,
			rows=rows,
			next_offset=find_offset(reply),
			return_row_count=_as_int(punch_log.get(c.RETURN_ROW_COUNT)),
			operation_id=str(reply.get(c.OPERATION_ID) or ""),
			start=start,
			end=end,
		)

	def iter_load_log(self, start: datetime, end: datetime, offset: int = 0) -> Iterator[LoadLogPage]:
		"""Every page of a LoadLog, from ``start`` and ``offset`` on; the last one says why paging
		stopped. Pages asked by time (see next_page) repeat the previous page's last second."""
		while True:
			page = self.load_log_page(start, end, offset)
			step = next_page(page)
			page.stop_reason = step.stop_reason
			yield page
			if step.stop_reason:
				return
			start, offset = step.start, step.offset


def _log_instant(row) -> datetime | None:
	try:
		return parse_logtime(row.get(c.LOG_TIME)) if isinstance(row, dict) else None
	except LogTimeError:
		return None  # stored as an Error row; it cannot place the page in time


def next_page(page: LoadLogPage) -> NextPage:
	"""The request after ``page``, or why there is none.

	With an offset in the reply, the next page has the same StartTime and that offset. A full
	page without one (the vendor does not document the field's name, so a gateway may use one
	we do not know) goes on by time: StartTime a second before the page's last punch, offset
	0. That is safe only while the rows come oldest first and each page moves the StartTime
	on; when they do not, paging stops with a reason that is not ``complete``.
	"""
	if len(page.rows) < c.LOADLOG_PAGE_SIZE:
		return NextPage(stop_reason=SHORT_PAGE)
	if page.next_offset is not None:
		if page.next_offset <= page.offset:
			return NextPage(stop_reason=OFFSET_STUCK)
		return NextPage(start=page.start, offset=page.next_offset)
	instants = [instant for instant in map(_log_instant, page.rows) if instant is not None]
	if not instants:
		return NextPage(stop_reason=NO_LOGTIME)
	# Newest first (or unsorted), the rows after this page need not be later than its last one.
	if any(later < earlier for earlier, later in pairwise(instants)):
		return NextPage(stop_reason=OUT_OF_ORDER)
	if page.end is not None and instants[-1] > page.end:
		return NextPage(stop_reason=REACHED_END)  # oldest first: every row up to the end came
	start = instants[-1] - TIME_PAGING_OVERLAP
	# More than a page of punches within two seconds: asking again would get the same page.
	if page.start is None or start <= page.start:
		return NextPage(stop_reason=TIME_STUCK)
	return NextPage(start=start, offset=0)


def range_covered(rows: list, start: datetime, end: datetime) -> float | None:
	"""How far through [start, end] a page's rows reach, from 0 to 1; None when no row has a
	readable LogTime.

	A gateway that sends rows oldest first has read the range up to the page's last row; one
	that sends them newest first has read it back from the end to the last row. A page's first
	and last rows tell which.
	"""
	instants = [instant for instant in map(_log_instant, rows) if instant is not None]
	if not instants or end <= start:
		return None
	first, last = instants[0], instants[-1]
	covered = (end - last) if last < first else (last - start)
	return min(max(covered / (end - start), 0.0), 1.0)


def next_page_stop_reason(page: LoadLogPage) -> str | None:
	"""Why there is no next page after ``page``, or None when there is one to ask for."""
	return next_page(page).stop_reason


class LoadRangeError(ValueError):
	pass


def validate_load_range(start: datetime, end: datetime, now: datetime) -> None:
	"""The checks a Load Punchlog range must pass; all three datetimes aware."""
	if end <= start:
		raise LoadRangeError("The end must be after the start.")
	if start > now:
		raise LoadRangeError("The start is in the future.")
	if end > now + timedelta(minutes=5):
		raise LoadRangeError("The end is in the future.")
	if start < now - timedelta(days=c.LOADLOG_MAX_DAYS):
		raise LoadRangeError(
			f"The gateway keeps punches for {c.LOADLOG_MAX_DAYS} days only: start on or after"
			f" {(now - timedelta(days=c.LOADLOG_MAX_DAYS)):%Y-%m-%d %H:%M}."
		)
