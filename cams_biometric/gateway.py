"""Talking to the gateway, for Load Punchlog (loads) and device commands (commands): the
client for a device, the retry and back-off policy, and a failure described for the admin.
"""

import frappe
from frappe import _

from cams_biometric.cams_biometric.doctype.cams_biometric_settings.cams_biometric_settings import (
	endpoint_problem,
)
from cams_biometric.constants import DEVICE, SETTINGS
from cams_biometric.protocol import client as cams

MAX_RETRIES = 5
RETRY_BASE_SECONDS = 5  # 5, 10, 20, 40, 80 seconds between tries of one page or command


# Site config can shorten it, e.g. for the fault drills in robustness/.
def retry_base_seconds() -> float:
	return float(frappe.conf.get("cams_biometric_retry_base_seconds") or RETRY_BASE_SECONDS)


def client_for(device: str) -> cams.CamsClient:
	endpoint = frappe.db.get_single_value(SETTINGS, "restful_endpoint")
	if not endpoint:
		raise cams.InvalidRequest("Set the RESTful Endpoint URL in CAMS Biometric Settings first.")
	if problem := endpoint_problem(endpoint):  # e.g. an http URL saved before https was required
		raise cams.InvalidRequest(problem)
	values = frappe.db.get_value(DEVICE, device, ["aes_key_derivation"], as_dict=True)
	from frappe.utils.password import get_decrypted_password

	return cams.CamsClient(
		endpoint,
		device,
		get_decrypted_password(DEVICE, device, "auth_token", raise_exception=False) or "",
		security_key=get_decrypted_password(DEVICE, device, "security_key", raise_exception=False),
		aes_key_derivation=values.aes_key_derivation if values else None,
	)


def describe(error: cams.CamsError, after_giving_up: str | None = None) -> str:
	"""The error with what the admin should do: the advice for a refusal, or, for a transient
	failure retried in vain, ``after_giving_up`` (default: resume the load)."""
	advice = next((text for kind, text in cams.ADVICE.items() if isinstance(error, kind)), None)
	if advice:
		return f"{error} {_(advice)}"
	if error.transient:
		return _("{0}. Gave up after {1} retries; {2}.").format(
			error, MAX_RETRIES, after_giving_up or _("resume the load when the gateway is back")
		)
	return str(error)
