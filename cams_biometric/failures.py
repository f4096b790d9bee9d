"""Logging a failure of this app's requests and jobs without the data they carried.

frappe.log_error keeps every frame's local variables, and (with telemetry on) sends the
exception's frames and a JSON request's whole body to Sentry: a callback's body carries the
device's AuthToken, templates and photos, and an Add User job's frames its templates. Here
the Error Log gets the traceback alone, and is inserted directly, so nothing goes to Sentry;
the Error Log's before_insert hooks still withhold any token, key, template or photo in it.
"""

import frappe

from cams_biometric.device_users import redact_templates


def log_failure(title: str, reference_doctype: str | None = None, reference_name: str | None = None):
	"""An Error Log of the exception being handled, without variables; call it in ``except``."""
	try:
		frappe.get_doc(
			{
				"doctype": "Error Log",
				"method": title,
				"error": redact_templates(frappe.get_traceback(with_context=False)),
				"reference_doctype": reference_doctype,
				"reference_name": reference_name,
			}
		).insert(ignore_permissions=True)
	except Exception:
		# Never fail the caller over its log; say where, without the details.
		frappe.logger("cams_biometric").error(f"Could not log a failure: {title}")
