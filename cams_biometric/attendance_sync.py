"""Auto attendance that waits for late devices.

HRMS marks attendance (hourly, `process_auto_attendance_for_all_shifts`) from the checkins
of shifts that ended before the Shift Type's *Last Sync of Checkin*, and marks Absent who
has none. With *Automatically update Last Sync of Checkin* on, HRMS' own hourly job moves
that mark to the last shift end + 1 minute whatever the devices did: a device that was
offline during the shift sends its punches later, after its people were marked absent
(HRMS' field description: "Recommended for a single biometric device").

With the setting *Hold Auto Attendance for Late Devices* on, this module keeps the mark of
every Shift Type with auto attendance on and HRMS' automatic update off (HRMS' job leaves
those alone, so the two never fight over one field; the settings offer to switch HRMS'
update off where it is on). The mark moves past a shift's end only once every enabled
device has been heard from after that end (health.last_heard: a callback punch, or the
gateway's last connection) and no punch from before that end is still Pending; it never
moves backwards, and never past now. All times are Frappe's (site time zone).
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import frappe
from frappe import _
from frappe.query_builder.functions import Count
from frappe.utils import format_datetime, get_datetime, now_datetime

from cams_biometric import arguments, health
from cams_biometric.constants import PENDING, RAW_PUNCH, SETTINGS

SHIFT_TYPE = "Shift Type"
# HRMS sets the mark one minute after the shift's end, so the end itself is included.
PAST_SHIFT_END = timedelta(minutes=1)


@dataclass
class ShiftSync:
	"""What the sync decides for one Shift Type."""

	shift_type: str
	current: datetime | None
	latest_end: datetime | None  # the latest actual end of the shift before now
	new_value: datetime | None = None  # set when the mark moves
	# (device, reason) for each device that holds the mark before latest_end
	held_by: list[tuple[str, str]] = field(default_factory=list)
	pending_reason: str | None = None

	@property
	def held(self) -> bool:
		return bool(self.held_by or self.pending_reason)

	def reasons(self) -> list[str]:
		return [reason for _device, reason in self.held_by] + (
			[self.pending_reason] if self.pending_reason else []
		)


def is_enabled() -> bool:
	return bool(frappe.db.get_single_value(SETTINGS, "hold_auto_attendance"))


def managed_shift_types(names: list[str] | None = None) -> list:
	"""Shift Types whose mark this module keeps: auto attendance on, HRMS' update off."""
	filters = {"enable_auto_attendance": 1, "auto_update_last_sync": 0}
	if names is not None:
		filters["name"] = ("in", names)
	return frappe.get_all(
		SHIFT_TYPE,
		filters=filters,
		fields=[
			"name",
			"start_time",
			"end_time",
			"allow_check_out_after_shift_end_time",
			"last_sync_of_checkin",
		],
		order_by="name asc",
	)


def shift_types_left_to_hrms() -> list[str]:
	"""Shift Types with auto attendance whose mark HRMS' own job moves without waiting."""
	return frappe.get_all(
		SHIFT_TYPE, filters={"enable_auto_attendance": 1, "auto_update_last_sync": 1}, pluck="name"
	)


def latest_shift_end(shift, before: datetime) -> datetime | None:
	"""The latest *actual* end (end time + the check-out allowance, as HRMS' get_shift_details
	computes it) of a shift that ends before ``before``. A shift whose end time is not after
	its start time ends on the next day, as in HRMS' get_shift_timings."""
	start, end = _as_timedelta(shift.start_time), _as_timedelta(shift.end_time)
	if start is None or end is None:
		return None
	allowance = timedelta(minutes=shift.allow_check_out_after_shift_end_time or 0)
	spans_midnight = end <= start
	ends = []
	for days_back in range(3):
		shift_day = datetime.combine(before.date(), datetime.min.time()) - timedelta(days=days_back)
		actual_end = shift_day + end + (timedelta(days=1) if spans_midnight else timedelta()) + allowance
		if actual_end < before:
			ends.append(actual_end)
	return max(ends) if ends else None


def _as_timedelta(value) -> timedelta | None:
	if value is None or isinstance(value, timedelta):
		return value
	parsed = datetime.strptime(str(value).split(".")[0], "%H:%M:%S")
	return timedelta(hours=parsed.hour, minutes=parsed.minute, seconds=parsed.second)


def plan(
	now: datetime | None = None, devices: list | None = None, shift_types: list[str] | None = None
) -> list[ShiftSync]:
	"""What the sync would do now, shift by shift (also what Device Health shows). By default
	for every enabled device and every managed Shift Type; tests narrow both to their own."""
	now = now or now_datetime()
	devices = health.enabled_devices() if devices is None else devices
	plans = []
	for shift in managed_shift_types(shift_types):
		current = get_datetime(shift.last_sync_of_checkin) if shift.last_sync_of_checkin else None
		end = latest_shift_end(shift, now)
		sync = ShiftSync(shift.name, current, end)
		plans.append(sync)
		if end is None or (current and end + PAST_SHIFT_END <= current):
			continue  # no shift has ended since the mark
		heard = {device.name: health.last_heard(device) for device in devices}
		for device in devices:
			if heard[device.name] is None or heard[device.name] <= end:
				sync.held_by.append((device.name, _hold_reason(device, heard[device.name], end)))
		# The latest shift end that every device has been heard from after: a device that went
		# quiet today still lets yesterday's shift be marked, if it was heard after its end.
		if any(time is None for time in heard.values()):
			continue
		target = latest_shift_end(shift, min([now, *heard.values()]))
		if target is None or (current and target + PAST_SHIFT_END <= current):
			continue
		if pending := _pending_before(target, [device.name for device in devices]):
			sync.pending_reason = _(
				"{0} punches from before {1} are still waiting to become checkins (Pending)"
			).format(pending, format_datetime(target))
			continue
		sync.new_value = min(target + PAST_SHIFT_END, now)  # never past now
		if current and sync.new_value <= current:
			sync.new_value = None  # never backwards
	return plans


def _hold_reason(device, heard: datetime | None, end: datetime) -> str:
	label = device.device_label or device.name
	if heard is None:
		return _("{0} has never been heard from (no punch by callback, no gateway connection)").format(label)
	return _("{0} has not been heard from since {1}, before the shift ended at {2}").format(
		label, format_datetime(heard), format_datetime(end)
	)


def _pending_before(end: datetime, devices: list[str]) -> int:
	if not devices:
		return 0
	return pending_before_query(end, devices).run()[0][0]


def pending_before_query(end: datetime, devices: list[str]):
	"""Punches of these devices from before ``end`` not yet made checkins (status index)."""
	raw = frappe.qb.DocType(RAW_PUNCH)
	return (
		frappe.qb.from_(raw)
		.select(Count("*"))
		.where((raw.status == PENDING) & raw.device.isin(devices) & (raw.punch_time <= end))
	)


def sync_last_sync_of_checkin(now: datetime | None = None, **narrow) -> list[ShiftSync]:
	"""Scheduled: move each managed Shift Type's mark as far as every device allows.
	(``narrow``: plan's devices and shift_types, for tests.)"""
	if not is_enabled():
		return []
	plans = plan(now, **narrow)
	for sync in plans:
		if sync.new_value:
			# As HRMS' own update_last_sync_of_checkin writes it.
			frappe.db.set_value(SHIFT_TYPE, sync.shift_type, "last_sync_of_checkin", sync.new_value)
	return plans


def holds_by_device(plans: list[ShiftSync]) -> dict[str, list[str]]:
	"""{device: ["Shift X held at <time>: reason", ...]} for Device Health."""
	holds: dict[str, list[str]] = {}
	for sync in plans:
		for device, reason in sync.held_by:
			holds.setdefault(device, []).append(
				_("{0} waits after {1}: {2}").format(
					sync.shift_type, format_datetime(sync.latest_end), reason
				)
			)
	return holds


@frappe.whitelist(methods=["POST"])
def take_over_shift_types(args: dict | str | None = None) -> list[str]:
	"""The settings' offer: switch HRMS' automatic update off on auto-attendance Shift Types,
	so that their mark waits for late devices too. (``args``: what msgprint's server action
	sends; nothing is needed from it.)"""
	frappe.has_permission(SHIFT_TYPE, "write", throw=True)
	arguments.json_object(args, "args")
	names = shift_types_left_to_hrms()
	for name in names:
		doc = frappe.get_doc(SHIFT_TYPE, name)
		doc.check_permission("write")
		doc.auto_update_last_sync = 0
		doc.save()
	if names:
		frappe.msgprint(
			_("Last Sync of Checkin of {0} now waits for late devices.").format(", ".join(names)),
			alert=True,
		)
	return names
