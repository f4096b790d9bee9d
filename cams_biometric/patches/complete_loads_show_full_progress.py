import frappe

from cams_biometric.loads import COMPLETED, LOAD_REQUEST


def execute():
	# Progress is new: loads that completed before it existed read their whole range.
	table = frappe.qb.DocType(LOAD_REQUEST)
	frappe.qb.update(table).set(table.progress, 100).where(table.status == COMPLETED).run()
