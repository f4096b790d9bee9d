"""The simulated gateway's RESTful endpoint: authentication, failures on demand, LoadLog paging,
and every other operation answered by the device state; callbacks go to ``callback_url``."""

import bisect
import json
import secrets
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from cams_biometric.protocol import aes
from cams_biometric.protocol import constants as c
from cams_biometric.protocol.logtime import LogTimeError, parse_logtime
from cams_biometric.protocol.payload import looks_like_json
from cams_biometric.protocol.simulator.callbacks import post_callbacks, punch_event, realtime_body
from cams_biometric.protocol.simulator.device import Device

# offset: pages carry the next offset; time: no offset field, the offset asked for is ignored
# and a page is the earliest rows from StartTime (inclusive) on, so callers page by time.
PAGING_MODES = ("offset", "time")


class Gateway(Device):
	"""A simulated gateway for one device: the device's state, and the failures it should show.

	Resend and Enroll post their callbacks to ``callback_url`` (when set) in a background
	thread, after the reply, as the real gateway does; ``wait_for_callbacks`` waits for them.
	"""

	def __init__(
		self,
		service_tag_id: str = "SIM0001",
		auth_token: str | None = None,
		punches: list[dict] | None = None,
		security_key: str | None = None,
		aes_key_derivation: str = "sha256",
		page_size: int = c.LOADLOG_PAGE_SIZE,
		paging: str = "offset",
		*,
		callback_url: str | None = None,
		serial_number: str = "SIM-SERIAL",
		label: str = "Simulator",
		**device_options,
	):
		if paging not in PAGING_MODES:
			raise ValueError(f"paging must be one of {PAGING_MODES}")
		super().__init__(punches, **device_options)
		self.paging = paging
		self.service_tag_id = service_tag_id
		self.auth_token = auth_token or secrets.token_urlsafe(24)[:32]
		self.security_key = security_key
		self.aes_key_derivation = aes_key_derivation
		self.page_size = page_size
		self.callback_url = callback_url
		self.serial_number = serial_number
		self.label = label
		# One-shot failures, applied to the next calls in order, and per-offset ones.
		self.failures: deque[dict] = deque()
		self.failures_at_offset: dict[int, deque[dict]] = {}
		self.always: dict | None = None  # a failure applied to every call
		# CAMS's default while a callback URL is set: LoadLog answers StatusCode 15, the rest works.
		self.loadlog_switched_off = False
		self.calls: list[dict] = []
		self.callback_outcomes: list[str] = []
		self._senders: list[threading.Thread] = []

	def fail_next(self, *specs: dict):
		"""Queue failures for the next calls: {"status": 5}, {"http": 503}, {"delay": 2.0},
		{"offset": "stuck" | "missing"}, {"body": "garbage"}."""
		with self.lock:
			self.failures.extend(specs)

	def fail_at_offset(self, offset: int, *specs: dict):
		with self.lock:
			self.failures_at_offset.setdefault(offset, deque()).extend(specs)

	# -- request handling ------------------------------------------------------------
	def handle(self, service_tag_id: str | None, body: bytes) -> tuple[int, bytes, float]:
		"""Answer one RESTful call: (HTTP status, body, seconds to wait before answering)."""
		try:
			request = self._decode(body)
		except ValueError:
			# Plain text: a caller whose key is wrong could not read an encrypted reply.
			reply = {c.STATUS: "failed", c.STATUS_CODE: 4 if self.security_key else 1}
			return 200, json.dumps(reply).encode(), 0
		operation_id = request.get(c.OPERATION_ID, "")
		if service_tag_id != self.service_tag_id:
			return 200, self._encode({c.STATUS: "failed", c.OPERATION_ID: operation_id, c.STATUS_CODE: 2}), 0
		if request.get(c.AUTH_TOKEN) != self.auth_token:
			return 200, self._encode({c.STATUS: "failed", c.OPERATION_ID: operation_id, c.STATUS_CODE: 7}), 0

		offset = self._requested_offset(request)
		with self.lock:
			self.calls.append(
				{
					"command": [k for k in request if k not in (c.OPERATION_ID, c.AUTH_TOKEN, c.TIME)],
					"offset": offset,
					"start": self._requested_start(request),
					"operation_id": operation_id,
				}
			)
			spec = self.always
			if spec is None and self.failures:
				spec = self.failures.popleft()
			if spec is None and offset is not None and self.failures_at_offset.get(offset):
				spec = self.failures_at_offset[offset].popleft()
		spec = spec or {}
		delay = float(spec.get("delay", 0))
		if "http" in spec:
			return int(spec["http"]), b"<html><body>Gateway error</body></html>", delay
		if "status" in spec:
			reply = {c.STATUS: "failed", c.OPERATION_ID: operation_id, c.STATUS_CODE: int(spec["status"])}
			return 200, self._encode(reply), delay
		if spec.get("body") == "garbage":
			return 200, b"this is not json", delay

		reply = self._answer(request, operation_id, offset or 0, spec)
		return 200, self._encode(reply), delay

	def _answer(self, request: dict, operation_id: str, offset: int, spec: dict) -> dict:
		load = request.get(c.LOAD)
		if isinstance(load, dict) and c.PUNCH_LOG in load:
			if self.loadlog_switched_off:
				return {c.STATUS: "failed", c.OPERATION_ID: operation_id, c.STATUS_CODE: 15}
			return self._load_log(load[c.PUNCH_LOG], operation_id, offset, spec)
		if isinstance(load, dict) and c.DEVICE_INFORMATION in load:
			return {
				c.STATUS: "done",
				c.OPERATION_ID: operation_id,
				c.STATUS_CODE: 0,
				c.DEVICE_INFORMATION: self.device_information(),
			}
		operations = {
			c.ADD: self.add,
			c.DELETE: self.delete,
			c.RESEND: self.resend,
			c.ENROLL: self.enroll,
			c.UPDATE: self.update,
		}
		for command, operation in operations.items():
			if command in request:
				status, callbacks = operation(request[command])
				if status == 0 and callbacks:
					self._post_later(callbacks)
				return {
					c.STATUS: "done" if status == 0 else "failed",
					c.OPERATION_ID: operation_id,
					c.STATUS_CODE: status,
				}
		return {c.STATUS: "done", c.OPERATION_ID: operation_id, c.STATUS_CODE: 0}

	# -- callbacks -------------------------------------------------------------------
	def _post_later(self, callbacks: list[tuple[str, dict]]):
		if not self.callback_url:
			return  # a device without a callback URL has nowhere to send them
		bodies = [
			realtime_body(
				key,
				punch_event(event) if key == c.PUNCH_LOG else event,
				self.auth_token,
				self.serial_number,
				self.label,
			)
			for key, event in callbacks
		]

		after: list[threading.Thread] = []  # the sender before this one, set below

		def send():
			# One after another, as a device sends them: an operation's callbacks wait for
			# those of the operation before it.
			for previous in after:
				previous.join()
			outcomes = post_callbacks(
				self.callback_url,
				bodies,
				security_key=self.security_key,
				aes_key_derivation=self.aes_key_derivation,
				timeout=10,
			)
			with self.lock:
				self.callback_outcomes.extend(outcomes)

		sender = threading.Thread(target=send, daemon=True)
		with self.lock:
			after.extend(self._senders[-1:])
			self._senders.append(sender)
		sender.start()

	def punch(self, user_id: str, punch_type: str) -> dict:
		"""A user punches now: the row joins the log (LoadLog returns it) and goes out as a
		RealTime callback, as a device online with a callback URL sends it."""
		row = self.punch_now(user_id, punch_type)
		self._post_later([(c.PUNCH_LOG, row)])
		return row

	def wait_for_callbacks(self, timeout: float = 10) -> bool:
		"""Wait until every callback posted so far has been answered; False on a timeout."""
		deadline = time.monotonic() + timeout
		with self.lock:
			senders = list(self._senders)
		for sender in senders:
			sender.join(max(0, deadline - time.monotonic()))
		return not any(sender.is_alive() for sender in senders)

	# -- LoadLog ---------------------------------------------------------------------
	def _load_log(self, punch_log, operation_id: str, offset: int, spec: dict) -> dict:
		try:
			log_filter = punch_log[c.FILTER]
			start = parse_logtime(log_filter[c.START_TIME])
			end = parse_logtime(log_filter[c.END_TIME])
		except (KeyError, TypeError, LogTimeError):
			return {c.STATUS: "failed", c.OPERATION_ID: operation_id, c.STATUS_CODE: 1}
		with self.lock:
			first = bisect.bisect_left(self.instants, start)
			after_last = bisect.bisect_right(self.instants, end)
			start_at = first + (max(0, offset) if self.paging == "offset" else 0)
			page = self.punches[start_at : min(after_last, start_at + self.page_size)]
		matching = max(0, after_last - first)
		punch_log_reply = {c.RETURN_ROW_COUNT: str(len(page)), c.LOG_ROWS: page}
		if self.paging == "offset" and offset + self.page_size < matching:
			next_offset = offset + self.page_size
			if spec.get("offset") == "stuck":
				next_offset = offset
			if spec.get("offset") != "missing":
				punch_log_reply[c.OFFSET_KEYS[0]] = str(next_offset)
		return {
			c.STATUS: "done",
			c.OPERATION_ID: operation_id,
			c.STATUS_CODE: 0,
			c.PUNCH_LOG: punch_log_reply,
		}

	@staticmethod
	def _requested_start(request: dict) -> str | None:
		load = request.get(c.LOAD)
		punch_log = load.get(c.PUNCH_LOG) if isinstance(load, dict) else None
		log_filter = punch_log.get(c.FILTER) if isinstance(punch_log, dict) else None
		return log_filter.get(c.START_TIME) if isinstance(log_filter, dict) else None

	@staticmethod
	def _requested_offset(request: dict) -> int | None:
		load = request.get(c.LOAD)
		punch_log = load.get(c.PUNCH_LOG) if isinstance(load, dict) else None
		if not isinstance(punch_log, dict):
			return None
		for holder in (punch_log, punch_log.get(c.FILTER) or {}):
			for key in c.OFFSET_KEYS:
				if key in holder:
					try:
						return int(holder[key])
					except (TypeError, ValueError):
						return 0
		return 0

	def _decode(self, body: bytes) -> dict:
		if self.security_key and not looks_like_json(body):
			request, _ = aes.decrypt(body, self.security_key, preferred=self.aes_key_derivation)
		else:
			request = json.loads(body.decode("utf-8-sig"))
		if not isinstance(request, dict):
			raise ValueError("not an object")
		return request

	def _encode(self, reply: dict) -> bytes:
		data = json.dumps(reply).encode()
		return aes.encrypt(data, self.security_key, self.aes_key_derivation) if self.security_key else data


class _Handler(BaseHTTPRequestHandler):
	gateway: Gateway
	gateways: dict[str, Gateway]
	server_version = "cams-simulator"

	def log_message(self, format, *args):  # keep test output quiet
		pass

	def _send(self, status: int, body: bytes, content_type="application/json"):
		self.send_response(status)
		self.send_header("Content-Type", content_type)
		self.send_header("Content-Length", str(len(body)))
		self.end_headers()
		try:
			self.wfile.write(body)
		except (BrokenPipeError, ConnectionResetError):
			pass  # the caller gave up (timed out, or its process was killed)

	def _gateway(self, url) -> Gateway:
		# One server can play several devices, told apart by the stgid query parameter.
		service_tag_id = (parse_qs(url.query).get(c.STGID_PARAM) or [None])[0]
		return self.gateways.get(service_tag_id, self.gateway)

	def do_GET(self):
		url = urlsplit(self.path)
		if url.path == "/__sim/stats":
			gateway = self._gateway(url)
			with gateway.lock:
				stats = {
					"punches": len(gateway.punches),
					"calls": len(gateway.calls),
					"users": len(gateway.users),
					"photos": len(gateway.photos),
				}
			return self._send(200, json.dumps(stats).encode())
		self._send(404, b'{"error": "POST the RESTful commands"}')

	def do_POST(self):
		url = urlsplit(self.path)
		length = int(self.headers.get("Content-Length") or 0)
		body = self.rfile.read(min(length, 10 * 1024 * 1024))
		gateway = self._gateway(url)
		if url.path == "/__sim/failures":
			try:
				specs = json.loads(body)
				gateway.fail_next(*(specs if isinstance(specs, list) else [specs]))
			except (ValueError, TypeError):
				return self._send(400, b'{"error": "POST a JSON list of failure specs"}')
			return self._send(200, b'{"queued": true}')
		service_tag_id = (parse_qs(url.query).get(c.STGID_PARAM) or [None])[0]
		status, reply, delay = gateway.handle(service_tag_id, body)
		if delay:
			time.sleep(delay)
		self._send(status, reply)


class GatewayServer:
	"""Serve a Gateway over HTTP on loopback, in a background thread.

	``more`` are further devices on the same server; a request goes to the one its stgid
	names, and to ``gateway`` when it names none of them.
	"""

	def __init__(
		self, gateway: Gateway, host: str = "127.0.0.1", port: int = 0, more: tuple[Gateway, ...] = ()
	):
		gateways = {g.service_tag_id: g for g in (gateway, *more)}
		handler = type("Handler", (_Handler,), {"gateway": gateway, "gateways": gateways})
		self.gateway = gateway
		self.gateways = gateways
		self.httpd = ThreadingHTTPServer((host, port), handler)
		self.httpd.daemon_threads = True
		# A short poll interval: stop() then returns at once rather than after up to half a second.
		self.thread = threading.Thread(
			target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
		)

	@property
	def url(self) -> str:
		host, port = self.httpd.server_address[:2]
		return f"http://{host}:{port}/"

	def start(self) -> "GatewayServer":
		self.thread.start()
		return self

	def stop(self):
		self.httpd.shutdown()
		self.httpd.server_close()

	def __enter__(self):
		return self.start()

	def __exit__(self, *exc):
		self.stop()
