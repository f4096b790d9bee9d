"""Fixtures for the tier-2 tests (run inside a real site with `bench run-tests`)."""

import json
import secrets
import threading

import frappe
from frappe.utils import get_test_client
from frappe.utils.background_jobs import get_job

try:  # Frappe v16
	from frappe.tests import IntegrationTestCase
except ImportError:  # Frappe v15
	from frappe.tests.utils import FrappeTestCase as IntegrationTestCase

from cams_biometric.constants import CHECKIN, DEVICE, DEVICE_EVENT, RAW_PUNCH
from cams_biometric.protocol.logtime import format_logtime

CALLBACK_PATH = "/api/method/cams_biometric.api.callback"

__all__ = ["IntegrationTestCase"]


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
	site: str, body: bytes, stgid=None, address="127.0.0.1", content_type="application/json", method="POST"
):
	"""One request through Frappe's real WSGI application; call it outside any Frappe context."""
	path = CALLBACK_PATH + (f"?stgid={stgid}" if stgid is not None else "")
	return get_test_client(use_cookies=False).open(
		path,
		method=method,
		data=body,
		content_type=content_type,
		headers={"X-Frappe-Site-Name": site, "X-Forwarded-For": address},
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


def drop_queued_job(job_id: str):
	"""Remove a job the test queued, so no worker on this bench runs it later."""
	job = get_job(job_id)
	if job:
		job.delete()


def cleanup(devices: list[str], employees: list[str] = ()):
	# Bulk deletes: these rows have no children, and delete_doc one by one took seconds a test.
	if devices:
		frappe.db.delete(RAW_PUNCH, {"device": ("in", devices)})
		frappe.db.delete(DEVICE_EVENT, {"device": ("in", devices)})
	if employees:
		frappe.db.delete(CHECKIN, {"employee": ("in", list(employees))})
	for device in devices:
		frappe.delete_doc(DEVICE, device, force=True, ignore_permissions=True)
	frappe.db.commit()  # nosemgrep
