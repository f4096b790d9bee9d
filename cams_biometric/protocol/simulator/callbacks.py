"""Callbacks the simulated device posts: RealTime punches with their attendance photos and a
change of the device clock (``send``), and the callbacks its Resend and Enroll operations
cause, to the callback URL the device is configured with."""

import base64
import json
import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import requests

from cams_biometric.protocol import aes
from cams_biometric.protocol import constants as c
from cams_biometric.protocol.client import new_operation_id
from cams_biometric.protocol.logtime import LogTimeError, format_logtime, parse_logtime
from cams_biometric.protocol.payload import JPEG_START, LOG_PHOTO

# A 48x64 JPEG (583 bytes) that looks like a portrait; each photo the simulator sends is this
# one with its user and LogTime in a comment segment, so no two photos are the same.
SAMPLE_PHOTO = base64.b64decode(
	"/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDABQODxIPDRQSEBIXFRQYHjIhHhwcHj0sLiQySUBMS0dARkVQWnNiUFVtVkVGZIhl"
	"bXd7gYKBTmCNl4x9lnN+gXz/2wBDARUXFx4aHjshITt8U0ZTfHx8fHx8fHx8fHx8fHx8fHx8fHx8fHx8fHx8fHx8fHx8fHx8"
	"fHx8fHx8fHx8fHx8fHz/wAARCABAADADASIAAhEBAxEB/8QAGQAAAwEBAQAAAAAAAAAAAAAAAAUGBAMC/8QAKxAAAQMCAwYH"
	"AQEAAAAAAAAAAQACAwQRBRIhIjRBYXPRFTFRVIGisaHh/8QAGAEBAQEBAQAAAAAAAAAAAAAAAwECAAT/xAAbEQEAAgIDAAAA"
	"AAAAAAAAAAAAAQIRIRITMf/aAAwDAQACEQMRAD8ApEIXKpqGU0DpXkaDQX8z6LbLqhStTVzVTryvJF9GjQD4XmColp3ZoZCw"
	"8beR+EfYTgrELNQVbauAP0Dxo9o4FaUkbHOglOPvcGQMvskkkcxbuU2WLFaU1NLsAZ2HMNLk8lLbha6lOIQhec5ngL3CpkZf"
	"ZLLkcwR3KepZgtKYoTM8C8g2RbUD/eyZp6eBt6Fg8aw/3H0d2W9QaWtcjmcKKpqMHqXZnSljr6uYxwv/ABeIJMGhdmMxkPDO"
	"wkD4skCFeqrucq3xrD/cfR3Zbo3tljbIw3a4Ag+oKhFa0G4U3Sb+BS1Yh0Tl3UGrxQatEsEIQkZCtaDcKbpN/AopWtBuFN0m"
	"/gWLtVf/2Q=="
)


def realtime_body(
	event_key: str, event: dict, auth_token: str, serial_number: str = "SIM-SERIAL", label: str = "Simulator"
) -> dict:
	"""A RealTime callback carrying one event (PunchLog, UserUpdated, UserDeleted, Log, ...)."""
	return {
		c.REALTIME: {
			c.OPERATION_ID: new_operation_id(),
			c.LABEL_NAME: label,
			c.SERIAL_NUMBER: serial_number,
			event_key: event,
			c.AUTH_TOKEN: auth_token,
			c.TIME: format_logtime(datetime.now(timezone.utc).replace(microsecond=0)),
		}
	}


def punch_event(row: dict) -> dict:
	"""The PunchLog event of a LoadLog row (callbacks spell the user ``UserId``)."""
	punch = {
		"Type": row["Type"],
		"InputType": row.get("InputType", "Fingerprint"),
		"UserId": row["UserID"],
		"LogTime": row["LogTime"],
	}
	for optional in (c.TEMPERATURE, c.FACE_MASK):
		if optional in row:
			punch[optional] = row[optional]
	return punch


def callback_body(
	row: dict, auth_token: str, serial_number: str = "SIM-SERIAL", label: str = "Simulator"
) -> dict:
	"""A RealTime PunchLog callback for one punch row."""
	return realtime_body(c.PUNCH_LOG, punch_event(row), auth_token, serial_number, label)


def photo_jpeg(label: str, jpeg: bytes = SAMPLE_PHOTO) -> bytes:
	"""``jpeg`` with ``label`` in a JPEG comment (COM) segment right after its start marker."""
	if not jpeg.startswith(JPEG_START):
		raise ValueError("not a JPEG")
	text = label.encode()[:65000]
	return jpeg[:2] + b"\xff\xfe" + (len(text) + 2).to_bytes(2, "big") + text + jpeg[2:]


def photo_event(row: dict, jpeg: bytes | None = None) -> dict:
	"""The RealTimeAttendancePhoto (#10) event of a punch row: its user and LogTime, and a
	Base64 JPEG (``jpeg``, or the sample photo labelled with the user and LogTime)."""
	jpeg = jpeg if jpeg is not None else photo_jpeg(f"{row['UserID']} {row['LogTime']}")
	return {
		c.USER_ID: row["UserID"],
		LOG_PHOTO: base64.b64encode(jpeg).decode(),
		c.LOG_TIME: row["LogTime"],
	}


def photo_body(
	row: dict,
	auth_token: str,
	serial_number: str = "SIM-SERIAL",
	label: str = "Simulator",
	jpeg: bytes | None = None,
) -> dict:
	"""A RealTime attendance photo callback (its event key is ``Log``) for one punch row."""
	return realtime_body(c.ATTENDANCE_PHOTO, photo_event(row, jpeg), auth_token, serial_number, label)


def date_modified_body(
	modified_to: str,
	auth_token: str,
	operation_time: str | None = None,
	serial_number: str = "SIM-SERIAL",
	label: str = "Simulator",
) -> dict:
	"""A ManuallyDateModified (#2) callback: the device clock was set to ``modified_to`` (a
	LogTime) at ``operation_time`` (default: now, in the offset of ``modified_to``)."""
	if operation_time is None:
		try:
			zone = parse_logtime(modified_to).tzinfo
		except LogTimeError:  # a wrong value on purpose, to see how a site takes it
			zone = timezone.utc
		operation_time = format_logtime(datetime.now(zone).replace(microsecond=0))
	event = {c.MODIFIED_TO: modified_to, c.OPERATION_TIME: operation_time}
	return realtime_body(c.DATE_MODIFIED, event, auth_token, serial_number, label)


def _outcome(response) -> str:
	if response.content == c.CALLBACK_DONE or response.status_code != 200:
		return str(response.status_code)
	return "200-unexpected-body"


def post_callbacks(
	url: str,
	bodies: list[dict],
	*,
	security_key: str | None = None,
	aes_key_derivation: str = "sha256",
	timeout: float = 30,
	session: requests.Session | None = None,
) -> list[str]:
	"""POST callback bodies one after another, in order, as the device does; the outcome of each."""
	session = session or requests.Session()
	outcomes = []
	for body in bodies:
		data = json.dumps(body).encode()
		if security_key:
			data = aes.encrypt(data, security_key, aes_key_derivation)
		try:
			response = session.post(
				url, data=data, headers={"Content-Type": "application/json"}, timeout=timeout
			)
			outcomes.append(_outcome(response))
		except requests.RequestException as e:
			outcomes.append(type(e).__name__)
	return outcomes


PHOTO_ORDERS = ("after", "before")


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
	photos: str | None = None,
	photo: bytes | None = None,
	date_modified: str | None = None,
) -> dict:
	"""POST every row as a callback (plus a share of repeats); returns counts and latencies.

	``photos`` "after" (as devices do) or "before" sends each punch's attendance photo right
	after or before it (``photo``: the JPEG, default the labelled sample); ``date_modified``
	(a LogTime) ends with a callback saying the device clock was set to it.
	"""
	if photos not in (None, *PHOTO_ORDERS):
		raise ValueError(f"photos must be one of {PHOTO_ORDERS}")
	rng = random.Random(seed)
	plan = list(rows) + [row for row in rows if rng.random() < duplicates]
	if shuffle:
		rng.shuffle(plan)
	session = requests.Session()
	session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=max(concurrency, 10)))

	def bodies_of(row) -> list[dict]:
		bodies = [callback_body(row, auth_token, serial_number)]
		if photos:
			photo_callback = photo_body(row, auth_token, serial_number, jpeg=photo)
			bodies.insert(0 if photos == "before" else 1, photo_callback)
		return bodies

	def post_one(body: dict) -> tuple[str, float]:
		data = json.dumps(body).encode()
		if security_key:
			data = aes.encrypt(data, security_key, aes_key_derivation)
		started = time.perf_counter()
		try:
			response = session.post(
				url,
				data=data,
				headers={"Content-Type": "application/json", **(headers or {})},
				timeout=timeout,
			)
			outcome = _outcome(response)
		except requests.RequestException as e:
			outcome = type(e).__name__
		return outcome, time.perf_counter() - started

	def post(row) -> list[tuple[str, float]]:
		# A punch and its photo in order, one after the other, as the device sends them.
		return [post_one(body) for body in bodies_of(row)]

	started = time.perf_counter()
	with ThreadPoolExecutor(max_workers=concurrency) as pool:
		results = [result for results in pool.map(post, plan) for result in results]
	if date_modified:
		results.append(post_one(date_modified_body(date_modified, auth_token, serial_number=serial_number)))
	elapsed = time.perf_counter() - started
	latencies = sorted(latency for _, latency in results)
	return {
		"sent": len(results),
		"distinct": len(rows),
		"photos": len(plan) if photos else 0,
		"outcomes": dict(Counter(outcome for outcome, _ in results)),
		"seconds": round(elapsed, 3),
		"per_second": round(len(results) / elapsed, 1) if elapsed else None,
		"p50_ms": round(percentile(latencies, 50) * 1000, 1) if latencies else None,
		"p99_ms": round(percentile(latencies, 99) * 1000, 1) if latencies else None,
	}


def percentile(sorted_values: list[float], pct: float) -> float:
	index = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values) + 0.5) - 1))
	return sorted_values[index]
