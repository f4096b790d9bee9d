"""Connections this app adds to other apps' forms, without adding fields to their doctypes."""

from frappe import _

from cams_biometric.constants import RAW_PUNCH


def employee_checkin_connections(data: dict) -> dict:
	"""Employee Checkin → the raw punch it was made from (its device, LogTime, raw body).

	The raw punch links to its checkin (employee_checkin), so the count and the list come
	from that field; the checkin itself is left as HRMS made it.
	"""
	data = data or {}
	data.setdefault("fieldname", "employee_checkin")
	# Another app's override may have set another fieldname for its own links.
	data.setdefault("non_standard_fieldnames", {})[RAW_PUNCH] = "employee_checkin"
	transactions = data.setdefault("transactions", [])
	transactions.append({"label": _("CAMS Biometric"), "items": [RAW_PUNCH]})
	return data
