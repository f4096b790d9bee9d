import frappe

from cams_biometric.constants import CHECKIN, DEVICE, DEVICE_EVENT, LOG_DOCTYPES, SETTINGS

APP = "cams_biometric"
PASSWORD_DOCTYPES = (DEVICE,)

# HRMS indexes Employee Checkin by employee alone, and every checkin we make looks for one
# of that employee at the same instant (our duplicate check and HRMS' validate_duplicate_log):
# without this index that read grows with each employee's history, ~1,500 checkins a year.
CHECKIN_INDEX = "cams_biometric_employee_time"
CHECKIN_INDEX_FIELDS = ["employee", "time"]

SETUP_BLOCK = "CAMS Biometric Setup"


def before_install():
	# A bench whose Redis cached the module map before this app joined apps.txt would sync
	# none of our doctypes (and fail after_install): rebuild the map first.
	frappe.cache.delete_value("app_modules")
	frappe.setup_module_map()


def after_install():
	ensure_default_settings()
	add_checkin_index()


def after_migrate():
	ensure_default_settings()


def ensure_default_settings():
	"""Fill the punch type mapping with the defaults wherever a type is missing."""
	settings = frappe.get_single(SETTINGS)
	if settings.add_missing_punch_types() or settings.is_new():
		settings.flags.ignore_permissions = True
		settings.save()


def add_checkin_index():
	# Online DDL: InnoDB builds it while checkins go on being written.
	frappe.db.add_index(CHECKIN, CHECKIN_INDEX_FIELDS, index_name=CHECKIN_INDEX)


def drop_checkin_index():
	if frappe.db.has_index(f"tab{CHECKIN}", CHECKIN_INDEX):
		frappe.db.sql_ddl(f"ALTER TABLE `tab{CHECKIN}` DROP INDEX `{CHECKIN_INDEX}`")


def before_uninstall():
	"""Remove what we left in other apps' tables; Frappe drops only our own doctypes."""
	# Log Settings' validate would add the rows back from our hooks, so no doc.save() here.
	frappe.db.delete("Logs To Clear", {"parent": "Log Settings", "ref_doctype": ("in", LOG_DOCTYPES)})
	# The scheduler does not forget jobs of an uninstalled app by itself.
	jobs = frappe.get_all(
		"Scheduled Job Type", filters={"method": ("like", "cams_biometric.%")}, pluck="name"
	)
	if jobs:
		frappe.db.delete("Scheduled Job Log", {"scheduled_job_type": ("in", jobs)})
		frappe.db.delete("Scheduled Job Type", {"name": ("in", jobs)})
	# The workspace's setup block is a fixture: a Custom HTML Block has no module to go with.
	frappe.delete_doc("Custom HTML Block", SETUP_BLOCK, ignore_missing=True, force=True)
	# Device tokens and keys live in __Auth, which dropping the doctype leaves behind.
	frappe.db.delete("__Auth", {"doctype": ("in", PASSWORD_DOCTYPES)})
	# Clock change notifications point at device events, which go with the app.
	frappe.db.delete("Notification Log", {"document_type": DEVICE_EVENT})


def after_uninstall():
	# Not in before_uninstall: DDL commits, and `uninstall-app --dry-run` runs both hooks,
	# so it would make the dry run's deletes above permanent. Only a real uninstall gets here
	# with the app gone from the site's list.
	if APP not in frappe.get_installed_apps():
		drop_checkin_index()


def before_tests():
	"""Give the test site a company, as HRMS' own tests do."""
	try:
		from hrms.tests.test_utils import before_tests as hrms_before_tests
	except ImportError:
		from erpnext.setup.utils import before_tests as hrms_before_tests
	hrms_before_tests()
	ensure_default_settings()
	frappe.db.commit()  # nosemgrep: the test runner expects fixtures to be committed
