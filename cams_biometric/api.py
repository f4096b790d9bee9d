"""HTTP endpoints. The callback stays thin: authenticate, store, answer, queue."""

import json
from datetime import timedelta

import frappe
from frappe import _
from frappe.utils import cint, now_datetime
from werkzeug.wrappers import Response

from cams_biometric import arguments, auth_failures, clock_changes, device_users, photos, processing
from cams_biometric.auth import UNKNOWN_DEVICE, Authenticated, AuthenticationFailed, Device, authenticate
from cams_biometric.cams_biometric.doctype.cams_biometric_settings.cams_biometric_settings import (
	ignored_punches,
)
from cams_biometric.constants import CALLBACK_METHOD, DEVICE, PENDING, RAW_PUNCH, SETTINGS, SOURCE_CALLBACK
from cams_biometric.failures import log_failure
from cams_biometric.ingest import store_event, store_punch, to_json
from cams_biometric.protocol import constants as c
from cams_biometric.protocol.logtime import LogTimeError, format_utc_offset, parse_logtime
from cams_biometric.protocol.payload import PayloadError, read_callback, redact, strip_biometrics

# A device's Last Punch Received is written at most this often: writing it on every punch
# queued a device's concurrent callbacks behind its row lock.
LAST_PUNCH_INTERVAL = 60  # seconds

# Frappe's deferred Error Logs wait in this Redis list until the scheduler inserts them.
DEFERRED_ERROR_LOGS = "insert_queue_for_Error Log"
# How far back from the list's end to look for the Error Log of this very request.
DEFERRED_ERROR_LOG_SCAN = 50


def _reply(status: int, body: bytes | dict) -> Response:
	if isinstance(body, dict):
		body = json.dumps(body).encode()
	return Response(body, status=status, content_type="application/json")


def _error(status: int, message: str) -> Response:
	return _reply(status, {"status": "error", "message": message})


@frappe.whitelist(allow_guest=True, methods=["POST"])
def callback() -> Response:
	"""The URL pasted into the CAMS API Monitor; every callback event arrives here.

	Answers exactly {"status":"done"} once the body is durably stored (the request's
	transaction commits before the response leaves), also for punches whose data is bad:
	their raw row says why, and the gateway stops resending them.
	"""
	return handle_callback(frappe.request)


def handle_callback(request, labelled_json: bool = False) -> Response:
	"""Authenticate, store and answer one callback body; the caller commits."""
	# The raw body: Frappe HTML-sanitises guest form values, and AES bodies are not JSON.
	body = request.get_data(cache=True)
	if len(body) > c.MAX_CALLBACK_BYTES:
		return _error(413, _("The body is larger than {0} bytes").format(c.MAX_CALLBACK_BYTES))

	stgid = request.args.get(c.STGID_PARAM)
	try:
		sender = authenticate(body, stgid)
	except PayloadError as e:
		if labelled_json:
			return _error(
				400, _("The body is labelled application/json but is not a JSON object ({0})").format(e)
			)
		return _error(400, str(e))
	except AuthenticationFailed as e:
		if stgid and e.reason != UNKNOWN_DEVICE:  # the failure has a device to be shown on
			auth_failures.record_device_failure(stgid.strip(), e.reason)
		if auth_failures.too_many_failures(auth_failures.client_address(request)):
			return _error(429, _("Too many failed authentications from this address; try again later"))
		return _error(401, _("Authentication failed"))

	try:
		store(sender)
	except Exception:
		# Not "done": the gateway sends the body again later. No traceback to the caller.
		frappe.db.rollback()
		_log_storage_failure()
		return _error(503, _("The callback could not be stored just now; send it again later"))
	return _reply(200, c.CALLBACK_DONE)


def _log_storage_failure():
	# The traceback without its variables, and not through frappe.log_error: they, and the body
	# it would send to Sentry, hold the token and any templates and photo.
	log_failure("CAMS callback could not be stored", reference_doctype=DEVICE)


def after_request(response: Response | None = None, request=None):
	"""Handle a callback body labelled application/json that Frappe could not parse.

	Frappe v15 parses such a body before any app code runs and fails on it (500, or 417 for
	a JSON scalar), yet the vendor labels every body application/json, AES ciphertext
	included. The request is initialised and the database connected by then, so the body
	goes through the same authenticate → store → answer path here, and Frappe's Error Log
	of its own failure is withdrawn: the body was answered, nothing failed.
	"""
	if not _is_unparsed_callback(response, request):
		return
	try:
		answer = handle_callback(request, labelled_json=True)
		# Frappe has ended the request's transaction before after_request hooks run.
		frappe.db.commit()  # nosemgrep
	except Exception:
		frappe.db.rollback()
		_log_storage_failure()
		answer = _error(503, _("The callback could not be stored just now; send it again later"))
	_withdraw_frappe_error_log()
	response.status_code = answer.status_code
	response.content_type = answer.content_type
	response.set_data(answer.get_data())


def _is_unparsed_callback(response: Response | None, request) -> bool:
	return bool(
		response is not None
		and request is not None
		and response.status_code in (417, 500)
		and request.method == "POST"
		and request.path.startswith("/api/")
		and request.path.rstrip("/").endswith(f"/method/{CALLBACK_METHOD}")
		and request.is_json
		and not _is_json_object(request.get_data(as_text=True))
	)


def _is_json_object(text: str) -> bool:
	try:
		return isinstance(json.loads(text), dict | list)
	except (ValueError, RecursionError):  # not JSON; nested too deep for the parser
		return False


def _withdraw_frappe_error_log():
	"""Take back the deferred Error Log Frappe queued for its failure to parse this body.

	It waits in Redis until the scheduler inserts it. Any record of a callback body that
	make_form_dict could not parse is one this hook answered, so removing the newest such
	one is right even when two requests race. Best effort: one the scheduler took already
	stays an Error Log, with device secrets redacted (auth.redact_error_log).
	"""
	key = frappe.cache.make_key(DEFERRED_ERROR_LOGS)
	try:
		records = frappe.cache.lrange(DEFERRED_ERROR_LOGS, -DEFERRED_ERROR_LOG_SCAN, -1) or []
		for raw in reversed(records):
			error = (json.loads(raw) or {}).get("error") or ""
			if "make_form_dict" in error and CALLBACK_METHOD in error:
				frappe.cache.lrem(key, 1, raw)
				return
	except Exception:
		frappe.logger("cams_biometric").warning("Could not withdraw Frappe's Error Log of a callback")


def store(sender: Authenticated):
	"""Store an authenticated body: a punch in the raw log, anything else as a device event."""
	device = sender.device
	event = read_callback(sender.doc)
	if event.event_type == c.EVENT_PUNCH_LOG:
		raw_json = to_json(redact(sender.doc))
		stored = store_punch(
			device.name,
			event.data,
			source=SOURCE_CALLBACK,
			raw_json=raw_json,
			operation_id=event.operation_id,
		)
		if stored.created:
			_note_last_punch(device)
			if stored.status == PENDING:
				processing.enqueue_drain()
	else:
		# Templates and photos never sit in the event log; the directory keeps templates
		# encrypted, and CAMS Attendance Photo the photos.
		result = photos.apply_event(device.name, event) or device_users.apply_event(
			device.name, event.event_type, event.data
		)
		event_name = store_event(
			device.name, event, to_json(strip_biometrics(redact(sender.doc))), result=result
		)
		clock_changes.apply_event(device.name, event_name, event)

	# Written only when they change. update_modified=False: `modified` keys the worker's
	# cache of decrypted secrets.
	changes = {}
	if sender.aes_key_derivation and sender.aes_key_derivation != device.aes_key_derivation:
		changes["aes_key_derivation"] = sender.aes_key_derivation
	if sender.serial_mismatch != device.reported_serial_number:
		changes["reported_serial_number"] = sender.serial_mismatch
	if event.event_type == c.EVENT_PUNCH_LOG and (offset := _utc_offset_of(event.data)):
		if offset != device.utc_offset:
			changes["utc_offset"] = offset
	if changes:
		frappe.db.set_value(DEVICE, device.name, changes, update_modified=False)


def _utc_offset_of(punch) -> str | None:
	"""The UTC offset of the device's clock, as the LogTime of a real-time punch states it:
	access windows are sent in the device's own time (employee_devices)."""
	log_time = punch.get(c.LOG_TIME) if isinstance(punch, dict) else None
	try:
		return format_utc_offset(parse_logtime(log_time).utcoffset())
	except LogTimeError:
		return None


def _note_last_punch(device: Device):
	now = now_datetime()
	last = device.last_punch_received
	if last and timedelta(0) <= now - last < timedelta(seconds=LAST_PUNCH_INTERVAL):
		return
	frappe.db.set_value(DEVICE, device.name, "last_punch_received", now, update_modified=False)


@frappe.whitelist(methods=["POST"])
def reprocess(names: list[str] | str) -> dict:
	"""Try again to turn Pending, Unmapped, Error and Ignored raw punches into Employee Checkins."""
	# The doctype's permissions decide (frappe.only_for is skipped in tests, so never tested).
	frappe.has_permission(RAW_PUNCH, "write", throw=True)
	names = arguments.names(names, RAW_PUNCH, "names")
	if not names:
		arguments.refuse("names", _("pass the names of the raw punches to reprocess"))
	for name in names:
		frappe.get_doc(RAW_PUNCH, name).check_permission("write")

	return _reprocess(names)


@frappe.whitelist(methods=["POST"])
def reprocess_ignored(args: dict | str) -> dict:
	"""The settings' offer once a punch type is switched back on: reprocess its Ignored punches.

	``args`` is {"punch_types": [...]}, as msgprint's server action sends it.
	"""
	frappe.has_permission(RAW_PUNCH, "write", throw=True)
	punch_types = arguments.text_list(arguments.json_object(args, "args").get("punch_types"), "punch_types")
	if not punch_types:
		arguments.refuse("punch_types", _("pass the punch types whose Ignored punches to reprocess"))
	for punch_type in punch_types:
		arguments.choice(punch_type, c.PUNCH_TYPES, "punch_types")
	retention = frappe.db.get_single_value(SETTINGS, "raw_log_retention_days")
	names = ignored_punches(punch_types, cint(retention))
	if not names:
		frappe.msgprint(_("There are no Ignored punches of {0} to reprocess.").format(", ".join(punch_types)))
	return _reprocess(names)


def _reprocess(names: list[str]) -> dict:
	if len(names) <= processing.INLINE_REPROCESS_LIMIT:
		return {"queued": False, "outcomes": processing.reprocess_rows(names)}
	processing.enqueue_reprocess(names)
	frappe.msgprint(_("{0} punches are being reprocessed in the background.").format(len(names)), alert=True)
	return {"queued": True, "count": len(names)}
