"""Who sent a callback: the device whose AuthToken (and, if it has one, security key) fits."""

import hmac
from dataclasses import dataclass
from datetime import datetime

import frappe
from frappe.utils.password import get_decrypted_password

from cams_biometric.constants import DEVICE
from cams_biometric.protocol import aes
from cams_biometric.protocol import constants as c
from cams_biometric.protocol.payload import PayloadError, find_auth_token, load_json_body, looks_like_json


class AuthenticationFailed(Exception):
	"""No enabled device sent this body. The caller is told nothing more; ``reason`` (one of
	the constants below) goes on the device's record of failures, never the body or token."""

	def __init__(self, reason: str):
		super().__init__(reason)
		self.reason = reason


WRONG_TOKEN = "Wrong or missing AuthToken"
SERIAL_OF_ANOTHER_DEVICE = "SerialNumber of another registered device"
NO_KEY_OPENS = "No security key opens the encrypted body"
DEVICE_DISABLED = "Device disabled"
UNKNOWN_DEVICE = "No device has this Service Tag ID"  # nothing to record it on


@dataclass(frozen=True)
class Device:
	name: str  # the Service Tag ID
	serial_number: str | None
	reported_serial_number: str | None
	aes_key_derivation: str | None
	auth_token: str | None
	security_key: str | None
	last_punch_received: datetime | None
	utc_offset: str | None = None  # of its clock, as its last punch stated it


@dataclass(frozen=True)
class Authenticated:
	device: Device
	doc: dict
	aes_key_derivation: str | None  # set when the body was encrypted
	# The body's SerialNumber when it is not the one registered on the device (a typo, a
	# replaced board): the punch is taken, and the device shows the mismatch.
	serial_mismatch: str | None = None


# Decrypted secrets per site and device, valid while the device's `modified` is unchanged
# (saving a new token or key changes it). Kept in the worker's memory only, never in Redis.
_secrets: dict[tuple[str, str], tuple[object, str | None, str | None]] = {}


def _device_secrets(name: str, modified) -> tuple[str | None, str | None]:
	key = (frappe.local.site, name)
	cached = _secrets.get(key)
	if cached and cached[0] == modified:
		return cached[1], cached[2]
	token = get_decrypted_password(DEVICE, name, "auth_token", raise_exception=False)
	security_key = get_decrypted_password(DEVICE, name, "security_key", raise_exception=False)
	_secrets[key] = (modified, token, security_key)
	return token, security_key


def enabled_devices(service_tag_id: str | None = None) -> list[Device]:
	# frappe.qb rather than get_all: this runs on every callback, and get_all's permission
	# and meta machinery cost more than the query.
	table = frappe.qb.DocType(DEVICE)
	query = (
		frappe.qb.from_(table)
		.select(
			table.name,
			table.modified,
			table.serial_number,
			table.reported_serial_number,
			table.aes_key_derivation,
			table.last_punch_received,
			table.utc_offset,
		)
		.where(table.enabled == 1)
		.orderby(table.name)
	)
	if service_tag_id is not None:
		query = query.where(table.name == service_tag_id)
	rows = query.run(as_dict=True)
	devices = []
	for row in rows:
		token, security_key = _device_secrets(row.name, row.modified)
		devices.append(
			Device(
				name=row.name,
				serial_number=row.serial_number or None,
				reported_serial_number=row.reported_serial_number or None,
				aes_key_derivation=row.aes_key_derivation or None,
				auth_token=token,
				security_key=security_key,
				last_punch_received=row.last_punch_received,
				utc_offset=row.utc_offset or None,
			)
		)
	return devices


def _serial_number(doc: dict) -> str | None:
	realtime = doc.get(c.REALTIME)
	serial = realtime.get(c.SERIAL_NUMBER) if isinstance(realtime, dict) else None
	return str(serial).strip() or None if isinstance(serial, str | int) else None


def _token_fits(device: Device, token: str) -> bool:
	return bool(device.auth_token) and hmac.compare_digest(device.auth_token.encode(), token.encode())


def _serial_fits(device: Device, serial: str | None) -> bool:
	return not serial or not device.serial_number or serial == device.serial_number


def _identify(candidates: list[Device], doc: dict, derivation: str | None) -> Authenticated:
	"""The device among ``candidates`` (those whose token, and key, opened the body) that sent it.

	The token proves the sender; the serial number only tells apart devices that share a
	token. A serial that differs from the registered one is taken and flagged, unless it is
	registered to another device (a body of that device cannot carry this one's token).
	"""
	token = find_auth_token(doc)
	fitting = [device for device in candidates if token and _token_fits(device, token)]
	if not fitting:
		raise AuthenticationFailed(WRONG_TOKEN)
	serial = _serial_number(doc)
	for device in fitting:
		if _serial_fits(device, serial):
			return Authenticated(device, doc, derivation)
	others = frappe.db.exists(
		DEVICE, {"serial_number": serial, "name": ("not in", [d.name for d in fitting])}
	)
	if others or len(fitting) > 1:
		raise AuthenticationFailed(SERIAL_OF_ANOTHER_DEVICE)
	return Authenticated(fitting[0], doc, derivation, serial_mismatch=serial)


def authenticate(body: bytes, service_tag_id: str | None) -> Authenticated:
	"""Find the enabled device that sent ``body``.

	Raises PayloadError for a body that cannot be read at all (HTTP 400) and
	AuthenticationFailed for everything else that does not authenticate (HTTP 401).
	"""
	if service_tag_id is not None:
		service_tag_id = service_tag_id.strip()
		if not service_tag_id or len(service_tag_id) > c.MAX_SERVICE_TAG_LENGTH:
			raise AuthenticationFailed(UNKNOWN_DEVICE)
	if not body.strip():
		raise PayloadError("The body is empty")
	devices = enabled_devices(service_tag_id)
	if service_tag_id and not devices:
		disabled = frappe.db.exists(DEVICE, {"name": service_tag_id, "enabled": 0})
		raise AuthenticationFailed(DEVICE_DISABLED if disabled else UNKNOWN_DEVICE)

	if looks_like_json(body):
		return _identify(devices, load_json_body(body), None)

	if aes.decode_ciphertext(body) is None:
		raise PayloadError("The body is neither JSON nor Base64 AES ciphertext")
	reason = NO_KEY_OPENS
	for device in devices:
		if not device.security_key:
			continue
		try:
			doc, derivation = aes.decrypt(body, device.security_key, preferred=device.aes_key_derivation)
		except aes.AESDecryptError:
			continue
		try:
			return _identify([device], doc, derivation)
		except AuthenticationFailed as e:
			reason = e.reason  # another device may share the key: try it too
	raise AuthenticationFailed(reason)


# Shorter values would mangle the log more than they protect.
MIN_REDACTED_LENGTH = 6
REDACTED = "********"


def redact_error_log(doc, method=None):
	"""Error Log before_insert: no device token or security key stays in a logged error.

	Frappe logs some request failures with the request body among the traceback's
	variables (a callback body labelled JSON that is not, for one), where a token can sit.
	"""
	try:
		secrets = _all_device_secrets()
	except Exception:
		return  # never stop an error from being logged (e.g. before our tables exist)
	for field in ("method", "error"):
		text = doc.get(field)
		if not text:
			continue
		for secret in secrets:
			text = text.replace(secret, REDACTED)
		doc.set(field, text)


def _all_device_secrets() -> list[str]:
	table = frappe.qb.DocType(DEVICE)
	rows = frappe.qb.from_(table).select(table.name, table.modified).run(as_dict=True)
	secrets = []
	for row in rows:
		for secret in _device_secrets(row.name, row.modified):
			if secret and len(secret) >= MIN_REDACTED_LENGTH:
				secrets.append(secret)
	# Longest first, so a secret that contains another is not left half-replaced.
	return sorted(secrets, key=len, reverse=True)
