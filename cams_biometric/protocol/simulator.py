"""``cams-simulator``: plays the CAMS gateway on this machine.

- ``serve``: the RESTful endpoint (LoadLog with 50-row pages and offsets, DeviceInformation,
  any other command answered "done"), with failures on demand. ``--paging time`` plays a
  gateway whose LoadLog names no offset we know and pages by StartTime only.
- ``send``: RealTime PunchLog callbacks to a site's callback URL, plain or AES-encrypted,
  in order or shuffled, with duplicates.
- ``generate``: a punch set as JSON, to load into ``serve`` or ``send`` later.

An admin uses it to try an installation before any device is connected; the tests use it
as the remote end. It listens on 127.0.0.1 unless told otherwise.
"""

import argparse
import bisect
import json
import random
import secrets
import sys
import threading
import time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import requests

from cams_biometric.protocol import aes
from cams_biometric.protocol import constants as c
from cams_biometric.protocol.client import new_operation_id
from cams_biometric.protocol.logtime import LogTimeError, format_logtime, parse_logtime
from cams_biometric.protocol.payload import looks_like_json

# A working day's punches: (type, hour, minute) around which each user punches.
DAY_PLAN = {
	1: [("CheckIn", 9, 0)],
	2: [("CheckIn", 9, 0), ("CheckOut", 18, 0)],
	4: [("CheckIn", 9, 0), ("BreakOut", 13, 0), ("BreakIn", 13, 45), ("CheckOut", 18, 0)],
	6: [
		("CheckIn", 9, 0),
		("BreakOut", 11, 0),
		("BreakIn", 11, 15),
		("MealOut", 13, 0),
		("MealIn", 13, 45),
		("CheckOut", 18, 0),
	],
}
INPUT_TYPES = ("Fingerprint", "Face", "Card", "Palm")
# offset: pages carry the next offset; time: no offset field, the offset asked for is ignored
# and a page is the earliest rows from StartTime (inclusive) on, so callers page by time.
PAGING_MODES = ("offset", "time")


def generate_punches(
	users: int,
	days: int,
	per_day: int = 4,
	end: datetime | None = None,
	utc_offset: timedelta = timedelta(hours=5, minutes=30),
	seed: int = 1,
	user_ids: list[str] | None = None,
) -> list[dict]:
	"""A deterministic punch set, as LoadLog rows, sorted by time.

	``users`` users punch ``per_day`` times on each of the ``days`` days before ``end``
	(default: now), at the device's ``utc_offset``. Every punch is a distinct instant.
	"""
	if per_day not in DAY_PLAN:
		raise ValueError(f"per_day must be one of {sorted(DAY_PLAN)}")
	rng = random.Random(seed)
	zone = timezone(utc_offset)
	end = (end or datetime.now(timezone.utc)).astimezone(zone)
	user_ids = user_ids or [str(1000 + i) for i in range(users)]
	rows = []
	for day in range(days, 0, -1):
		date = (end - timedelta(days=day)).date()
		for index, user_id in enumerate(user_ids):
			for punch_type, hour, minute in DAY_PLAN[per_day]:
				# Spread users over ±20 minutes, with distinct seconds so instants never collide.
				jitter = timedelta(minutes=rng.randint(-20, 20), seconds=index % 60)
				moment = datetime(date.year, date.month, date.day, hour, minute, tzinfo=zone) + jitter
				rows.append(
					{
						"Type": punch_type,
						"InputType": rng.choice(INPUT_TYPES),
						"UserID": user_id,
						"LogTime": format_logtime(moment),
					}
				)
	rows.sort(key=lambda row: parse_logtime(row["LogTime"]))
	return rows


class Gateway:
	"""A simulated gateway for one device: its punch log and the failures it should show."""

	def __init__(
		self,
		service_tag_id: str = "SIM0001",
		auth_token: str | None = None,
		punches: list[dict] | None = None,
		security_key: str | None = None,
		aes_key_derivation: str = "sha256",
		page_size: int = c.LOADLOG_PAGE_SIZE,
		paging: str = "offset",
	):
		if paging not in PAGING_MODES:
			raise ValueError(f"paging must be one of {PAGING_MODES}")
		self.paging = paging
		self.service_tag_id = service_tag_id
		self.auth_token = auth_token or secrets.token_urlsafe(24)[:32]
		self.security_key = security_key
		self.aes_key_derivation = aes_key_derivation
		self.page_size = page_size
		self.lock = threading.Lock()
		self.set_punches(punches or [])
		# One-shot failures, applied to the next calls in order, and per-offset ones.
		self.failures: deque[dict] = deque()
		self.failures_at_offset: dict[int, deque[dict]] = {}
		self.always: dict | None = None  # a failure applied to every call
		self.calls: list[dict] = []

	def set_punches(self, punches: list[dict]):
		timed = sorted(((parse_logtime(row["LogTime"]), i, row) for i, row in enumerate(punches)))
		with self.lock:
			self.punches = [row for _, _, row in timed]
			# Parsed once: a LoadLog page is found by bisection, not by parsing the whole log.
			self.instants = [instant for instant, _, _ in timed]

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
			return self._load_log(load[c.PUNCH_LOG], operation_id, offset, spec)
		if isinstance(load, dict) and c.DEVICE_INFORMATION in load:
			with self.lock:
				users = len({row["UserID"] for row in self.punches})
			return {
				c.STATUS: "done",
				c.OPERATION_ID: operation_id,
				c.STATUS_CODE: 0,
				c.DEVICE_INFORMATION: {
					"DeviceModel": "SIM-1",
					"Manufacturer": "cams_biometric simulator",
					"RegisteredUsers": str(users),
					"MaximumAttendanceLogsSupported": "500000",
				},
			}
		return {c.STATUS: "done", c.OPERATION_ID: operation_id, c.STATUS_CODE: 0}

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
				stats = {"punches": len(gateway.punches), "calls": len(gateway.calls)}
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
		self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

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


# -- callbacks --------------------------------------------------------------------------


def callback_body(
	row: dict, auth_token: str, serial_number: str = "SIM-SERIAL", label: str = "Simulator"
) -> dict:
	"""A RealTime PunchLog callback for one punch row."""
	punch = {
		"Type": row["Type"],
		"InputType": row.get("InputType", "Fingerprint"),
		"UserId": row["UserID"],
		"LogTime": row["LogTime"],
	}
	for optional in (c.TEMPERATURE, c.FACE_MASK):
		if optional in row:
			punch[optional] = row[optional]
	return {
		"RealTime": {
			c.OPERATION_ID: new_operation_id(),
			c.LABEL_NAME: label,
			c.SERIAL_NUMBER: serial_number,
			c.PUNCH_LOG: punch,
			c.AUTH_TOKEN: auth_token,
			c.TIME: format_logtime(datetime.now(timezone.utc).replace(microsecond=0)),
		}
	}


def send_callbacks(
	url: str,
	rows: list[dict],
	auth_token: str,
	*,
	security_key: str | None = None,
	aes_key_derivation: str = "sha256",
	shuffle: bool = False,
	duplicates: float = 0.0,
	concurrency: int = 4,
	seed: int = 1,
	headers: dict | None = None,
	timeout: float = 30,
	serial_number: str = "SIM-SERIAL",
) -> dict:
	"""POST every row as a callback (plus a share of repeats); returns counts and latencies."""
	rng = random.Random(seed)
	plan = list(rows) + [row for row in rows if rng.random() < duplicates]
	if shuffle:
		rng.shuffle(plan)
	session = requests.Session()
	session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=max(concurrency, 10)))

	def post(row):
		body = json.dumps(callback_body(row, auth_token, serial_number)).encode()
		if security_key:
			body = aes.encrypt(body, security_key, aes_key_derivation)
		started = time.perf_counter()
		try:
			response = session.post(
				url,
				data=body,
				headers={"Content-Type": "application/json", **(headers or {})},
				timeout=timeout,
			)
			outcome = (
				str(response.status_code)
				if response.content == c.CALLBACK_DONE or response.status_code != 200
				else "200-unexpected-body"
			)
		except requests.RequestException as e:
			outcome = type(e).__name__
		return outcome, time.perf_counter() - started

	started = time.perf_counter()
	with ThreadPoolExecutor(max_workers=concurrency) as pool:
		results = list(pool.map(post, plan))
	elapsed = time.perf_counter() - started
	latencies = sorted(latency for _, latency in results)
	return {
		"sent": len(plan),
		"distinct": len(rows),
		"outcomes": dict(Counter(outcome for outcome, _ in results)),
		"seconds": round(elapsed, 3),
		"per_second": round(len(plan) / elapsed, 1) if elapsed else None,
		"p50_ms": round(percentile(latencies, 50) * 1000, 1) if latencies else None,
		"p99_ms": round(percentile(latencies, 99) * 1000, 1) if latencies else None,
	}


def percentile(sorted_values: list[float], pct: float) -> float:
	index = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values) + 0.5) - 1))
	return sorted_values[index]


# -- command line -----------------------------------------------------------------------


def _punch_set(args) -> list[dict]:
	if args.punches:
		with open(args.punches) as f:
			return json.load(f)
	return generate_punches(args.users, args.days, args.per_day, seed=args.seed)


def _add_punch_options(parser):
	parser.add_argument("--punches", help="a JSON file of LoadLog rows (from `generate`)")
	parser.add_argument("--users", type=int, default=20, help="generated users (default 20)")
	parser.add_argument("--days", type=int, default=2, help="generated days before now (default 2)")
	parser.add_argument("--per-day", type=int, default=4, choices=sorted(DAY_PLAN), help="punches a day")
	parser.add_argument("--seed", type=int, default=1)


def main(argv: list[str] | None = None) -> int:
	parser = argparse.ArgumentParser(prog="cams-simulator", description=__doc__.split("\n\n")[0])
	commands = parser.add_subparsers(dest="command", required=True)

	serve = commands.add_parser("serve", help="serve the RESTful API (LoadLog, DeviceInformation)")
	serve.add_argument("--host", default="127.0.0.1")
	serve.add_argument("--port", type=int, default=8123)
	serve.add_argument("--stgid", default="SIM0001", help="the Service Tag ID to answer for")
	serve.add_argument("--token", help="the AuthToken to expect (default: a new random one, printed)")
	serve.add_argument("--key", help="an AES security key: requests and replies are encrypted")
	serve.add_argument(
		"--fail",
		action="append",
		default=[],
		metavar="JSON",
		help="a failure for the next call, e.g. '{\"status\": 5}', '{\"http\": 503}', '{\"delay\": 20}'",
	)
	serve.add_argument("--always", metavar="JSON", help="a failure for every call, e.g. '{\"status\": 15}'")
	serve.add_argument(
		"--paging",
		choices=PAGING_MODES,
		default="offset",
		help="offset (default): LoadLog pages name the next offset; time: they name none, and"
		" each page is the earliest rows from the request's StartTime on",
	)
	_add_punch_options(serve)

	send = commands.add_parser("send", help="send RealTime punch callbacks to a site")
	send.add_argument("--url", required=True, help="the callback URL, with ?stgid=... if you use it")
	send.add_argument("--token", required=True, help="the device's AuthToken")
	send.add_argument("--key", help="the device's AES security key")
	send.add_argument("--derivation", default="sha256", choices=sorted(aes.KEY_DERIVATIONS))
	send.add_argument("--serial", default="SIM-SERIAL", help="the SerialNumber to report")
	send.add_argument("--host-header", help="a Host header, to pick a site on a multi-site bench")
	send.add_argument("--shuffle", action="store_true", help="send in random order")
	send.add_argument("--duplicates", type=float, default=0.0, help="share of punches sent twice (0-1)")
	send.add_argument("--concurrency", type=int, default=4)
	_add_punch_options(send)

	generate = commands.add_parser("generate", help="print a punch set as JSON")
	_add_punch_options(generate)

	args = parser.parse_args(argv)
	if args.command == "generate":
		json.dump(_punch_set(args), sys.stdout, indent=1)
		print()
		return 0

	if args.command == "send":
		rows = _punch_set(args)
		headers = {"Host": args.host_header} if args.host_header else None
		result = send_callbacks(
			args.url,
			rows,
			args.token,
			security_key=args.key,
			aes_key_derivation=args.derivation,
			shuffle=args.shuffle,
			duplicates=args.duplicates,
			concurrency=args.concurrency,
			seed=args.seed,
			headers=headers,
			serial_number=args.serial,
		)
		print(json.dumps(result, indent=1))
		return 0 if set(result["outcomes"]) == {"200"} else 1

	gateway = Gateway(args.stgid, args.token, _punch_set(args), security_key=args.key, paging=args.paging)
	gateway.fail_next(*(json.loads(spec) for spec in args.fail))
	if args.always:
		gateway.always = json.loads(args.always)
	server = GatewayServer(gateway, args.host, args.port)
	print(
		f"CAMS gateway simulator on {server.url} — stgid {gateway.service_tag_id}, AuthToken {gateway.auth_token}"
	)
	print(
		f"{len(gateway.punches)} punches, paged by {gateway.paging}; put {server.url} as the RESTful"
		" Endpoint URL. Ctrl-C stops."
	)
	try:
		server.httpd.serve_forever()
	except KeyboardInterrupt:
		pass
	finally:
		server.httpd.server_close()
	return 0


if __name__ == "__main__":
	sys.exit(main())
