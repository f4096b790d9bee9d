"""Attendance photos: the photo a device takes at a punch (RealTimeAttendancePhoto, #10).

A photo is biometric data. Why a doctype of its own with the JPEG encrypted in a field,
rather than a private File attached to the raw punch:

- Encrypted at rest. A private File is a plain JPEG on disk and in every files backup. Here
  the JPEG is encrypted with the site's key (Frappe's encryption, as for passwords and the
  device users' templates), in a field at a permission level no role has, so the record
  never carries it to a browser.
- Permissions of its own. A private File is readable by whoever may read the document it is
  attached to: on the raw punch, giving a role the raw log to troubleshoot (HR User, say)
  would give it the photos too. CAMS Attendance Photo is read by HR and System Managers
  only, and the JPEG leaves the server only through photo_image(), which checks that.
- One per punch: photo_key is the punch's own key (device, user, instant), unique, so a
  resent photo stores nothing new and photo and punch find each other in either order.

Joined both ways in the callback's transaction: a photo finds its punch with a locking read
(so a punch being stored at that moment is seen), and a new punch takes the photo that waited
for it (ingest.store_punch). Processing the punch copies its Employee and checkin to the photo
(processing._process). Photos go with their raw punch (Log Settings' purge, or deleting the
row), with the Employee, and on request (HR Managers delete them).
"""

import re

import frappe
from cryptography.fernet import Fernet, InvalidToken
from frappe import _
from frappe.utils import cint, get_system_timezone, now_datetime
from frappe.utils.password import get_encryption_key
from werkzeug.wrappers import Response

from cams_biometric import arguments
from cams_biometric.constants import ATTENDANCE_PHOTO, CHECKIN, RAW_PUNCH, SETTINGS
from cams_biometric.ingest import insert_once
from cams_biometric.protocol import constants as c
from cams_biometric.protocol.logtime import to_local_naive
from cams_biometric.protocol.payload import (
	LOG_PHOTO,
	CallbackEvent,
	PhotoError,
	PhotoTooLarge,
	punch_key,
	read_attendance_photo,
)

DEFAULT_MAX_PHOTO_KB = 200
# A photo arrives Base64-encoded in one callback body, which may not exceed MAX_CALLBACK_BYTES.
MAX_PHOTO_KB = c.MAX_CALLBACK_BYTES * 3 // 4 // 1024


def keep_photos() -> bool:
	return bool(cint(frappe.db.get_single_value(SETTINGS, "keep_attendance_photos")))


def max_photo_bytes() -> int:
	kb = cint(frappe.db.get_single_value(SETTINGS, "max_photo_size_kb")) or DEFAULT_MAX_PHOTO_KB
	return min(kb, MAX_PHOTO_KB) * 1024


def apply_event(device: str, event: CallbackEvent) -> str | None:
	"""Keep the photo of an Attendance Photo event, in the caller's transaction.

	Returns what became of it, for the device event; None for other events. A photo that is
	not kept is no failure: the callback is answered done, or the gateway would resend it
	forever.
	"""
	if event.event_type != c.EVENT_ATTENDANCE_PHOTO:
		return None
	if not keep_photos():
		return _("Not kept: Keep Attendance Photos is off in CAMS Biometric Settings")
	try:
		photo = read_attendance_photo(event.data, max_photo_bytes())
	except PhotoTooLarge as e:
		return _("Refused: {0} (Maximum Photo Size in CAMS Biometric Settings)").format(e)
	except PhotoError as e:
		return _("Refused: {0}").format(e)

	key = punch_key(device, photo.user_id, photo.moment)
	punch = _punch_of(key) or {}
	doc = frappe.get_doc(
		{
			"doctype": ATTENDANCE_PHOTO,
			"photo_key": key,
			"device": device,
			"device_user_id": photo.user_id,
			"log_time": photo.log_time,
			"punch_time": to_local_naive(photo.moment, get_system_timezone()),
			"raw_punch": punch.get("name"),
			"employee": punch.get("employee"),
			"employee_name": punch.get("employee_name"),
			"employee_checkin": punch.get("employee_checkin"),
			"photo_size": len(photo.jpeg),
			"photo": encrypt_photo(photo.jpeg),
			"received_at": now_datetime(),
		}
	)
	if not insert_once(doc):
		return _("Already kept as {0}").format(_kept_photo(key))
	if punch:
		return _("Kept as {0}, with raw punch {1}").format(doc.name, punch["name"])
	return _("Kept as {0}; its punch has not arrived yet").format(doc.name)


def _punch_of(key: str) -> dict | None:
	"""The raw punch with this key, by a locking read: a punch another transaction is
	inserting or processing is waited for and seen as committed, and one inserted after this
	read waits for this photo, then joins it (ingest.store_punch)."""
	raw = frappe.qb.DocType(RAW_PUNCH)
	rows = (
		frappe.qb.from_(raw)
		.select(raw.name, raw.employee, raw.employee_name, raw.employee_checkin)
		.where(raw.punch_key == key)
		.for_update()
		.run(as_dict=True)
	)
	return rows[0] if rows else None


def _kept_photo(key: str) -> str:
	photo = frappe.qb.DocType(ATTENDANCE_PHOTO)
	rows = frappe.qb.from_(photo).select(photo.name).where(photo.photo_key == key).for_update().run()
	return rows[0][0] if rows else key


def encrypt_photo(jpeg: bytes) -> str:
	return Fernet(get_encryption_key().encode()).encrypt(jpeg).decode()


def decrypt_photo(token: str) -> bytes:
	try:
		return Fernet(get_encryption_key().encode()).decrypt(token.encode())
	except InvalidToken:
		frappe.throw(_("The photo cannot be decrypted: the site's encryption key has changed."))


def follow_punch(raw_punch: str, employee: str | None, employee_name: str | None, checkin: str | None):
	"""The raw punch was processed: its photo shows on the checkin, and belongs to the Employee."""
	photo = frappe.qb.DocType(ATTENDANCE_PHOTO)
	(
		frappe.qb.update(photo)
		.set(photo.employee, employee)
		.set(photo.employee_name, employee_name)
		.set(photo.employee_checkin, checkin)
		.where(photo.raw_punch == raw_punch)
		.run()
	)


def delete_photos_of_purged_punches(purged_punches, cutoff):
	"""Log Settings purges raw punches (``purged_punches``, a query of their names): their
	photos go with them, and so do photos older than ``cutoff`` whose punch never came or is
	gone."""
	photo, raw = frappe.qb.DocType(ATTENDANCE_PHOTO), frappe.qb.DocType(RAW_PUNCH)
	frappe.db.delete(photo, filters=photo.raw_punch.isin(purged_punches))
	unjoined = photo.raw_punch.isnull() | photo.raw_punch.notin(frappe.qb.from_(raw).select(raw.name))
	frappe.db.delete(photo, filters=(photo.received_at < cutoff) & unjoined)


def delete_photos_of_punch(raw_punch: str):
	frappe.db.delete(ATTENDANCE_PHOTO, {"raw_punch": raw_punch})


def on_employee_trash(doc, method=None):
	"""An Employee's photos go with them, like their templates (device_users.on_employee_trash)."""
	frappe.db.delete(ATTENDANCE_PHOTO, {"employee": doc.name})


# "LogPhoto": "<Base64>" as it appears in a JSON body or the repr of a dict or bytes.
_LOGGED_PHOTO = re.compile(r"""(LogPhoto\\?["']\s*:\s*\\?["'])[^"'\\]+""")


def redact_error_log(doc, method=None):
	"""Error Log before_insert: no attendance photo stays in a logged error. Frappe logs some
	failures with the request body among the traceback's variables."""
	for field in ("method", "error"):
		text = doc.get(field)
		if text and LOG_PHOTO in text:
			doc.set(field, _LOGGED_PHOTO.sub(r"\1<withheld>", text))


@frappe.whitelist(methods=["GET"])
def photo_image(name: str) -> Response:
	"""The JPEG of a CAMS Attendance Photo, for those who may read the record."""
	name = arguments.name(name, ATTENDANCE_PHOTO, "name")
	frappe.has_permission(ATTENDANCE_PHOTO, "read", name, throw=True)
	token = frappe.db.get_value(ATTENDANCE_PHOTO, name, "photo")
	if not token:
		raise frappe.DoesNotExistError(_("{0} {1} not found").format(_(ATTENDANCE_PHOTO), name))
	response = Response(decrypt_photo(token), mimetype="image/jpeg")
	# Not kept by the browser or any cache between: biometric data.
	response.headers["Cache-Control"] = "private, no-store"
	response.headers["X-Content-Type-Options"] = "nosniff"
	return response


@frappe.whitelist(methods=["GET"])
def photos_of_checkin(checkin: str) -> list[dict]:
	"""The attendance photos of an Employee Checkin: which exist, their size and when they came."""
	checkin = arguments.name(checkin, CHECKIN, "checkin")
	frappe.has_permission(CHECKIN, "read", checkin, throw=True)
	return frappe.get_list(
		ATTENDANCE_PHOTO,
		filters={"employee_checkin": checkin},
		fields=["name", "device", "punch_time", "photo_size", "received_at"],
		order_by="punch_time asc",
	)
