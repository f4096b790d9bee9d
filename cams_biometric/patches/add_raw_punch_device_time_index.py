from cams_biometric.cams_biometric.doctype.cams_raw_punch_log.cams_raw_punch_log import on_doctype_update


def execute():
	"""Sites installed before Device Health: its (device, punch_time) index. Migrate runs
	on_doctype_update only for doctypes whose JSON changed; adding an index is idempotent."""
	on_doctype_update()
