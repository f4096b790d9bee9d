"""Hostile and broken bodies against the real callback: no 500, nothing stored unless
authenticated, a clear status for everything that is, and the server keeps serving."""

import json
import random
from collections import Counter, defaultdict
from pathlib import Path

import frappe
from frappe.deferred_insert import save_to_db
from frappe.utils import get_bench_path

from cams_biometric.constants import DEVICE_EVENT, RAW_PUNCH
from cams_biometric.protocol import aes
from cams_biometric.tests.utils import CamsTestCase, cleanup, make_device, post_callback, unique

NASTY_STRINGS = [
	"1' OR '1'='1",
	"1; DROP TABLE `tabEmployee`; --",
	"<script>alert(1)</script>",
	'"><img src=x onerror=alert(1)>',
	"{{ frappe.db.sql('select 1') }}",
	"%(name)s %s \\x00",
	"../../etc/passwd",
	"ünïcødé ✓ 打卡",
	"\u202etxt.exe",
	"A" * 500,
]
ABSURD_TIMES = [
	"0001-01-01 00:00:00 GMT +0000",
	"9999-12-31 23:59:59 GMT +1400",
	"2024-09-17 07:48:22 GMT +9999",
	"2024-09-17 07:48:22 GMT -2500",
	"2024-02-30 10:00:00 GMT +0000",
	"2024-09-17 24:00:00 GMT +0000",
	"1726548502",
	"",
	"2024-09-17T07:48:22Z",
	"yesterday at noon",
]
WRONG_TYPES = [None, True, 12.5, 10**30, [], {}, ["2"], {"a": "b"}, "", " "]


class TestHostileInput(CamsTestCase):
	def setUp(self):
		self.stgid, self.token = make_device(security_key="hostile test key")
		self.other_stgid, self.other_token = make_device()
		self.rng = random.Random(20261122)
		self.results = defaultdict(Counter)

	def tearDown(self):
		cleanup([self.stgid, self.other_stgid])

	@staticmethod
	def log_sizes() -> dict[Path, int]:
		folders = (Path(get_bench_path()) / "logs", Path(frappe.get_site_path("logs")))
		return {path: path.stat().st_size for folder in folders for path in folder.glob("*.log*")}

	def written_since(self, sizes: dict[Path, int]) -> dict[Path, bytes]:
		written = {}
		for path, size in self.log_sizes().items():
			with path.open("rb") as log:
				# A rotated log starts again from 0.
				log.seek(sizes.get(path, 0) if size >= sizes.get(path, 0) else 0)
				written[path] = log.read()
		return written

	def punch(self, operation_id: str, **fields) -> dict:
		punch_log = {
			"Type": "CheckIn",
			"InputType": "Face",
			"UserId": unique("H"),
			"LogTime": "2024-09-17 07:48:22 GMT +0300",
			# Keeps otherwise identical broken punches apart (identical ones are stored once).
			"Case": operation_id,
			**fields,
		}
		return {"RealTime": {"OperationID": operation_id, "AuthToken": self.token, "PunchLog": punch_log}}

	def generate(self):
		"""(category, body bytes, content type, authenticated?, operation id or None)."""
		cases = []

		def add(category, body, authenticated, operation_id=None, content_type="text/plain"):
			if isinstance(body, dict):
				body = json.dumps(body).encode()
			cases.append((category, body, content_type, authenticated, operation_id))

		valid = json.dumps(self.punch("truncated")).encode()
		for cut in sorted(self.rng.sample(range(1, len(valid) - 1), 120)):
			add("truncated JSON", valid[:cut], authenticated=False)
		# Frappe parses these itself before the app runs (api.after_request).
		for cut in sorted(self.rng.sample(range(1, len(valid) - 1), 30)):
			add("labelled JSON, not JSON", valid[:cut], False, content_type="application/json")
		# The gateway labels its AES bodies JSON too: they are punches like any other.
		for _ in range(10):
			op = unique("ej")
			encrypted = aes.encrypt(json.dumps(self.punch(op)), "hostile test key", "sha256")
			add("encrypted, labelled JSON", encrypted, True, op, content_type="application/json")
		for _ in range(10):
			encrypted = aes.encrypt(json.dumps(self.punch(unique("ew"))), "not the key", "sha256")
			add(
				"encrypted with a wrong key, labelled JSON", encrypted, False, content_type="application/json"
			)
		for field in ("UserId", "LogTime", "Type", "InputType", "Temperature", "FaceMask"):
			for value in WRONG_TYPES:
				op = unique("wt")
				add("wrong types", self.punch(op, **{field: value}), True, op, "application/json")
		for field in ("SerialNumber", "LabelName", "OperationID", "Time"):
			for value in WRONG_TYPES:
				op = unique("ev")
				body = self.punch(op)
				body["RealTime"][field] = value
				add("wrong types", body, True, None if field == "OperationID" else op, "application/json")
		for holder_value in WRONG_TYPES:
			op = unique("pl")
			add(
				"wrong types",
				{"RealTime": {"OperationID": op, "AuthToken": self.token, "PunchLog": holder_value}},
				True,
				op,
			)
		for missing in ("UserId", "LogTime", "Type"):
			for _ in range(15):
				op = unique("mk")
				body = self.punch(op)
				del body["RealTime"]["PunchLog"][missing]
				add("missing keys", body, True, op, "application/json")
		envelope = ("OperationID", "SerialNumber", "LabelName")
		for field in ("UserId", "LogTime", "Type", "InputType", "Temperature", *envelope):
			for value in NASTY_STRINGS:
				op = unique("sq")
				body = self.punch(op, **({field: value} if field not in envelope else {}))
				if field in envelope:
					body["RealTime"][field] = value
				if field == "OperationID":
					op = None  # not a usable key to find the row by
				add("SQL/HTML/script strings", body, True, op, "application/json")
		for value in ABSURD_TIMES * 5:
			op = unique("ad")
			add("absurd dates and offsets", self.punch(op, LogTime=value), True, op, "application/json")
		for depth in (100, 1000, 5000, 50000):
			add("deep nesting", b'{"RealTime": ' + b"[" * depth + b"]" * depth + b"}", False)
		op = unique("big")
		add("huge bodies", self.punch(op, Note="x" * 1_500_000), True, op, "application/json")
		add("huge bodies", b'{"RealTime": "' + b"x" * 3_000_000 + b'"}', False)
		for _ in range(30):
			add("non-UTF-8", bytes(self.rng.randrange(128, 256) for _ in range(64)), False)
		for _ in range(20):
			body = self.punch(unique("nt"))
			body["RealTime"]["AuthToken"] = self.rng.choice(
				["", "x" * 32, self.token[:-1], self.token.upper(), None, 42]
			)
			add("wrong or missing token", body, False, content_type="application/json")
		for _ in range(20):
			body = self.punch(unique("od"))
			body["RealTime"]["AuthToken"] = self.other_token
			add("token of another device", body, False, content_type="application/json")
		for _ in range(20):
			plain = json.dumps(self.punch(unique("ek"))).encode()
			add(
				"encrypted with a wrong key",
				aes.encrypt(plain, "not the key", self.rng.choice(list(aes.KEY_DERIVATIONS)[1:4])),
				False,
			)
		for _ in range(20):
			op = unique("ok")
			add(
				"encrypted with the right key",
				aes.encrypt(json.dumps(self.punch(op)), "hostile test key", "sha256"),
				True,
				op,
			)
		return cases

	def test_hostile_and_broken_bodies(self):
		cases = self.generate()
		self.assertGreaterEqual(len(cases), 500)
		log_sizes = self.log_sizes()
		stored_before = frappe.db.count(RAW_PUNCH) + frappe.db.count(DEVICE_EVENT)
		authenticated_ops = []
		unexpected = []
		for index, (category, body, content_type, authenticated, operation_id) in enumerate(cases):
			# Spread addresses so the failed-auth limit shows up without hiding everything else.
			response = post_callback(
				body, stgid=self.stgid, content_type=content_type, address=f"10.66.{index % 7}.1"
			)
			status = response.status_code
			self.results[category][status] += 1
			answer = response.get_data()
			if status >= 500 or b"Traceback" in answer or self.token.encode() in answer:
				unexpected.append((category, status, answer[:200]))
			elif authenticated and answer != b'{"status":"done"}':
				unexpected.append((category, status, answer[:200]))
			elif not authenticated and status not in (400, 401, 413, 429):
				unexpected.append((category, status, answer[:200]))
			if authenticated and operation_id:
				authenticated_ops.append((category, operation_id))

		print("\nHostile input: what was tried and what happened")
		for category, statuses in self.results.items():
			print(
				f"  {category:32} {sum(statuses.values()):4}  "
				+ ", ".join(f"HTTP {s}: {n}" for s, n in sorted(statuses.items()))
			)
		self.assertEqual(unexpected, [])

		# Every authenticated body left a row (a punch, or an event) that says what it is.
		missing, statuses = [], Counter()
		for category, operation_id in authenticated_ops:
			row = frappe.db.get_value(
				RAW_PUNCH, {"operation_id": operation_id}, ["status", "error"], as_dict=True
			)
			if row:
				statuses[row.status] += 1
				if row.status == "Error" and not row.error:
					missing.append((category, operation_id, "Error without a reason"))
			elif not frappe.db.exists(DEVICE_EVENT, {"operation_id": operation_id}):
				missing.append((category, operation_id, "not stored"))
		print(f"  raw rows of authenticated bodies: {dict(statuses)}")
		self.assertEqual(missing, [])

		# Nothing from an unauthenticated body; only this test's own devices have rows.
		stored = frappe.db.count(RAW_PUNCH) + frappe.db.count(DEVICE_EVENT)
		ours = frappe.db.count(RAW_PUNCH, {"device": self.stgid}) + frappe.db.count(
			DEVICE_EVENT, {"device": self.stgid}
		)
		self.assertEqual(stored - stored_before, ours)
		self.assertEqual(frappe.db.count(RAW_PUNCH, {"device": self.other_stgid}), 0)
		save_to_db()  # Frappe defers the Error Logs of failed requests
		for doctype in (RAW_PUNCH, DEVICE_EVENT, "Error Log"):
			self.assertFalse(
				frappe.db.exists(
					doctype, {"raw_json" if doctype != "Error Log" else "error": ("like", f"%{self.token}%")}
				)
			)

		# Nor in any log file the bench or the site wrote meanwhile.
		leaked = [
			path
			for path, written in self.written_since(log_sizes).items()
			if self.token.encode() in written or b"hostile test key" in written
		]
		self.assertEqual(leaked, [], "a token or key in a log file")

		# And the server still serves a valid punch.
		op = unique("after")
		self.assertEqual(post_callback(self.punch(op), stgid=self.stgid).get_data(), b'{"status":"done"}')
		self.assertEqual(frappe.db.get_value(RAW_PUNCH, {"operation_id": op}, "status"), "Pending")
