import frappe

from cams_biometric.commands import COMMAND
from cams_biometric.loads import LOAD_REQUEST


def execute():
	"""Commands and loads were named "format:...-{#####}", whose counter is Frappe's unnamed
	series, shared by both (and by any other app's doctype named so). Each now has its own
	series; it starts after the highest number its doctype used, so no name is taken twice."""
	for doctype, prefix in ((COMMAND, "CAMS-CMD-"), (LOAD_REQUEST, "CAMS-LOAD-")):
		used = 0
		for name in frappe.get_all(doctype, filters={"name": ("like", f"{prefix}%")}, pluck="name"):
			number = name[len(prefix) :]
			if number.isdigit():
				used = max(used, int(number))
		series = frappe.qb.DocType("Series")
		current = frappe.qb.from_(series).select(series.current).where(series.name == prefix).run()
		if not current:
			frappe.qb.into(series).insert(prefix, used).run()
		elif current[0][0] < used:
			frappe.qb.update(series).set(series.current, used).where(series.name == prefix).run()
