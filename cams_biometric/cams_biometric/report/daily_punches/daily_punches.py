# Copyright (c) 2026, cams_biometric contributors
# For license information, please see license.txt

"""Employee x day: first IN, last OUT, how many punches, and what looks wrong.

Built on every Employee Checkin, not only those this app made: HRMS marks attendance from
all of an employee's checkins (devices, mobile app, typed in), so a day is judged on what
HRMS will judge it on. The Device IDs column says where they came from.

A checkin belongs to the day of its shift's start when HRMS attached it to a shift (a night
shift's 02:00 OUT belongs to the evening it started), otherwise to its calendar day.

"Outside the shift" uses HRMS' own attachment rather than our reading of shift rules: when
a checkin is inserted, HRMS (Employee Checkin.fetch_shift) looks for the employee's shift at
that time (the Shift Assignment, else the Employee's Default Shift, widened by the shift
type's early check-in and late check-out allowances) and leaves `shift` empty and `offshift`
set when there is none. Such a checkin is exactly one auto attendance will not count. It is
flagged only on days the employee has a shift (a Shift Assignment covering the day, a
Default Shift, or another checkin of the day in a shift): without any shift every checkin
is off-shift, and flagging them all would say nothing.
"""

from datetime import datetime, timedelta

import frappe
from frappe import _
from frappe.query_builder import Case
from frappe.query_builder.functions import Coalesce, Count, Date, GroupConcat, Max, Min, Sum
from frappe.utils import add_days, getdate, today

from cams_biometric.constants import CHECKIN

MAX_DAYS = 93


def execute(filters: dict | None = None):
	filters = frappe._dict(filters or {})
	validate(filters)
	return columns(), data(filters)


def validate(filters):
	if not filters.company:
		frappe.throw(_("Choose a Company"))
	# The company, and below only the employees this user may read (User Permissions on
	# Company, Department, Branch or Employee): checkins link to no company themselves.
	frappe.has_permission("Company", "read", doc=filters.company, throw=True)
	filters.from_date = getdate(filters.from_date or add_days(today(), -6))
	filters.to_date = getdate(filters.to_date or today())
	if filters.from_date > filters.to_date:
		frappe.throw(_("From Date must not be after To Date"))
	if (filters.to_date - filters.from_date).days >= MAX_DAYS:
		frappe.throw(_("Choose at most {0} days").format(MAX_DAYS))


def columns() -> list[dict]:
	# Narrow enough for a laptop screen: First IN and Last OUT show only the time when they fall
	# on the row's day (daily_punches.js).
	return [
		{
			"fieldname": "employee",
			"label": _("Employee"),
			"fieldtype": "Link",
			"options": "Employee",
			"width": 120,
		},
		{"fieldname": "employee_name", "label": _("Employee Name"), "fieldtype": "Data", "width": 115},
		{
			"fieldname": "department",
			"label": _("Department"),
			"fieldtype": "Link",
			"options": "Department",
			"width": 90,
		},
		{"fieldname": "day", "label": _("Day"), "fieldtype": "Date", "width": 110},
		{
			"fieldname": "shift",
			"label": _("Shift"),
			"fieldtype": "Link",
			"options": "Shift Type",
			"width": 70,
		},
		{"fieldname": "first_in", "label": _("First IN"), "fieldtype": "Datetime", "width": 80},
		{"fieldname": "last_out", "label": _("Last OUT"), "fieldtype": "Datetime", "width": 90},
		{"fieldname": "punches", "label": _("Punches"), "fieldtype": "Int", "width": 85},
		{"fieldname": "odd_punches", "label": _("Odd Count"), "fieldtype": "Check", "width": 100},
		{"fieldname": "missing_out", "label": _("Missing OUT"), "fieldtype": "Check", "width": 110},
		{"fieldname": "outside_shift", "label": _("Outside Shift"), "fieldtype": "Int", "width": 110},
		{"fieldname": "device_ids", "label": _("Device IDs"), "fieldtype": "Data", "width": 105},
		{"fieldname": "first_punch", "label": _("First Punch"), "fieldtype": "Datetime", "hidden": 1},
		{"fieldname": "last_punch", "label": _("Last Punch"), "fieldtype": "Datetime", "hidden": 1},
	]


def readable_employees(filters) -> list[str]:
	conditions = {"company": filters.company}
	for field in ("department", "name"):
		if value := filters.get("employee" if field == "name" else field):
			conditions[field] = value
	return frappe.get_list("Employee", filters=conditions, pluck="name", limit_page_length=0)


def data(filters) -> list[dict]:
	employees = readable_employees(filters)
	if not employees:
		return []
	rows = daily_query(filters).where(frappe.qb.DocType("Employee").name.isin(employees)).run(as_dict=True)
	shifts = ShiftsOfDays({row.employee for row in rows}, filters.from_date, filters.to_date)
	for row in rows:
		judge(row, shifts)
	return rows


def daily_query(filters):
	checkin, employee = frappe.qb.DocType(CHECKIN), frappe.qb.DocType("Employee")
	day = Date(Coalesce(checkin.shift_start, checkin.time))
	is_in, is_out = checkin.log_type == "IN", checkin.log_type == "OUT"
	typed = is_in | is_out
	query = (
		frappe.qb.from_(employee)
		.join(checkin)
		.on(checkin.employee == employee.name)
		.select(
			employee.name.as_("employee"),
			employee.employee_name,
			employee.department,
			employee.default_shift,
			day.as_("day"),
			Count("*").as_("punches"),
			Min(checkin.time).as_("first_punch"),
			Max(checkin.time).as_("last_punch"),
			Min(Case().when(is_in, checkin.time)).as_("first_typed_in"),
			Max(Case().when(is_in, checkin.time)).as_("last_typed_in"),
			Max(Case().when(is_out, checkin.time)).as_("last_typed_out"),
			Sum(Case().when(typed, 1).else_(0)).as_("typed"),
			Sum(Case().when(checkin.shift.isnull() | (checkin.offshift == 1), 1).else_(0)).as_("off_shift"),
			Max(checkin.shift).as_("shift"),
			GroupConcat(checkin.device_id).distinct().as_("device_ids"),
		)
		.where(employee.company == filters.company)
		# A day's checkins lie within a day around it (a night shift's end, an early start).
		.where(checkin.time >= datetime.combine(filters.from_date - timedelta(days=1), datetime.min.time()))
		.where(checkin.time < datetime.combine(filters.to_date + timedelta(days=2), datetime.min.time()))
		.where((day >= filters.from_date) & (day <= filters.to_date))
		.groupby(employee.name, day)
		.orderby(employee.name)
		.orderby(day)
	)
	if filters.department:
		query = query.where(employee.department == filters.department)
	if filters.employee:
		query = query.where(employee.name == filters.employee)
	return query


def judge(row, shifts: "ShiftsOfDays"):
	untyped_only = not row.typed
	if untyped_only:
		# Log types left to HRMS ("Alternating entries"): the first punch is IN, the last OUT.
		row.first_in = row.first_punch
		row.last_out = row.last_punch if row.punches > 1 else None
		row.missing_out = int(row.punches % 2 == 1)
	else:
		row.first_in = row.first_typed_in
		row.last_out = row.last_typed_out
		# The last IN comes after every OUT (or there is none): nobody punched out after it.
		row.missing_out = int(
			bool(row.last_typed_in) and (not row.last_typed_out or row.last_typed_in > row.last_typed_out)
		)
	row.odd_punches = int(row.punches % 2 == 1)
	row.shift = row.shift or shifts.shift_of(row.employee, row.day, row.default_shift)
	row.outside_shift = row.off_shift if row.shift else 0


class ShiftsOfDays:
	"""The Shift Assignments of some employees over a date range, read in one query."""

	def __init__(self, employees: set[str], from_date, to_date):
		self.assignments: dict[str, list] = {}
		if not employees:
			return
		assignment = frappe.qb.DocType("Shift Assignment")
		rows = (
			frappe.qb.from_(assignment)
			.select(assignment.employee, assignment.shift_type, assignment.start_date, assignment.end_date)
			.where(
				assignment.employee.isin(list(employees))
				& (assignment.docstatus == 1)
				& (assignment.status == "Active")
				& (assignment.start_date <= to_date)
				& (assignment.end_date.isnull() | (assignment.end_date >= from_date))
			)
			.run(as_dict=True)
		)
		for row in rows:
			self.assignments.setdefault(row.employee, []).append(row)

	def shift_of(self, employee: str, day, default_shift: str | None) -> str | None:
		for row in self.assignments.get(employee, []):
			if row.start_date <= day and (not row.end_date or day <= row.end_date):
				return row.shift_type
		return default_shift
