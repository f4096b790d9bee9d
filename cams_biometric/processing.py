"""From raw punch to Employee Checkin, exactly once.

Every entry point takes the raw row with SELECT ... FOR UPDATE and re-reads its status, so
a per-punch job, the scheduled sweep and a manual reprocess may all meet on the same row:
the first one does the work, the others find it done. Checkins of one employee are made
one at a time (the Employee row is locked), so two devices reporting the same instant
cannot both insert.
"""

from dataclasses import dataclass

import frappe
from frappe import _
from frappe.model.naming import set_new_name
from frappe.utils import add_to_date, now_datetime, strip_html
from frappe.utils.background_jobs import get_job_status
from rq.job import JobStatus

from cams_biometric.constants import (
	CHECKIN,
	DEVICE,
	DUPLICATE,
	ERROR,
	IGNORED,
	PENDING,
	PROCESSED,
	RAW_PUNCH,
	REPROCESSABLE_STATUSES,
	SETTINGS,
	UNMAPPED,
)

# A reprocess of up to this many rows runs in the request; more go to a background job.
INLINE_REPROCESS_LIMIT = 20
# The sweep leaves fresh rows to the job their callback queued.
SWEEP_GRACE_SECONDS = 60
SWEEP_BATCH = 500
# A drain that starts to more Pending rows than this keeps a helper drain queued.
HELPER_DRAIN_BACKLOG = 200


@dataclass(frozen=True)
class Outcome:
	status: str
	employee: str | None = None
	employee_name: str | None = None
	employee_checkin: str | None = None
	error: str | None = None


DRAIN_JOB_KEY = "cams_biometric:queued_drain"


def enqueue_drain():
	"""Make sure a drain job is queued once this transaction commits.

	Callbacks share drain jobs instead of queuing one job per punch: a forked job per punch
	costs more than the checkin itself. A queued (not yet started) drain will see every row
	committed before it starts, so a new one is queued only when none is waiting.
	"""
	frappe.db.after_commit.add(_queue_drain_unless_one_waits)


def _queue_drain_unless_one_waits():
	queued = frappe.cache.get_value(DRAIN_JOB_KEY)
	if queued and get_job_status(queued) == JobStatus.QUEUED:
		return
	job_id = f"cams_biometric:drain:{frappe.generate_hash(length=12)}"
	frappe.cache.set_value(DRAIN_JOB_KEY, job_id)
	frappe.enqueue("cams_biometric.processing.drain_job", queue="short", job_id=job_id)


def drain_job():
	"""Process every Pending row; rows another drain holds are skipped, not waited for."""
	run_as_administrator()
	if has_backlog():
		# A backlog (workers were down, a device replayed its memory) is more than one worker's
		# work: keep one more drain waiting, so every free worker joins in. A helper that
		# starts to an empty log ends at once and queues nothing.
		_queue_drain_unless_one_waits()
	process_pending_punches(grace_seconds=0)


def has_backlog() -> bool:
	"""More than HELPER_DRAIN_BACKLOG Pending rows (reads at most one more than that)."""
	pending = frappe.get_all(
		RAW_PUNCH, filters={"status": PENDING}, pluck="name", limit=HELPER_DRAIN_BACKLOG + 1
	)
	return len(pending) > HELPER_DRAIN_BACKLOG


def process_raw_punch(name: str, statuses: tuple[str, ...] = (PENDING,)) -> Outcome | None:
	"""Process one raw row if its status is one of ``statuses``; returns what happened.

	Returns None when the row is gone, is in another status, or the integration is switched
	off (the row then stays Pending until it is switched on again).
	"""
	if not frappe.db.get_single_value(SETTINGS, "enabled"):
		return None
	return _process(name, statuses, devices={}, checkin_names=[])


def _process(name: str, statuses: tuple[str, ...], devices: dict, checkin_names: list[str]) -> Outcome | None:
	table = frappe.qb.DocType(RAW_PUNCH)
	rows = (
		frappe.qb.from_(table)
		.select(
			table.name,
			table.status,
			table.device,
			table.device_user_id,
			table.punch_time,
			table.punch_type,
			table.error,
			table.attempts,
		)
		.where(table.name == name)
		# Another job holds it: that one does the work.
		.for_update(skip_locked=True)
		.run(as_dict=True)
	)
	row = rows[0] if rows else None
	if not row or row.status not in statuses:
		return None

	outcome = decide(row, devices, checkin_names)
	frappe.db.set_value(
		RAW_PUNCH,
		name,
		{
			"status": outcome.status,
			"employee": outcome.employee,
			"employee_name": outcome.employee_name,
			"employee_checkin": outcome.employee_checkin,
			"error": outcome.error,
			"attempts": (row.attempts or 0) + 1,
			"processed_at": now_datetime(),
		},
	)
	return outcome


def decide(row, devices: dict, checkin_names: list[str]) -> Outcome:
	"""What a raw row becomes; ``devices`` caches device details across one batch, and a
	new checkin takes the next of ``checkin_names`` (see reserve_checkin_names) if any."""
	if not row.punch_time:
		# Stored as Error because its data could not be read; reprocessing cannot fix that.
		return Outcome(ERROR, error=row.error or _("The punch has no readable time"))

	settings = frappe.get_cached_doc(SETTINGS)
	rule = settings.punch_type_rule(row.punch_type)
	if not rule:
		return Outcome(
			ERROR,
			error=_("Unknown punch type {0}: add it to the mapping in CAMS Biometric Settings").format(
				repr(row.punch_type)
			),
		)
	if not rule.create_checkin:
		return Outcome(
			IGNORED,
			error=_("Punch type {0} is set not to create checkins in CAMS Biometric Settings").format(
				row.punch_type
			),
		)

	# Locked: one employee's checkins are made one at a time; see the module docstring.
	employee = frappe.db.get_value(
		"Employee",
		{"attendance_device_id": row.device_user_id},
		["name", "status", "employee_name"],
		as_dict=True,
		for_update=True,
	)
	if not employee:
		return Outcome(
			UNMAPPED,
			error=_("No Employee has Attendance Device ID {0}").format(row.device_user_id),
		)
	found = {"employee": employee.name, "employee_name": employee.employee_name}
	if employee.status != "Active":
		return Outcome(
			ERROR,
			error=_("Employee {0} is {1}, not Active").format(employee.name, employee.status),
			**found,
		)

	existing = _checkin_at(employee.name, row.punch_time)
	if existing:
		return Outcome(DUPLICATE, employee_checkin=existing, **found)

	if row.device not in devices:
		devices[row.device] = (
			frappe.db.get_value(
				DEVICE, row.device, ["device_label", "serial_number", "latitude", "longitude"], as_dict=True
			)
			or frappe._dict()
		)
	device = devices[row.device]
	checkin = frappe.get_doc(
		{
			"doctype": CHECKIN,
			"employee": employee.name,
			"time": row.punch_time,
			"log_type": rule.log_type or None,
			"device_id": device.device_label or device.serial_number or row.device,
			"latitude": device.latitude or None,
			"longitude": device.longitude or None,
		}
	)
	savepoint = "cams_checkin"
	frappe.db.savepoint(savepoint)
	try:
		# ignore_permissions: an insert without permlevel access silently resets `time` to now.
		checkin.insert(ignore_permissions=True, set_name=checkin_names.pop(0) if checkin_names else None)
	except frappe.ValidationError as e:
		frappe.db.rollback(save_point=savepoint)
		frappe.clear_messages()
		# HRMS' own duplicate check (a checkin made elsewhere in the meantime) ends here too.
		existing = _checkin_at(employee.name, row.punch_time)
		if existing:
			return Outcome(DUPLICATE, employee_checkin=existing, **found)
		return Outcome(ERROR, error=strip_html(str(e)) or type(e).__name__, **found)
	return Outcome(PROCESSED, employee_checkin=checkin.name, **found)


def _checkin_at(employee: str, time) -> str | None:
	return frappe.db.get_value(CHECKIN, {"employee": employee, "time": time}, "name")


def reserve_checkin_names(count: int) -> list[str]:
	"""Take ``count`` Employee Checkin names from HRMS' naming series and commit at once.

	HRMS names each checkin from one counter row, locked until the inserting transaction
	commits. A Load Punchlog page makes its checkins in one transaction, so two workers'
	pages queued behind each other's lock: measured, the workers spent a third of their
	time waiting on it. Names taken here hold the lock for milliseconds; one not used
	leaves a gap in the numbering, nothing else. Empty when the checkin is not named by a
	series, so that HRMS names it as usual.
	"""
	if count <= 0 or ".#" not in (frappe.get_meta(CHECKIN).autoname or ""):
		return []
	if not frappe.db.get_single_value(SETTINGS, "enabled"):
		return []  # no checkins will be made
	names = []
	while len(names) < count:
		doc = frappe.new_doc(CHECKIN)
		set_new_name(doc)
		names.append(doc.name)
	frappe.db.commit()  # nosemgrep: a background job; releases the series row at once
	return names


def run_as_administrator():
	# Jobs queued from the guest callback would otherwise run, and own checkins, as Guest.
	if frappe.session.user != "Administrator":
		frappe.set_user("Administrator")


def process_rows(
	names: list[str], statuses: tuple[str, ...], commit: bool, checkin_names: list[str] = ()
) -> dict[str, str]:
	"""Process rows one by one; returns {name: new status} for the rows that changed.

	The switch and the devices are read once per batch: a row costs a checkin insert and a
	handful of indexed reads, and these would add two more to each.
	"""
	if not frappe.db.get_single_value(SETTINGS, "enabled"):
		return {}
	outcomes, devices, checkin_names = {}, {}, list(checkin_names)
	for name in names:
		outcome = _process(name, statuses, devices, checkin_names)
		if outcome:
			outcomes[name] = outcome.status
		if commit:
			frappe.db.commit()  # nosemgrep: a background job, one punch per transaction
	return outcomes


def reprocess_rows(names: list[str]) -> dict[str, str]:
	return process_rows(names, REPROCESSABLE_STATUSES, commit=False)


def enqueue_reprocess(names: list[str]):
	frappe.enqueue(
		"cams_biometric.processing.reprocess_rows_job",
		queue="long",
		enqueue_after_commit=True,
		names=names,
	)


def reprocess_rows_job(names: list[str]):
	run_as_administrator()
	process_rows(names, REPROCESSABLE_STATUSES, commit=True)


def process_pending_punches(grace_seconds: int = SWEEP_GRACE_SECONDS):
	"""Process Pending rows, oldest first. Scheduled every minute as the sweep (with a grace
	period that leaves fresh rows to the drain job their callback queued), and the body of
	the drain job itself (no grace)."""
	if not frappe.db.get_single_value(SETTINGS, "enabled"):
		return
	run_as_administrator()
	cutoff = add_to_date(now_datetime(), seconds=-grace_seconds)
	while True:
		names = frappe.get_all(
			RAW_PUNCH,
			filters={"status": PENDING, "creation": ("<=", cutoff)},
			pluck="name",
			order_by="creation asc",
			limit=SWEEP_BATCH,
		)
		# Stop when a batch changes nothing (switched off, or all held by another drain).
		if not names or not process_rows(names, (PENDING,), commit=True):
			return


def on_employee_update(doc, method=None):
	"""An Employee got (or changed) an Attendance Device ID: their Unmapped punches may now fit."""
	device_user_id = doc.get("attendance_device_id")
	if not device_user_id or not doc.has_value_changed("attendance_device_id"):
		return
	if frappe.db.exists(RAW_PUNCH, {"device_user_id": device_user_id, "status": UNMAPPED}):
		frappe.enqueue(
			"cams_biometric.processing.reprocess_unmapped_job",
			queue="short",
			job_id=f"cams_biometric:unmapped:{device_user_id}",
			deduplicate=True,
			enqueue_after_commit=True,
			device_user_id=device_user_id,
		)


def reprocess_unmapped_job(device_user_id: str):
	run_as_administrator()
	names = frappe.get_all(
		RAW_PUNCH,
		filters={"device_user_id": device_user_id, "status": UNMAPPED},
		pluck="name",
		order_by="punch_time asc",
	)
	process_rows(names, (UNMAPPED,), commit=True)
