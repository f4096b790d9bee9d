"""HTTP endpoints. The callback stays thin: authenticate, store, answer, queue."""

import json
from datetime import timedelta

import frappe
from frappe import _
from frappe.utils import cint, now_datetime
from werkzeug.wrappers import Response

from cams_biometric import processing
from cams_biometric.auth import Authenticated, AuthenticationFailed, Device, authenticate
from cams_biometric.constants import CALLBACK_METHOD, DEVICE, PENDING, RAW_PUNCH, SOURCE_CALLBACK
from cams_biometric.ingest import store_event, store_punch, to_json
from cams_biometric.protocol import constants as c
from cams_biometric.protocol.payload import PayloadError, read_callback, redact

# Failed authentications allowed per address and window before answers turn to 429.
# Valid bodies are never limited: the gateway sends every device's punches from a few
# addresses, so limiting by address alone would drop real punches.
AUTH_FAILURE_LIMIT = 20
AUTH_FAILURE_WINDOW = 60  # seconds

# A device's Last Punch Received is written at most this often: writing it on every punch
# queued a device's concurrent callbacks behind its row lock.
LAST_PUNCH_INTERVAL = 60  # seconds


def _reply(status: int, body: bytes | dict) -> Response:
	if isinstance(body, dict):
		body = json.dumps(body).encode()
	return Response(body, status=status, content_type="application/json")


def _error(status: int, message: str) -> Response:
	return _reply(status, {"status": "error", "message": message})


def _too_many_failures(address: str) -> bool:
	"""Count a failed authentication from ``address``; True once it is over the limit."""
	limit = cint(frappe.conf.get("cams_auth_failure_limit")) or AUTH_FAILURE_LIMIT
	key = frappe.cache.make_key(f"cams_biometric:auth_failures:{address}")
	failures = frappe.cache.incr(key)
	if failures == 1:
		frappe.cache.expire(key, AUTH_FAILURE_WINDOW)
	return failures > limit


@frappe.whitelist(allow_guest=True, methods=["POST"])
def callback() -> Response:
	"""The URL pasted into the CAMS API Monitor; every callback event arrives here.

	Answers exactly {"status":"done"} once the body is durably stored (the request's
	transaction commits before the response leaves), also for punches whose data is bad:
	their raw row says why, and the gateway stops resending them.
	"""
	# The raw body: Frappe HTML-sanitises guest form values, and AES bodies are not JSON.
	body = frappe.request.get_data(cache=True)
	if len(body) > c.MAX_CALLBACK_BYTES:
		return _error(413, _("The body is larger than {0} bytes").format(c.MAX_CALLBACK_BYTES))

	try:
		sender = authenticate(body, frappe.request.args.get(c.STGID_PARAM))
	except PayloadError as e:
		return _error(400, str(e))
	except AuthenticationFailed:
		if _too_many_failures(frappe.local.request_ip or "unknown"):
			return _error(429, _("Too many failed authentications from this address; try again later"))
		return _error(401, _("Authentication failed"))

	try:
		store(sender)
	except Exception:
		# Not "done": the gateway sends the body again later. No traceback to the caller.
		frappe.db.rollback()
		frappe.log_error(title="CAMS callback could not be stored", reference_doctype=DEVICE)
		return _error(503, _("The callback could not be stored just now; send it again later"))
	return _reply(200, c.CALLBACK_DONE)


def after_request(response: Response | None = None, request=None):
	"""Give a body labelled application/json that is not a JSON object our 400, not Frappe's.

	Frappe v15 parses such a body before any app code runs (before_request hooks included)
	and answers 500 with its traceback when it is not JSON, or 417 when it is not an object
	or a list. The gateway and a hostile caller get a reason instead, like every other
	unreadable body. Frappe still records its Error Log; `auth.redact_error_log` keeps
	device secrets out of it.
	"""
	if (
		response is None
		or request is None
		or response.status_code not in (417, 500)
		or not request.path.startswith("/api/")
		or not request.path.rstrip("/").endswith(f"/method/{CALLBACK_METHOD}")
		or not request.is_json
		or _is_json_object(request.get_data(as_text=True))
	):
		return
	response.status_code = 400
	response.content_type = "application/json"
	response.set_data(
		json.dumps(
			{
				"status": "error",
				"message": _("The body is labelled application/json but is not a JSON object"),
			}
		)
	)


def _is_json_object(text: str) -> bool:
	try:
		return isinstance(json.loads(text), dict | list)
	except (ValueError, RecursionError):  # not JSON; nested too deep for the parser
		return False


def store(sender: Authenticated):
	"""Store an authenticated body: a punch in the raw log, anything else as a device event."""
	device = sender.device
	event = read_callback(sender.doc)
	raw_json = to_json(redact(sender.doc))
	if event.event_type == c.EVENT_PUNCH_LOG:
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
		store_event(device.name, event, raw_json)

	if sender.aes_key_derivation and sender.aes_key_derivation != device.aes_key_derivation:
		# update_modified=False: `modified` keys the worker's cache of decrypted secrets.
		frappe.db.set_value(
			DEVICE, device.name, "aes_key_derivation", sender.aes_key_derivation, update_modified=False
		)


def _note_last_punch(device: Device):
	now = now_datetime()
	last = device.last_punch_received
	if last and timedelta(0) <= now - last < timedelta(seconds=LAST_PUNCH_INTERVAL):
		return
	frappe.db.set_value(DEVICE, device.name, "last_punch_received", now, update_modified=False)


@frappe.whitelist(methods=["POST"])
def reprocess(names: list[str] | str) -> dict:
	"""Try again to turn Pending, Unmapped and Error raw punches into Employee Checkins."""
	# The doctype's permissions decide (frappe.only_for is skipped in tests, so never tested).
	frappe.has_permission(RAW_PUNCH, "write", throw=True)
	if isinstance(names, str):
		names = frappe.parse_json(names) if names.startswith("[") else [names]
	if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
		frappe.throw(_("Pass the names of the raw punches to reprocess"))
	for name in names:
		frappe.get_doc(RAW_PUNCH, name).check_permission("write")

	if len(names) <= processing.INLINE_REPROCESS_LIMIT:
		return {"queued": False, "outcomes": processing.reprocess_rows(names)}
	processing.enqueue_reprocess(names)
	return {"queued": True, "count": len(names)}
