"""Fixtures for the tier-2 tests (run inside a real site with `bench run-tests`)."""

import json
import secrets
import threading
import time
from contextlib import contextmanager

import frappe
from frappe.utils import get_test_client
from frappe.utils.background_jobs import get_job
from rq.job import JobStatus

try:  # Frappe v16
	from frappe.tests import IntegrationTestCase
except ImportError:  # Frappe v15
	from frappe.tests.utils import FrappeTestCase as IntegrationTestCase
from frappe.utils.background_jobs import get_queue, get_queue_list, get_redis_conn
from rq import Worker
from rq.suspension import resume, suspend

from cams_biometric.constants import (
	ATTENDANCE_PHOTO,
	CHECKIN,
	DEVICE,
	DEVICE_EVENT,
	DEVICE_USER,
	RAW_PUNCH,
	SETTINGS,
)
from cams_biometric.protocol.logtime import format_logtime

CALLBACK_PATH = "/api/method/cams_biometric.api.callback"

# Workers resume by themselves this long after the last test asked them to pause, should a
# test run be killed before its tearDownClass.
PAUSE_SECONDS = 300
# How long a test class waits for a job of this app that a worker had already started.
BUSY_WAIT_SECONDS = 120


class CamsTestCase(IntegrationTestCase):
	"""A test class during whose tests this bench's RQ workers take no new job.

	The tests play the worker themselves (run_queued_job, load_page, ...), often to stage
	what a worker would rarely do (die after page 1, meet a backlog), so a live worker
	(`bench start`) taking their jobs would change what they test. RQ's suspension pauses
	every worker of the bench; queued jobs wait and run once the class is done.
	"""

	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		pause_workers()
		wait_for_busy_workers()

	@classmethod
	def tearDownClass(cls):
		# What the tests queued and did not run would otherwise run once the workers resume,
		# e.g. a page job against a simulator that is gone, holding a worker for minutes.
		drop_queued_jobs_of_this_app()
		resume(get_redis_conn())
		super().tearDownClass()

	def setUp(self):
		pause_workers()  # renews the pause's time limit
		super().setUp()


def pause_workers():
	suspend(get_redis_conn(), ttl=PAUSE_SECONDS)


def drop_queued_jobs_of_this_app():
	for queue in get_queue_list():
		for job in get_queue(queue).get_jobs():
			if job.kwargs.get("site") == frappe.local.site and str(job.kwargs.get("method", "")).startswith(
				"cams_biometric."
			):
				job.delete()


def wait_for_busy_workers():
	"""Let a job of this app for this site that a worker started before the pause finish."""
	deadline = time.monotonic() + BUSY_WAIT_SECONDS
	while time.monotonic() < deadline:
		busy = [
			job
			for worker in Worker.all(connection=get_redis_conn())
			if (job := worker.get_current_job())
			and job.kwargs.get("site") == frappe.local.site
			and str(job.kwargs.get("method", "")).startswith("cams_biometric.")
		]
		if not busy:
			return
		time.sleep(0.2)


def unique(prefix: str) -> str:
	return f"{prefix}{secrets.token_hex(4)}"


def make_device(**values) -> tuple[str, str]:
	"""A committed device; returns (service tag id, auth token)."""
	token = values.pop("auth_token", None) or secrets.token_urlsafe(24)[:32]
	doc = frappe.get_doc(
		{
			"doctype": DEVICE,
			"service_tag_id": values.pop("service_tag_id", None) or unique("STG"),
			"device_label": values.pop("device_label", "Test Gate"),
			"auth_token": token,
			**values,
		}
	).insert(ignore_permissions=True)
	frappe.db.commit()  # nosemgrep: the callback runs in another connection
	return doc.name, token


def make_employee(device_user_id: str | None, **values) -> str:
	"""An active Employee without a User (Frappe throttles user creation in bulk)."""
	doc = frappe.get_doc(
		{
			"doctype": "Employee",
			"first_name": unique("CAMS Test "),
			"gender": "Female",
			"date_of_birth": "1990-05-08",
			"date_of_joining": "2013-01-01",
			"company": frappe.defaults.get_global_default("company")
			or frappe.get_all("Company", pluck="name")[0],
			"status": "Active",
			"attendance_device_id": device_user_id,
			**values,
		}
	).insert(ignore_permissions=True)
	frappe.db.commit()  # nosemgrep
	return doc.name


def punch_body(token: str, user_id: str, moment, punch_type: str = "CheckIn", **extra) -> dict:
	log_time = moment if isinstance(moment, str) else format_logtime(moment)
	return {
		"RealTime": {
			"OperationID": secrets.token_hex(6),
			"LabelName": "Test Gate",
			"SerialNumber": extra.pop("serial_number", None) or "ZHM0000000001",
			"PunchLog": {
				"Type": punch_type,
				"InputType": "Fingerprint",
				"UserId": user_id,
				"LogTime": log_time,
				**extra,
			},
			"AuthToken": token,
			"Time": "2024-09-17 04:49:03 GMT +0000",
		}
	}


def request(
	site: str,
	body: bytes,
	stgid=None,
	address="127.0.0.1",
	content_type="application/json",
	method="POST",
	headers: dict | None = None,
):
	"""One request through Frappe's real WSGI application; call it outside any Frappe context.

	``address`` is the socket's (REMOTE_ADDR), the one the failed-authentication limit counts.
	"""
	path = CALLBACK_PATH + (f"?stgid={stgid}" if stgid is not None else "")
	return get_test_client(use_cookies=False).open(
		path,
		method=method,
		data=body,
		content_type=content_type,
		headers={"X-Frappe-Site-Name": site, **(headers or {})},
		environ_overrides={"REMOTE_ADDR": address},
	)


def post_callback(body, stgid: str | None = None, **kwargs):
	"""POST a body to the callback as the gateway would, and wait for the answer.

	The request runs in its own thread (its own Frappe context and database connection),
	so everything the test wants it to see is committed first.
	"""
	if isinstance(body, dict):
		body = json.dumps(body).encode()
	elif isinstance(body, str):
		body = body.encode()
	frappe.db.commit()  # nosemgrep
	site, result = frappe.local.site, {}
	thread = threading.Thread(target=lambda: result.update(response=request(site, body, stgid, **kwargs)))
	thread.start()
	thread.join()
	# A new snapshot, so this connection sees what the request committed.
	frappe.db.rollback()
	return result["response"]


def raw_rows(device: str, **filters) -> list:
	return frappe.get_all(
		RAW_PUNCH, filters={"device": device, **filters}, fields=["*"], order_by="punch_time asc"
	)


@contextmanager
def own_connection(site: str):
	"""A Frappe context with its own database connection, for a thread playing another
	process (a worker, another user's request)."""
	frappe.init(site=site)
	frappe.connect()
	frappe.set_user("Administrator")
	try:
		yield
	finally:
		frappe.db.rollback()
		frappe.destroy()


class Step(threading.Thread):
	"""Run ``steps`` in their own connection (see own_connection), one per call of go().

	Forces an interleaving of two transactions without sleeping: the test says when each
	step runs, and go() returns once it has.
	"""

	def __init__(self, site: str, *steps):
		super().__init__(daemon=True)
		self.site, self.steps, self.error = site, list(steps), None
		self._go, self._done = threading.Event(), threading.Event()
		self.start()

	def run(self):
		try:
			with own_connection(self.site):
				for step in self.steps:
					self._go.wait(60)
					self._go.clear()
					step()
					self._done.set()
		except Exception as e:
			self.error = e
			self._done.set()

	def go(self):
		self._done.clear()
		self._go.set()
		if not self._done.wait(60):
			raise TimeoutError("the step did not finish")
		if self.error:
			raise self.error


def run_queued_job(job_id: str):
	"""Run a queued job the way a worker would, from what is stored in Redis. If a worker
	of this bench (under `bench start`) has taken it already, wait for that one instead."""
	job = get_job(job_id)
	assert job is not None, f"job {job_id} was not queued"
	if job.get_status() == JobStatus.QUEUED:
		job.delete()
		frappe.get_attr(job.kwargs["method"])(**job.kwargs["kwargs"])
		frappe.db.commit()  # nosemgrep: execute_job commits after the job too
		return
	deadline = time.monotonic() + 60
	while job.get_status(refresh=True) not in (JobStatus.FINISHED, JobStatus.FAILED):
		assert time.monotonic() < deadline, f"job {job_id} did not finish"
		time.sleep(0.1)
	frappe.db.rollback()  # see what the worker committed


def drop_queued_job(job_id: str):
	"""Remove a job the test queued, so no worker on this bench runs it later."""
	job = get_job(job_id)
	if job:
		job.delete()


def cleanup(devices: list[str], employees: list[str] = ()):
	# Bulk deletes: these rows have no children, and delete_doc one by one took seconds a test.
	if devices:
		frappe.db.delete(ATTENDANCE_PHOTO, {"device": ("in", devices)})
		frappe.db.delete(RAW_PUNCH, {"device": ("in", devices)})
		events = frappe.get_all(DEVICE_EVENT, filters={"device": ("in", devices)}, pluck="name")
		if events:  # clock changes notify HR Managers
			frappe.db.delete(
				"Notification Log", {"document_type": DEVICE_EVENT, "document_name": ("in", events)}
			)
		frappe.db.delete(DEVICE_EVENT, {"device": ("in", devices)})
		frappe.db.delete(DEVICE_USER, {"device": ("in", devices)})
	if employees:
		frappe.db.delete(CHECKIN, {"employee": ("in", list(employees))})
	for device in devices:
		frappe.delete_doc(DEVICE, device, force=True, ignore_permissions=True)
	frappe.db.commit()  # nosemgrep


def set_time_zone(time_zone: str):
	"""`bench execute` target for .ci/run, which runs tier 2 on a site east and west of UTC."""
	frappe.db.set_single_value("System Settings", "time_zone", time_zone)
	frappe.cache.delete_value("time_zone")
	frappe.clear_cache()


def delete_employees(employees: list[str]):
	"""Remove test Employees and their checkins (after cleanup() of their raw rows)."""
	if employees:
		frappe.db.delete(CHECKIN, {"employee": ("in", list(employees))})
		frappe.db.delete("Employee", {"name": ("in", list(employees))})
		frappe.db.commit()  # nosemgrep


def reset_settings():
	"""The integration on and every punch type creating checkins, as a test expects to find it."""
	frappe.set_user("Administrator")
	settings = frappe.get_single(SETTINGS)
	settings.enabled = 1
	for row in settings.punch_type_mapping:
		row.create_checkin = 1
	settings.save()


class CallbackRelay:
	"""A loopback HTTP server that hands each POST to the site's real callback endpoint, so a
	simulated gateway's Resend and user callbacks reach this site as the real gateway's would.

	Each request runs through Frappe's WSGI application in the relay's own thread (its own
	Frappe context and database connection): commit what it must see before it is posted.
	"""

	def __init__(self, site: str):
		from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
		from urllib.parse import parse_qs, urlsplit

		relay = self

		class Handler(BaseHTTPRequestHandler):
			def do_POST(self):
				body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
				stgid = (parse_qs(urlsplit(self.path).query).get("stgid") or [None])[0]
				response = request(
					site, body, stgid, content_type=self.headers.get("Content-Type") or "application/json"
				)
				relay.statuses.append(response.status_code)
				self.send_response(response.status_code)
				self.send_header("Content-Type", "application/json")
				self.end_headers()
				self.wfile.write(response.get_data())

			def log_message(self, format, *args):
				pass

		self.statuses: list[int] = []
		self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
		threading.Thread(target=self.server.serve_forever, daemon=True).start()

	def url(self, stgid: str) -> str:
		return f"http://127.0.0.1:{self.server.server_port}{CALLBACK_PATH}?stgid={stgid}"

	def stop(self):
		self.server.shutdown()
		self.server.server_close()
