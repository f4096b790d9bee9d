"""From raw punch to Employee Checkin, exactly once.

Every entry point takes the raw row with SELECT ... FOR UPDATE and re-reads its status, so
a per-punch job, the scheduled sweep and a manual reprocess may all meet on the same row:
the first one does the work, the others find it done. Checkins of one employee are made
one at a time (the Employee row is locked), so two devices reporting the same instant
cannot both insert.
"""

from dataclasses import dataclass
from functools import cached_property

import frappe
from frappe import _
from frappe.model.naming import set_new_name
from frappe.query_builder.functions import IfNull
from frappe.utils import add_to_date, get_system_timezone, getdate, now_datetime, strip_html
from frappe.utils.background_jobs import get_job_status
from rq.job import JobStatus

from cams_biometric import photos
from cams_biometric.constants import (
	CHECKIN,
	DEVICE,
	DUPLICATE,
	ERROR,
	IGNORED,
	LEAVING_STATUSES,
	PENDING,
	PROCESSED,
	RAW_PUNCH,
	REPROCESSABLE_STATUSES,
	SETTINGS,
	UNMAPPED,
)
from cams_biometric.protocol.logtime import is_ambiguous

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
	process_pending_punches(grace_seconds=0, mapped_unmapped=False)


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


def _process(
	name: str, statuses: tuple[str, ...], devices: dict, checkin_names: list[str], wait: bool = False
) -> Outcome | None:
	table = frappe.qb.DocType(RAW_PUNCH)
	rows = (
		frappe.qb.from_(table)
		.select(
			table.name,
			table.status,
			table.device,
			table.device_user_id,
			table.punch_key,
			table.punch_time,
			table.punch_type,
			table.error,
			table.attempts,
		)
		.where(table.name == name)
		# Another job holds it: that one does the work. Unless ``wait``: a pickup after an
		# Employee change must see what a drain still holding the row decides (see
		# on_employee_update).
		.for_update(skip_locked=not wait)
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
	photos.follow_punch(name, outcome.employee, outcome.employee_name, outcome.employee_checkin)
	return outcome


class Punch:
	"""What the rules look at: the raw row, and what it takes from the settings, the device and
	the Employee, each read once and only when a rule needs it."""

	def __init__(self, row, devices: dict | None = None):
		self.row = row
		self._devices = {} if devices is None else devices

	@cached_property
	def mapping(self):
		"""The punch type's row in the settings' mapping, or None for an unknown type."""
		return frappe.get_cached_doc(SETTINGS).punch_type_rule(self.row.punch_type)

	@property
	def log_type(self) -> str | None:
		return self.mapping.log_type or None

	@property
	def device(self):
		if self.row.device not in self._devices:
			self._devices[self.row.device] = (
				frappe.db.get_value(
					DEVICE,
					self.row.device,
					["device_label", "serial_number", "latitude", "longitude", "company", "branch"],
					as_dict=True,
				)
				or frappe._dict()
			)
		return self._devices[self.row.device]

	@cached_property
	def employee(self):
		"""The Employee with this Attendance Device ID (unique in ERPNext), locked: one
		employee's checkins are made one at a time; see the module docstring."""
		return frappe.db.get_value(
			"Employee",
			{"attendance_device_id": self.row.device_user_id},
			[
				"name",
				"status",
				"employee_name",
				"company",
				"branch",
				"date_of_joining",
				"relieving_date",
			],
			as_dict=True,
			for_update=True,
		)

	def found(self) -> dict:
		return {"employee": self.employee.name, "employee_name": self.employee.employee_name}


# The rules a punch passes before it becomes a checkin, in order. Each returns the Outcome
# that ends the punch's processing, or None to go on.


def has_readable_time(punch: Punch) -> Outcome | None:
	if not punch.row.punch_time:
		# Stored as Error because its data could not be read; reprocessing cannot fix that.
		return Outcome(ERROR, error=punch.row.error or _("The punch has no readable time"))


def has_known_type(punch: Punch) -> Outcome | None:
	if not punch.mapping:
		return Outcome(
			ERROR,
			error=_("Unknown punch type {0}: add it to the mapping in CAMS Biometric Settings").format(
				repr(punch.row.punch_type)
			),
		)


def type_creates_checkins(punch: Punch) -> Outcome | None:
	if not punch.mapping.create_checkin:
		return Outcome(
			IGNORED,
			error=_("Punch type {0} is set not to create checkins in CAMS Biometric Settings").format(
				punch.row.punch_type
			),
		)


def maps_to_employee(punch: Punch) -> Outcome | None:
	"""An Employee has the user id, in the device's company and branch when it has them:
	devices number their users themselves, so user 2 of one branch is not user 2 of another."""
	employee, device = punch.employee, punch.device
	if not employee:
		return Outcome(
			UNMAPPED, error=_("No Employee has Attendance Device ID {0}").format(punch.row.device_user_id)
		)
	for field, label in (("company", _("company")), ("branch", _("branch"))):
		if device.get(field) and employee.get(field) != device.get(field):
			return Outcome(
				UNMAPPED,
				error=_(
					"Attendance Device ID {0} belongs to {1} of {2} {3}, but this device is for {2} {4}"
				).format(
					punch.row.device_user_id,
					employee.name,
					label,
					employee.get(field) or _("(none)"),
					device.get(field),
				),
			)


def employee_is_active(punch: Punch) -> Outcome | None:
	"""Active, or Left / Inactive with the punch on or before the relieving date: HR sets Left
	when notice is given, and the devices take the employee until that day (employee_devices),
	so the notice period's punches are theirs."""
	employee = punch.employee
	if employee.status == "Active":
		return None
	if (
		employee.status in LEAVING_STATUSES
		and employee.relieving_date
		and getdate(punch.row.punch_time) <= getdate(employee.relieving_date)
	):
		return None
	reason = _("Employee {0} is {1}, not Active").format(employee.name, employee.status)
	if employee.status in LEAVING_STATUSES:
		reason = (
			_("Employee {0} is {1}, and the punch is after their relieving date ({2})").format(
				employee.name, employee.status, employee.relieving_date
			)
			if employee.relieving_date
			else _("Employee {0} is {1}, with no relieving date").format(employee.name, employee.status)
		)
	return Outcome(ERROR, error=reason, **punch.found())


def within_employment(punch: Punch) -> Outcome | None:
	"""Not before the Employee joined nor after they left: an id given to a newcomer must not
	bring them punches of the person (or visitor) who had it before."""
	employee, day = punch.employee, getdate(punch.row.punch_time)
	if employee.date_of_joining and day < getdate(employee.date_of_joining):
		reason = _("The punch on {0} is before the date of joining of {1} ({2})")
		return Outcome(ERROR, error=reason.format(day, employee.name, employee.date_of_joining))
	if employee.relieving_date and day > getdate(employee.relieving_date):
		reason = _("The punch on {0} is after the relieving date of {1} ({2})")
		return Outcome(ERROR, error=reason.format(day, employee.name, employee.relieving_date))


def not_checked_in_already(punch: Punch) -> Outcome | None:
	"""A checkin of the employee at this time and log type (HRMS' own duplicate rule) makes a
	Duplicate, unless the wall-clock time occurs twice (daylight saving ends) and that
	checkin is not known to be this very instant: then nobody can tell, so it is an Error."""
	existing = _checkin_at(punch.employee.name, punch.row.punch_time, punch.log_type)
	if not existing:
		return None
	if is_ambiguous(punch.row.punch_time, get_system_timezone()) and not _same_instant(existing, punch.row):
		return Outcome(
			ERROR,
			error=_(
				"{0} occurs twice in {1} (daylight saving time ends), and {2} already has checkin {3}"
				" at that wall-clock time: check which of the two hours this punch belongs to"
				" ({4}) and record it by hand"
			).format(
				punch.row.punch_time,
				get_system_timezone(),
				punch.employee.name,
				existing,
				punch.row.log_time or punch.row.punch_key,
			),
			**punch.found(),
		)
	return Outcome(DUPLICATE, employee_checkin=existing, **punch.found())


RULES = (
	has_readable_time,
	has_known_type,
	type_creates_checkins,
	maps_to_employee,
	employee_is_active,
	within_employment,
	not_checked_in_already,
)


def decide(row, devices: dict, checkin_names: list[str]) -> Outcome:
	"""What a raw row becomes; ``devices`` caches device details across one batch, and a
	new checkin takes the next of ``checkin_names`` (see reserve_checkin_names) if any."""
	punch = Punch(row, devices)
	for rule in RULES:
		if outcome := rule(punch):
			return outcome
	return make_checkin(punch, checkin_names)


def make_checkin(punch: Punch, checkin_names: list[str]) -> Outcome:
	device = punch.device
	checkin = frappe.get_doc(
		{
			"doctype": CHECKIN,
			"employee": punch.employee.name,
			"time": punch.row.punch_time,
			"log_type": punch.log_type,
			"device_id": device.device_label or device.serial_number or punch.row.device,
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
		return not_checked_in_already(punch) or Outcome(
			ERROR, error=strip_html(str(e)) or type(e).__name__, **punch.found()
		)
	return Outcome(PROCESSED, employee_checkin=checkin.name, **punch.found())


def _checkin_at(employee: str, time, log_type: str | None) -> str | None:
	return frappe.db.get_value(CHECKIN, {"employee": employee, "time": time, "log_type": log_type}, "name")


def _same_instant(checkin: str, row) -> bool:
	"""Whether a raw punch we made ``checkin`` from was at the same instant as ``row``."""
	instant = _instant_of(row.punch_key)
	made_from = frappe.get_all(RAW_PUNCH, filters={"employee_checkin": checkin}, pluck="punch_key")
	return bool(instant) and instant in {_instant_of(key) for key in made_from}


def _instant_of(key: str | None) -> str | None:
	# punch_key is "device|user|UTC instant" (payload.punch_key)
	return key.rsplit("|", 1)[-1] if key else None


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


def process_pending_punches(grace_seconds: int = SWEEP_GRACE_SECONDS, mapped_unmapped: bool = True):
	"""Process Pending rows, oldest first, then the Unmapped rows an Employee now fits.
	Scheduled every minute as the sweep (with a grace period that leaves fresh rows to the
	drain job their callback queued), and the body of the drain job itself (no grace, and
	Pending rows only: it runs after every burst of callbacks)."""
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
			break
	if mapped_unmapped:
		process_mapped_unmapped_punches()


def process_mapped_unmapped_punches():
	"""The safety net under on_employee_update: Unmapped rows whose user id an active
	Employee now has (in the device's company and branch, if it has them), however that
	came about (a race with a drain, a mapping made while the integration was off, a
	data import that ran no hooks). Driven from Employee through the (status,
	device_user_id) index, so its cost follows the number of employees, not of rows."""
	while True:
		names = mapped_unmapped_punches(SWEEP_BATCH)
		if not names or not process_rows(names, (UNMAPPED,), commit=True):
			return


def mapped_unmapped_punches(limit: int) -> list[str]:
	return mapped_unmapped_query(limit).run(pluck=True)


def mapped_unmapped_query(limit: int):
	raw, employee, device = (
		frappe.qb.DocType(RAW_PUNCH),
		frappe.qb.DocType("Employee"),
		frappe.qb.DocType(DEVICE),
	)
	return (
		frappe.qb.from_(employee)
		.join(raw)
		.on((raw.status == UNMAPPED) & (raw.device_user_id == employee.attendance_device_id))
		.join(device)
		.on(device.name == raw.device)
		.select(raw.name)
		.where(
			(employee.status == "Active")
			& (IfNull(device.company, "").isin(["", employee.company]))
			& (IfNull(device.branch, "").isin(["", IfNull(employee.branch, "")]))
		)
		.orderby(raw.punch_time)
		.limit(limit)
	)


def on_employee_update(doc, method=None):
	"""An Employee got (or changed) an Attendance Device ID: their punches may now fit.

	Always queued, not only when Unmapped rows are seen: a drain may still hold one of this
	id's Pending rows and commit it as Unmapped after this transaction's snapshot was taken.
	The job looks after this commit, and waits for any row a drain still holds.
	"""
	device_user_id = doc.get("attendance_device_id")
	if not device_user_id or not doc.has_value_changed("attendance_device_id"):
		return
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
	if not frappe.db.get_single_value(SETTINGS, "enabled"):
		return  # switching the integration on sweeps them (on_integration_enabled)
	names = frappe.get_all(
		RAW_PUNCH,
		filters={"device_user_id": device_user_id, "status": ("in", (UNMAPPED, PENDING))},
		pluck="name",
		order_by="punch_time asc",
	)
	devices, statuses = {}, (UNMAPPED, PENDING)
	for name in names:
		_process(name, statuses, devices, checkin_names=[], wait=True)
		frappe.db.commit()  # nosemgrep: a background job, one punch per transaction


def on_integration_enabled():
	"""Switched on: what waited meanwhile (Pending rows, and Unmapped rows mapped while it
	was off) is processed now rather than at the next sweep."""
	frappe.enqueue(
		"cams_biometric.processing.process_pending_punches",
		queue="short",
		job_id="cams_biometric:integration_enabled",
		deduplicate=True,
		enqueue_after_commit=True,
		grace_seconds=0,
	)
