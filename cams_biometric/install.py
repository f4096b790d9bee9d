import frappe

from cams_biometric.constants import LOG_DOCTYPES, SETTINGS


def before_install():
	# A bench whose Redis cached the module map before this app joined apps.txt would sync
	# none of our doctypes (and fail after_install): rebuild the map first.
	frappe.cache.delete_value("app_modules")
	frappe.setup_module_map()


def after_install():
	ensure_default_settings()


def after_migrate():
	ensure_default_settings()


def ensure_default_settings():
	"""Fill the punch type mapping with the defaults wherever a type is missing."""
	settings = frappe.get_single(SETTINGS)
	if settings.add_missing_punch_types() or settings.is_new():
		settings.flags.ignore_permissions = True
		settings.save()


def before_uninstall():
	"""Remove what we registered in other apps' records, so uninstalling leaves no orphans."""
	log_settings = frappe.get_single("Log Settings")
	entries = [row for row in log_settings.logs_to_clear if row.ref_doctype in LOG_DOCTYPES]
	for row in entries:
		log_settings.remove(row)
	if entries:
		log_settings.flags.ignore_permissions = True
		log_settings.save()


def before_tests():
	"""Give the test site a company, as HRMS' own tests do."""
	try:
		from hrms.tests.test_utils import before_tests as hrms_before_tests
	except ImportError:
		from erpnext.setup.utils import before_tests as hrms_before_tests
	hrms_before_tests()
	ensure_default_settings()
	frappe.db.commit()  # nosemgrep: the test runner expects fixtures to be committed
