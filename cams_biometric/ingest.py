"""Storing what the gateway sends: one raw row per distinct punch, and the other events.

Shared by the callback and Load Punchlog, so a punch that arrives both ways is stored once.
"""

import json
from dataclasses import dataclass

import frappe
from frappe.utils import get_system_timezone, now_datetime

from cams_biometric.constants import ATTENDANCE_PHOTO, DEVICE_EVENT, ERROR, PENDING, RAW_PUNCH
from cams_biometric.protocol import constants as c
from cams_biometric.protocol.logtime import to_local_naive
from cams_biometric.protocol.payload import (
	CallbackEvent,
	PunchError,
	first_of,
	invalid_punch_key,
	punch_key,
	read_punch,
)
from cams_biometric.protocol.text import no_markup, plain_text, user_id_or_none


@dataclass(frozen=True)
class StoredPunch:
	name: str
	status: str
	created: bool  # False when the same punch was already stored


def raw_punch_values(device: str, data, time_zone: str) -> dict:
	"""The raw row's fields for one punch; a punch we cannot read becomes an Error row."""
	try:
		punch = read_punch(data)
	except PunchError as e:
		row = data if isinstance(data, dict) else {}
		user_id = first_of(row, c.USER_ID_KEYS)
		log_time = row.get(c.LOG_TIME)
		# What the row shows of a broken punch is no markup, and its user id only when it is
		# one; the raw JSON keeps the body as sent.
		return {
			"status": ERROR,
			"error": no_markup(str(e)),
			"punch_key": invalid_punch_key(device, data),
			"device_user_id": user_id_or_none(user_id),
			"log_time": plain_text(log_time, 140),
			"punch_type": plain_text(row.get(c.PUNCH_TYPE), 140),
		}
	return {
		"status": PENDING,
		"punch_key": punch_key(device, punch.user_id, punch.moment),
		"device_user_id": punch.user_id,
		"log_time": punch.log_time,
		"punch_time": to_local_naive(punch.moment, time_zone),
		"punch_type": punch.punch_type,
		"input_type": punch.input_type,
		"temperature": punch.temperature,
		"face_mask": {True: "Yes", False: "No"}.get(punch.face_mask, ""),
	}


def store_punch(
	device: str,
	data,
	*,
	source: str,
	raw_json: str,
	operation_id: str | None = None,
	extra: dict | None = None,
) -> StoredPunch:
	"""Store one punch unless the same punch (device, user, instant) is already stored.

	The unique punch_key makes this safe against concurrent callers: of two inserts of the
	same punch, the database lets one through and the other finds it.
	"""
	values = raw_punch_values(device, data, get_system_timezone())
	doc = frappe.get_doc(
		{
			"doctype": RAW_PUNCH,
			"device": device,
			"source": source,
			"operation_id": operation_id,
			"received_at": now_datetime(),
			"raw_json": raw_json,
			**values,
			**(extra or {}),
		}
	)
	if not insert_once(doc):
		# Stored before (a resend, or the same punch by LoadLog), or a concurrent insert of
		# the same punch won the race: that row stands.
		name, status = _committed_punch(values["punch_key"])
		return StoredPunch(name, status, created=False)
	_join_waiting_photo(doc.punch_key, doc.name)
	return StoredPunch(doc.name, doc.status, created=True)


def _join_waiting_photo(key: str, raw_punch: str):
	"""A photo that came before its punch is joined to it now. An UPDATE, a locking read: it
	sees a photo committed after this transaction's snapshot (see photos._punch_of)."""
	photo = frappe.qb.DocType(ATTENDANCE_PHOTO)
	(
		frappe.qb.update(photo)
		.set(photo.raw_punch, raw_punch)
		.where((photo.photo_key == key) & photo.raw_punch.isnull())
		.run()
	)


def insert_once(doc) -> bool:
	"""insert_row, unless a row with the same unique key exists: then nothing of this insert
	stays (the transaction goes on) and False is returned."""
	savepoint = "cams_insert_once"
	frappe.db.savepoint(savepoint)
	try:
		insert_row(doc)
	except (frappe.UniqueValidationError, frappe.DuplicateEntryError):
		frappe.db.rollback(save_point=savepoint)
		frappe.clear_messages()
		return False
	return True


def insert_row(doc):
	"""Insert a raw log row directly: its values come from the protocol parser, and the hot
	path cannot afford Document.insert's hooks (half the callback's time when measured)."""
	now = now_datetime()
	doc.name = frappe.generate_hash(length=10)
	doc.owner = doc.modified_by = frappe.session.user
	doc.creation = doc.modified = now
	doc.db_insert()


def _committed_punch(key: str) -> tuple[str, str]:
	"""The row that won an insert race. It committed after this transaction's snapshot, so
	only a locking read sees it; a shared lock (the failed insert holds one already), since
	exclusive ones would deadlock the other losers of the same race. frappe.qb has no
	LOCK IN SHARE MODE, hence the SQL."""
	rows = frappe.db.sql(
		"select name, status from `tabCAMS Raw Punch Log` where punch_key = %s lock in share mode", key
	)
	return rows[0]


def store_event(device: str, event: CallbackEvent, raw_json: str, result: str | None = None) -> str:
	"""Keep a non-punch callback (photo, user change, clock change, command reply) for an admin;
	``result``: what became of it."""
	data = event.data if isinstance(event.data, dict) else {}
	doc = frappe.get_doc(
		{
			"doctype": DEVICE_EVENT,
			"event_type": event.event_type,
			"device": device,
			"device_user_id": user_id_or_none(first_of(data, c.USER_ID_KEYS)),
			"operation_id": event.operation_id,
			"event_time": plain_text(data.get("OperationTime") or data.get(c.LOG_TIME) or event.time, 140),
			"received_at": now_datetime(),
			"raw_json": raw_json,
			"result": no_markup(result),
		}
	)
	insert_row(doc)
	return doc.name


def to_json(doc) -> str:
	return json.dumps(doc, indent=1, ensure_ascii=False, default=str)
