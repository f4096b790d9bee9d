"""Callbacks the simulated device posts: RealTime punches (``send``), and the callbacks its
Resend and Enroll operations cause, to the callback URL the device is configured with."""

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
from cams_biometric.protocol.logtime import format_logtime


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
			outcome = _outcome(response)
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
