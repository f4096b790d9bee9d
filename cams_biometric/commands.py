"""The outbox of device commands: every RESTful command sent to a device is a CAMS Device
Command record, run in a background job with Load Punchlog's bounded retry.

A retry sends the same OperationID. Outcomes that leave the device as asked count as done:
adding a user the device already has, deleting one it does not have.
"""

import json
import time

import frappe
from frappe import _
from frappe.utils import escape_html, get_datetime, get_system_timezone, now_datetime

from cams_biometric import arguments, device_information, device_users, processing
from cams_biometric.constants import DEVICE
from cams_biometric.loads import MAX_RETRIES, client_for, describe, retry_base_seconds
from cams_biometric.protocol import client as cams
from cams_biometric.protocol import constants as c
from cams_biometric.protocol.logtime import from_local_naive
from cams_biometric.protocol.payload import redact, strip_biometrics

COMMAND = "CAMS Device Command"
QUEUED, SENT, DONE, FAILED = "Queued", "Sent", "Done", "Failed"


def _user_names(params: dict) -> tuple[str, str]:
	return params.get("first_name") or "", params.get("last_name") or ""


def _range(params: dict) -> tuple:
	zone = get_system_timezone()
	return tuple(from_local_naive(get_datetime(params[key]), zone) for key in ("start", "end"))


def _add_user(user: str, params: dict) -> dict:
	# Templates copied from another device are read from the directory when the command is
	# built, never stored in the command's parameters.
	templates = []
	if params.get("templates_from"):
		templates = [
			t
			for t in device_users.templates_of(params["templates_from"])
			if t.get(c.TEMPLATE_TYPE) in c.ADD_USER_TEMPLATE_TYPES
		]
	return cams.add_user_command(user, *_user_names(params), templates=templates)


# operation -> (needs a device user id, how its command is built from the parameters)
OPERATIONS = {
	"Device Information": (False, lambda user, p: cams.device_information_command()),
	"Add User": (True, _add_user),
	"Delete User": (True, lambda user, p: cams.delete_user_command(user)),
	"Enable User": (True, lambda user, p: cams.user_access_command(user, True)),
	"Disable User": (True, lambda user, p: cams.user_access_command(user, False)),
	"Update Access Time": (True, lambda user, p: cams.update_access_time_command(user, *_range(p))),
	"Enroll Fingerprint": (True, lambda user, p: cams.enroll_fingerprint_command(user, *_user_names(p))),
	"Resend Attendance": (False, lambda user, p: cams.resend_attendance_command(*_range(p))),
	"Resend All Users": (False, lambda user, p: cams.resend_all_users_command()),
	"Delete All Users": (False, lambda user, p: cams.delete_all_users_command()),
	"Delete All Logs": (False, lambda user, p: cams.delete_all_logs_command()),
	"Delete Attendance Photos": (False, lambda user, p: cams.delete_attendance_photos_command()),
}
# Erase a whole device's data: System Managers only, confirmed by typing the device's name.
DANGEROUS = frozenset({"Delete All Users", "Delete All Logs", "Delete Attendance Photos"})
# Refusals that mean the device already is as the command wants it (a user the device lacks
# cannot punch, so disabling them is done).
ALREADY_SO = {
	"Add User": cams.UserExists,
	"Delete User": cams.UserNotFound,
	"Disable User": cams.UserNotFound,
}


# What a command's parameters may hold, and how each is read (see OPERATIONS).
PARAMETERS = {
	"first_name": lambda value, argument: arguments.text(value, argument, required=False),
	"last_name": lambda value, argument: arguments.text(value, argument, required=False),
	"start": lambda value, argument: str(arguments.moment(value, argument)),
	"end": lambda value, argument: str(arguments.moment(value, argument)),
	"templates_from": lambda value, argument: arguments.name(value, device_users.DEVICE_USER, argument),
}


def command_parameters(parameters) -> dict:
	params = arguments.json_object(parameters, "parameters")
	if unknown := sorted(set(params) - set(PARAMETERS)):
		arguments.refuse("parameters", _("unknown keys {0}").format(escape_html(", ".join(unknown))))
	return {key: PARAMETERS[key](value, f"parameters.{key}") for key, value in params.items()}


@frappe.whitelist(methods=["POST"])
def send_command(
	device: str,
	operation: str,
	device_user_id: str | None = None,
	employee: str | None = None,
	parameters: dict | str | None = None,
) -> str:
	"""Record a command for ``device`` and queue it; returns the CAMS Device Command's name."""
	frappe.has_permission(COMMAND, "create", throw=True)
	if operation in DANGEROUS:
		frappe.throw(
			_("{0} erases the device's data; use the device form's Danger Zone.").format(
				escape_html(operation)
			)
		)
	params = command_parameters(parameters)
	device_user_id = arguments.user_id(device_user_id, "device_user_id", required=False)
	return queue_command(device, operation, device_user_id, employee, params)


@frappe.whitelist(methods=["POST"])
def erase_device_data(device: str, operation: str, confirmation: str) -> str:
	"""Delete all users, all logs or all photos on ``device``: System Managers, who typed its name."""
	# Not frappe.only_for: it lets everyone through while tests run, and this must be tested.
	if "System Manager" not in frappe.get_roles():
		frappe.throw(_("Only a System Manager may erase a device's data."), frappe.PermissionError)
	if operation not in DANGEROUS:
		frappe.throw(_("{0} is not an erasing operation.").format(escape_html(operation)))
	if (confirmation or "").strip() != device:
		frappe.throw(
			_("Type the device's Service Tag ID {0} exactly to confirm.").format(
				frappe.bold(escape_html(device))
			),
			title=_("Not confirmed"),
		)
	return queue_command(device, operation)


def queue_command(
	device: str,
	operation: str,
	device_user_id: str | None = None,
	employee: str | None = None,
	params: dict | None = None,
) -> str:
	"""Record a command and queue its job; the caller has checked who may send it."""
	if operation not in OPERATIONS:
		frappe.throw(_("Unknown device operation {0}").format(frappe.bold(escape_html(operation))))
	if not frappe.db.get_value(DEVICE, device, "enabled"):
		frappe.throw(
			_("{0} is not an enabled CAMS Biometric Device.").format(frappe.bold(escape_html(device)))
		)
	if not isinstance(params, dict | None):
		frappe.throw(_("Parameters must be an object"))
	params = dict(params or {})
	if employee:
		# The device knows the employee by their Attendance Device ID, and their name.
		found = frappe.db.get_value(
			"Employee", employee, ["attendance_device_id", "first_name", "last_name"], as_dict=True
		)
		if not found:
			frappe.throw(_("Employee {0} does not exist.").format(escape_html(employee)))
		device_user_id = device_user_id or found.attendance_device_id
		params.setdefault("first_name", found.first_name)
		params.setdefault("last_name", found.last_name)
	needs_user, build = OPERATIONS[operation]
	if needs_user and not device_user_id:
		frappe.throw(_("{0} needs a device user id (or an Employee with one).").format(operation))
	try:
		build(device_user_id, params)  # bad input is refused now, not by the job
	except (ValueError, KeyError, TypeError) as e:
		frappe.throw(_("Invalid parameters for {0}: {1}").format(operation, escape_html(str(e))))
	doc = frappe.get_doc(
		{
			"doctype": COMMAND,
			"device": device,
			"operation": operation,
			"device_user_id": device_user_id if needs_user else None,
			"employee": employee,
			"status": QUEUED,
			"operation_id": cams.new_operation_id(),
			"parameters": json.dumps(params, indent=1, default=str),
		}
	).insert(ignore_permissions=True)
	frappe.enqueue(
		"cams_biometric.commands.run_command_job",
		queue="short",
		job_id=f"cams_biometric:command:{doc.name}",
		deduplicate=True,
		enqueue_after_commit=True,
		name=doc.name,
	)
	return doc.name


def run_command_job(name: str):
	processing.run_as_administrator()
	run_command(name)


def run_command(name: str, sleep=time.sleep) -> str | None:
	"""Send a queued command, retrying transient failures; returns its final status."""
	doc = frappe.get_doc(COMMAND, name, for_update=True)
	if doc.status not in (QUEUED, SENT):
		return None
	params = json.loads(doc.parameters or "{}")
	command = OPERATIONS[doc.operation][1](doc.device_user_id, params)
	request = {**command, c.OPERATION_ID: doc.operation_id}
	doc.db_set({"status": SENT, "sent_at": doc.sent_at or now_datetime(), "request": _to_json(request)})
	frappe.db.commit()  # nosemgrep: a background job; the admin sees Sent at once

	while True:
		doc.db_set("attempts", doc.attempts + 1)
		try:
			reply = client_for(doc.device).call(command, operation_id=doc.operation_id)
		except cams.CamsError as e:
			if e.transient and doc.attempts <= MAX_RETRIES:
				frappe.db.commit()  # nosemgrep
				sleep(retry_base_seconds() * 2 ** (doc.attempts - 1))
				continue
			return _finish_refused(doc, e)
		_carried_out(doc, reply)
		return _finish(doc, DONE, reply=reply, status_code=0)


def _carried_out(doc, reply: dict, already: bool = False):
	"""Record what the device now holds: its information, or its directory of users."""
	params = json.loads(doc.parameters or "{}")
	if already:
		params.pop("templates_from", None)  # the device kept the user it had, not our copy
	if doc.operation == "Device Information":
		device_information.store(doc.device, reply.get(c.DEVICE_INFORMATION))
	elif doc.operation == "Delete All Users":
		device_users.mark_all_deleted(doc.device)
	elif doc.device_user_id:
		device_users.apply_command(doc.device, doc.device_user_id, doc.operation, params)


def _finish_refused(doc, error: cams.CamsError) -> str:
	already = ALREADY_SO.get(doc.operation)
	if already and isinstance(error, already):
		if other := _someone_else(doc):
			return _finish(
				doc,
				FAILED,
				status_code=error.status_code,
				error=_(
					"The device already has user {0}, named {1}, not {2}: the ID belongs to someone else"
					" there. Check the Attendance Device ID, or delete that user from the device first."
				).format(doc.device_user_id, other, _full_name(doc) or _("(no name)")),
			)
		note = _("The device already was as asked ({0}).").format(error)
		_carried_out(doc, {}, already=True)
		return _finish(doc, DONE, status_code=error.status_code, note=note)
	if doc.operation == "Device Information":
		device_information.record_failure(doc.device, str(error))
	return _finish(
		doc,
		FAILED,
		status_code=error.status_code,
		error=describe(error, _("send the command again when the device is back")),
	)


def _full_name(doc) -> str:
	params = json.loads(doc.parameters or "{}")
	return " ".join(part for part in _user_names(params) if part)


def _someone_else(doc) -> str | None:
	"""For Add User answered "user exists": the name the directory knows for that user on the
	device, when it is not the one being added (the same ID used for two people)."""
	if doc.operation != "Add User":
		return None
	known = frappe.db.get_value(
		device_users.DEVICE_USER,
		{"device": doc.device, "device_user_id": doc.device_user_id, "status": device_users.ACTIVE},
		"full_name",
	)
	wanted = _full_name(doc)
	if known and wanted and known.strip().casefold() != wanted.strip().casefold():
		return known
	return None


def _finish(doc, status: str, reply: dict | None = None, status_code=None, note=None, error=None) -> str:
	doc.db_set(
		{
			"status": status,
			"reply": _to_json(reply) if reply is not None else None,
			"status_code": status_code,
			"status_meaning": c.STATUS_CODES.get(status_code) if status_code is not None else None,
			"note": note,
			"error": error,
			"finished_at": now_datetime(),
		}
	)
	frappe.db.commit()  # nosemgrep: a background job
	return status


def _to_json(body: dict) -> str:
	# Never the token, nor template data or photos a reply may carry.
	return json.dumps(strip_biometrics(redact(body)), indent=1, ensure_ascii=False, default=str)
