"""Load Punchlog: fill gaps from the gateway's LoadLog history, one 50-row page per job.

A CAMS Load Request records the range and how far the load got (``next_offset``, and
``next_start_time`` once a gateway that sends no offset makes it page by time), so a load
that failed, or whose worker died, goes on from its last good page. Rows go through the same
raw log as callbacks, whose unique key recognises punches already stored (and the repeats of
paging by time).
"""

import time
from datetime import timedelta

import frappe
from frappe import _
from frappe.utils import format_datetime, get_datetime, get_system_timezone, now_datetime
from frappe.utils.background_jobs import get_job_status
from rq.job import JobStatus

from cams_biometric import arguments, load_resend, processing
from cams_biometric.cams_biometric.doctype.cams_biometric_settings.cams_biometric_settings import (
	endpoint_problem,
)
from cams_biometric.constants import (
	DEVICE,
	DUPLICATE,
	ERROR,
	PENDING,
	RAW_PUNCH,
	SOURCE_LOADLOG,
	UNMAPPED,
)
from cams_biometric.gateway import MAX_RETRIES, client_for, describe, retry_base_seconds
from cams_biometric.ingest import raw_punch_values, store_punch, to_json
from cams_biometric.protocol import client as cams
from cams_biometric.protocol.logtime import from_local_naive, to_local_naive

LOAD_REQUEST = "CAMS Load Request"
QUEUED, RUNNING, COMPLETED, PARTIAL, FAILED = (
	"Queued",
	"Running",
	"Completed",
	"Partially Completed",
	"Failed",
)
ACTIVE_STATUSES = (QUEUED, RUNNING)
RESUMABLE_STATUSES = (FAILED, PARTIAL, RUNNING)

# A live page job touches its load at least every ~3 minutes (a 100 s request timeout, then
# an 80 s back-off), so a load untouched for longer, with no job waiting, lost its worker.
LOST_AFTER_SECONDS = 300
PROGRESS_EVENT = "cams_load_progress"


# Site config can shorten it, e.g. for the fault drills in robustness/.
def lost_after() -> timedelta:
	return timedelta(seconds=int(frappe.conf.get("cams_biometric_load_lost_after") or LOST_AFTER_SECONDS))


def validate_range(from_time, to_time):
	"""Throw with a plain message unless the range is one the gateway can serve."""
	zone = get_system_timezone()
	start = from_local_naive(get_datetime(from_time), zone)
	end = from_local_naive(get_datetime(to_time), zone)
	now = from_local_naive(now_datetime(), zone)
	try:
		cams.validate_load_range(start, end, now)
	except cams.LoadRangeError as e:
		frappe.throw(str(e), title=_("Invalid range"))


def overlapping_active_load(device: str, from_time, to_time, exclude: str | None = None) -> str | None:
	table = frappe.qb.DocType(LOAD_REQUEST)
	query = (
		frappe.qb.from_(table)
		.select(table.name)
		.where(
			(table.device == device)
			& table.status.isin(ACTIVE_STATUSES)
			& (table.from_time < get_datetime(to_time))
			& (table.to_time > get_datetime(from_time))
		)
		.limit(1)
	)
	if exclude:
		query = query.where(table.name != exclude)
	result = query.run()
	return result[0][0] if result else None


@frappe.whitelist(methods=["POST"])
def start_load(device: str, from_time: str, to_time: str) -> str:
	"""Create a CAMS Load Request for one device and queue its first page."""
	# The doctype's permissions decide (frappe.only_for is skipped in tests, so never tested).
	frappe.has_permission(LOAD_REQUEST, "create", throw=True)
	device = arguments.name(device, DEVICE, "device")
	from_time, to_time = arguments.moment(from_time, "from_time"), arguments.moment(to_time, "to_time")
	doc = frappe.get_doc(
		{"doctype": LOAD_REQUEST, "device": device, "from_time": from_time, "to_time": to_time}
	)
	doc.insert()
	return doc.name


@frappe.whitelist(methods=["POST"])
def start_load_for_all_devices(from_time: str, to_time: str) -> list[str]:
	"""One load per enabled device; devices already loading that range are skipped and named."""
	frappe.has_permission(LOAD_REQUEST, "create", throw=True)
	from_time, to_time = arguments.moment(from_time, "from_time"), arguments.moment(to_time, "to_time")
	validate_range(from_time, to_time)
	started, busy = [], []
	for device in frappe.get_all(DEVICE, filters={"enabled": 1}, pluck="name", order_by="name"):
		if overlapping_active_load(device, from_time, to_time):
			busy.append(device)
			continue
		started.append(start_load(device, from_time, to_time))
	if busy:
		frappe.msgprint(
			_("Already loading an overlapping range, so skipped: {0}").format(", ".join(busy)),
			indicator="orange",
		)
	if not started and not busy:
		frappe.throw(_("There is no enabled CAMS Biometric Device to load from."))
	return started


@frappe.whitelist(methods=["POST"])
def resume_load(name: str) -> str:
	"""Go on from the last good page of a load that failed or lost its worker."""
	doc = frappe.get_doc(LOAD_REQUEST, arguments.name(name, LOAD_REQUEST, "name"))
	doc.check_permission("write")
	if doc.status not in RESUMABLE_STATUSES:
		frappe.throw(_("Only a failed, partially completed or stuck load can be resumed."))
	if doc.status == RUNNING and get_datetime(doc.modified) > now_datetime() - lost_after():
		frappe.throw(
			_("This load is running: it was updated less than {0} minutes ago.").format(
				int(lost_after().total_seconds() // 60) or 1
			)
		)
	if other := overlapping_active_load(doc.device, doc.from_time, doc.to_time, exclude=doc.name):
		frappe.throw(_("{0} is already loading an overlapping range of this device.").format(other))
	doc.db_set(
		{
			"status": QUEUED,
			"retries": 0,
			"resumes": doc.resumes + 1,
			"error": None,
			"finished_at": None,
			"stop_reason": None,
		}
	)
	doc.add_comment("Info", _("Resumed by {0} from {1}.").format(frappe.session.user, position(doc)))
	enqueue_page(doc.name, doc.next_offset, attempt=doc.resumes + doc.recoveries, start=doc.next_start_time)
	return doc.name


def position(doc) -> str:
	"""Where the load goes on from, in words for its comments."""
	if doc.next_start_time:
		return _("{0}, offset {1}").format(format_datetime(doc.next_start_time), doc.next_offset or 0)
	return _("offset {0}").format(doc.next_offset or 0)


def page_job_id(name: str, offset: int, attempt: int = 0, start=None) -> str:
	# One id per page: the running job of page N must not block queuing page N + 1. A resume
	# or recovery starts a new attempt, so the stale "started" job of a killed worker (RQ keeps
	# it until it cleans up) cannot swallow the new one as a duplicate. Paging by time keeps
	# the offset at 0, so there the time the page starts from tells pages apart.
	job_id = f"cams_biometric:load:{name}:{offset or 0}:{attempt or 0}"
	return f"{job_id}:{get_datetime(start):%Y%m%d%H%M%S}" if start else job_id


def enqueue_page(name: str, offset: int = 0, attempt: int = 0, start=None):
	frappe.enqueue(
		"cams_biometric.loads.load_page_job",
		queue="long",
		job_id=page_job_id(name, offset, attempt, start),
		deduplicate=True,
		enqueue_after_commit=True,
		load_request=name,
	)


def load_page_job(load_request: str):
	processing.run_as_administrator()
	if load_page(load_request):
		state = frappe.db.get_value(
			LOAD_REQUEST,
			load_request,
			["next_offset", "next_start_time", "resumes", "recoveries"],
			as_dict=True,
		)
		enqueue_page(
			load_request,
			state.next_offset,
			attempt=state.resumes + state.recoveries,
			start=state.next_start_time,
		)


def recover_lost_loads():
	"""Scheduled: queue again the next page of loads whose worker died (killed, database
	restarted, Redis flushed), so they finish without anyone pressing Resume."""
	cutoff = now_datetime() - lost_after()
	for name in frappe.get_all(
		LOAD_REQUEST,
		filters={"status": ("in", ACTIVE_STATUSES), "modified": ("<", cutoff)},
		pluck="name",
	):
		recover_if_lost(name, cutoff)
		frappe.db.commit()  # nosemgrep: a scheduled job; each load on its own


def recover_if_lost(name: str, cutoff) -> bool:
	table = frappe.qb.DocType(LOAD_REQUEST)
	# A page job holds this row while it stores a page: a locked row is a live load.
	rows = (
		frappe.qb.from_(table).select(table.name).where(table.name == name).for_update(skip_locked=True).run()
	)
	if not rows:
		return False
	doc = frappe.get_doc(LOAD_REQUEST, name)
	if doc.status not in ACTIVE_STATUSES or get_datetime(doc.modified) >= cutoff:
		return False
	attempt = doc.resumes + doc.recoveries
	if get_job_status(page_job_id(name, doc.next_offset, attempt, doc.next_start_time)) == JobStatus.QUEUED:
		return False  # waiting for a free worker, not lost
	last_progress = doc.modified
	doc.db_set({"status": QUEUED, "recoveries": doc.recoveries + 1, "retries": 0})
	doc.add_comment(
		"Info",
		_("No progress since {0} and no job waiting: the worker was lost. Queued again from {1}.").format(
			format_datetime(last_progress), position(doc)
		),
	)
	enqueue_page(name, doc.next_offset, attempt=attempt + 1, start=doc.next_start_time)
	return True


def load_page(name: str, sleep=time.sleep) -> bool:
	"""Fetch, store and process the load's next page; True when another page follows.

	Transient failures are retried here with back-off, a bounded number of times; then the
	load stops as Failed (or Partially Completed), resumable from the same offset.
	"""
	if not frappe.db.exists(LOAD_REQUEST, name):
		return False  # deleted while queued
	doc = frappe.get_doc(LOAD_REQUEST, name, for_update=True)
	if doc.status not in ACTIVE_STATUSES:
		return False
	if doc.status == QUEUED:
		doc.db_set({"status": RUNNING, "started_at": doc.started_at or now_datetime()})
	frappe.db.commit()  # nosemgrep: a background job; the admin sees Running at once

	zone = get_system_timezone()
	# A gateway without offsets moved the load's start on (next_start_time); see cams.next_page.
	cursor = get_datetime(doc.next_start_time) if doc.next_start_time else None
	start = from_local_naive(cursor or get_datetime(doc.from_time), zone)
	end = from_local_naive(get_datetime(doc.to_time), zone)
	offset = doc.next_offset or 0
	while True:
		try:
			page = client_for(doc.device).load_log_page(start, end, offset)
			break
		except cams.CamsError as e:
			if e.transient and doc.retries < MAX_RETRIES:
				doc.db_set({"retries": doc.retries + 1, "gateway_retries": doc.gateway_retries + 1})
				frappe.db.commit()  # nosemgrep
				publish_progress(
					doc, _("Gateway: {0}. Retry {1} of {2}...").format(e, doc.retries, MAX_RETRIES)
				)
				sleep(retry_base_seconds() * 2 ** (doc.retries - 1))
				continue
			error = describe(e)
			if isinstance(e, cams.FeatureNotSupported):
				error = load_resend.offer(doc, e)
			stop(doc, FAILED if not doc.pages_fetched else PARTIAL, error=error)
			return False

	checkin_names = processing.reserve_checkin_names(len(unstored_rows(doc.device, page.rows, zone)))
	# Lock the load while the page is stored, and make sure no other job (a recovery racing a
	# worker thought lost) recorded this page meanwhile: the counts must add up once.
	doc = frappe.get_doc(LOAD_REQUEST, name, for_update=True)
	moved = (doc.next_offset or 0, get_datetime(doc.next_start_time) if doc.next_start_time else None)
	if doc.status not in ACTIVE_STATUSES or moved != (offset, cursor):
		frappe.db.rollback()
		return False
	counts = store_page(doc, page, checkin_names)
	step = cams.next_page(page)
	if not step.stop_reason and step.start != start:
		cursor = to_local_naive(step.start, zone)
		# The cursor is kept as wall-clock time, which in a DST fall-back hour reads back an
		# hour early: a cursor that would not move on could loop, so stop instead.
		if from_local_naive(cursor, zone) <= start:
			step = cams.NextPage(stop_reason=cams.TIME_STUCK)
	page.stop_reason = step.stop_reason
	progress = {
		"pages_fetched": doc.pages_fetched + 1,
		"rows_received": doc.rows_received + len(page.rows),
		"new_punches": doc.new_punches + counts["new"],
		"duplicates": doc.duplicates + counts["duplicates"],
		"unmapped": doc.unmapped + counts["unmapped"],
		"errors": doc.errors + counts["errors"],
		"retries": 0,
		"progress": progress_after(doc, page.rows, end),
	}
	if not step.stop_reason:  # a stopped load keeps its last page's position, for Resume
		progress.update(next_offset=step.offset, next_start_time=cursor)
	doc.db_set(progress)
	if step.stop_reason:
		if step.complete:
			stop(doc, COMPLETED, stop_reason=step.stop_reason)
		else:
			stop(doc, PARTIAL, stop_reason=step.stop_reason, error=paging_error(step.stop_reason, start))
		return False
	frappe.db.commit()  # nosemgrep
	publish_progress(doc)
	return True


def progress_after(doc, rows: list, end) -> float:
	"""The load's progress once this page is stored, in percent of its whole range (also when
	it pages by time from a later start).

	Never moves back (a page of unreadable rows, a gateway that changes order), and stays
	below 100 until the load is complete: only stop() says the range was read to its end.
	"""
	zone = get_system_timezone()
	range_start = from_local_naive(get_datetime(doc.from_time), zone)
	covered = cams.range_covered(rows, range_start, end)
	if covered is None:
		return doc.progress or 0
	return max(doc.progress or 0, min(round(covered * 100, 1), 99.0))


def paging_error(stop_reason: str, start) -> str:
	"""What happened, for the admin, when paging stopped before the end of the range."""
	if stop_reason == cams.OFFSET_STUCK:
		return _("The gateway repeated an offset; stopped to avoid looping.")
	when = format_datetime(to_local_naive(start, get_system_timezone()))
	what = {
		cams.TIME_STUCK: _(
			"More than 50 punches carry the time {0} or the second after it, so asking again from"
			" there returns the same page."
		).format(when),
		cams.OUT_OF_ORDER: _(
			"But the page was not sorted oldest first, so going on from its last punch could skip punches."
		),
		cams.NO_LOGTIME: _("But no punch of the page has a readable LogTime to go on from."),
	}.get(stop_reason, stop_reason)
	return _(
		"The gateway sent a full page of punches but no offset we know, so the load can only go on by"
		" punch time. {0} Punches from {1} on may be missing: ask CAMS support to enable offset paging"
		" for LoadLog, then Resume."
	).format(what, when)


def unstored_rows(device: str, rows: list, zone: str) -> list:
	"""The page's readable punches that are not in the raw log yet (one indexed query)."""
	keys = {}
	for row in rows:
		values = raw_punch_values(device, row, zone)
		if values["status"] == PENDING:
			keys[values["punch_key"]] = row
	if not keys:
		return []
	table = frappe.qb.DocType(RAW_PUNCH)
	stored = set(
		frappe.qb.from_(table).select(table.punch_key).where(table.punch_key.isin(list(keys))).run(pluck=True)
	)
	return [row for key, row in keys.items() if key not in stored]


def store_page(doc, page, checkin_names: list[str] = ()) -> dict:
	"""Store and process one page; counts every row once, as new, duplicate, unmapped or error."""
	counts = {"new": 0, "duplicates": 0, "unmapped": 0, "errors": 0}
	new_rows = []
	for row in page.rows:
		stored = store_punch(
			doc.device,
			row,
			source=SOURCE_LOADLOG,
			raw_json=to_json(row),
			operation_id=page.operation_id or None,
			extra={"load_request": doc.name},
		)
		if not stored.created:
			counts["duplicates"] += 1
		elif stored.status == ERROR:
			counts["errors"] += 1
		else:
			new_rows.append(stored.name)
	outcomes = processing.process_rows(new_rows, (PENDING,), commit=False, checkin_names=checkin_names)
	for name in new_rows:
		# Processed, Ignored, or still Pending (integration switched off) count as new.
		status = outcomes.get(name)
		key = {DUPLICATE: "duplicates", UNMAPPED: "unmapped", ERROR: "errors"}.get(status, "new")
		counts[key] += 1
	return counts


def stop(doc, status: str, stop_reason: str | None = None, error: str | None = None):
	values = {"status": status, "stop_reason": stop_reason, "error": error, "finished_at": now_datetime()}
	if status == COMPLETED:
		values["progress"] = 100  # the range was read to its end, however few punches it held
	doc.db_set(values)
	frappe.db.commit()  # nosemgrep
	publish_progress(doc, done=True)


def publish_progress(doc, message: str | None = None, done: bool = False):
	frappe.publish_realtime(
		PROGRESS_EVENT,
		{
			"name": doc.name,
			"status": doc.status,
			"pages_fetched": doc.pages_fetched,
			"rows_received": doc.rows_received,
			"new_punches": doc.new_punches,
			"progress": doc.progress,
			"message": message,
			"done": done,
		},
		doctype=LOAD_REQUEST,
		docname=doc.name,
		after_commit=False,
	)
