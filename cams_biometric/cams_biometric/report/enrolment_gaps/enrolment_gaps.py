# Copyright (c) 2026, cams_biometric contributors
# For license information, please see license.txt

"""Where a device and the Employees disagree, one row per gap, each with its fix (see
cams_biometric.enrolment_gaps, which finds them and applies the fixes)."""

import frappe
from frappe import _
from frappe.utils import escape_html

from cams_biometric import arguments
from cams_biometric.constants import DEVICE
from cams_biometric.enrolment_gaps import GAPS, find


def execute(filters: dict | None = None):
	filters = frappe._dict(filters or {})
	device = arguments.name(filters.device, DEVICE, "device", required=False)
	gap = arguments.choice(filters.gap, GAPS, "gap", required=False)
	rows = find(device, gap)
	return columns(), rows, message(rows, device, gap), None, summary(rows)


def columns() -> list[dict]:
	# Text on the left: the datatable puts a column on the right when its first value is empty.
	return [{**column, "align": "left"} for column in _columns()]


def _columns() -> list[dict]:
	return [
		{"fieldname": "gap", "label": _("Gap"), "fieldtype": "Data", "width": 200},
		# The fix next to the gap it fixes, not off-screen to the right.
		{"fieldname": "fix", "label": _("Fix"), "fieldtype": "Data", "width": 150},
		{"fieldname": "device", "label": _("Device"), "fieldtype": "Link", "options": DEVICE, "width": 120},
		{"fieldname": "device_label", "label": _("Device Label"), "fieldtype": "Data", "width": 120},
		{"fieldname": "device_user_id", "label": _("Device User ID"), "fieldtype": "Data", "width": 110},
		{"fieldname": "name_on_device", "label": _("Name on the Device"), "fieldtype": "Data", "width": 150},
		{"fieldname": "access", "label": _("Access"), "fieldtype": "Data", "width": 80},
		{
			"fieldname": "employee",
			"label": _("Employee"),
			"fieldtype": "Link",
			"options": "Employee",
			"width": 120,
		},
		{"fieldname": "employee_name", "label": _("Employee Name"), "fieldtype": "Data", "width": 150},
		{"fieldname": "employee_status", "label": _("Status"), "fieldtype": "Data", "width": 80},
		{
			"fieldname": "company",
			"label": _("Company"),
			"fieldtype": "Link",
			"options": "Company",
			"width": 130,
		},
		{"fieldname": "branch", "label": _("Branch"), "fieldtype": "Link", "options": "Branch", "width": 100},
		{"fieldname": "note", "label": _("Note"), "fieldtype": "Data", "width": 300},
	]


def message(rows: list, device: str | None, gap: str | None) -> str | None:
	if rows:
		return None
	where = (
		_("device {0}").format(frappe.bold(escape_html(device))) if device else _("the devices you may see")
	)
	what = _(gap) if gap else _("enrolment gap")
	return _("No {0} on {1}: the devices hold the Employees they should, as they should.").format(what, where)


def summary(rows: list) -> list[dict]:
	counts = {gap: 0 for gap in GAPS}
	for row in rows:
		counts[row.gap] += 1
	return [
		{"value": count, "label": _(gap), "datatype": "Int", "indicator": "red" if count else "green"}
		for gap, count in counts.items()
	]
