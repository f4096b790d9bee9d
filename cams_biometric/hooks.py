app_name = "cams_biometric"
app_title = "CAMS Biometric"
app_publisher = "cams_biometric contributors"
app_description = "CAMS Biometrics Web API 3.0 attendance devices for ERPNext + HRMS"
app_email = "cams-biometric@example.org"
app_license = "mit"

required_apps = ["erpnext", "hrms"]

before_install = "cams_biometric.install.before_install"
after_install = "cams_biometric.install.after_install"
after_migrate = "cams_biometric.install.after_migrate"
before_uninstall = "cams_biometric.install.before_uninstall"
after_uninstall = "cams_biometric.install.after_uninstall"
before_tests = "cams_biometric.install.before_tests"

doc_events = {
	"Employee": {
		# A new attendance_device_id picks up the punches that were waiting for it, and moves
		# the device user directory's links.
		"on_update": [
			"cams_biometric.processing.on_employee_update",
			"cams_biometric.device_users.on_employee_update",
			# Left / Inactive / back to Active / a relieving date: the devices follow.
			"cams_biometric.employee_devices.on_employee_update",
		],
		# Biometric data goes with the Employee.
		"on_trash": [
			"cams_biometric.device_users.on_employee_trash",
			"cams_biometric.photos.on_employee_trash",
		],
	},
	"Error Log": {
		"before_insert": [
			"cams_biometric.auth.redact_error_log",
			"cams_biometric.photos.redact_error_log",
			"cams_biometric.device_users.redact_error_log",
		],
	},
}

# What belongs to a device is read by those who may read the device: a User Permission on
# Company (or on the device) reaches its punches, events, users, commands, photos and loads,
# in lists, reports, number cards and charts alike.
DEVICE_SCOPED = (
	"CAMS Raw Punch Log",
	"CAMS Device Event",
	"CAMS Device User",
	"CAMS Device Command",
	"CAMS Attendance Photo",
	"CAMS Load Request",
	"CAMS Device Rollout",
)
permission_query_conditions = {
	doctype: "cams_biometric.device_scope.query_conditions" for doctype in DEVICE_SCOPED
}
has_permission = {doctype: "cams_biometric.device_scope.has_permission" for doctype in DEVICE_SCOPED}

# Frappe answers a callback body labelled JSON that is not with its own 500 and traceback.
after_request = ["cams_biometric.api.after_request"]

scheduler_events = {
	"cron": {
		# Catch rows whose job never ran, and loads and device commands whose worker died
		# (worker killed or stopped, database restarted, Redis flushed).
		"* * * * *": [
			"cams_biometric.processing.process_pending_punches",
			"cams_biometric.loads.recover_lost_loads",
			"cams_biometric.commands.recover_lost_commands",
			"cams_biometric.rollouts.recover_lost_rollouts",
		],
		# Devices gone silent (and back); Last Sync of Checkin of the shifts held for late
		# devices, well ahead of HRMS' hourly attendance run.
		"*/5 * * * *": [
			"cams_biometric.alerts.check_silent_devices",
			"cams_biometric.attendance_sync.sync_last_sync_of_checkin",
		],
	},
	"daily": [
		"cams_biometric.device_information.refresh_all_devices",
		"cams_biometric.alerts.send_backlog_summary",
	],
}

# Log Settings purges these; CAMS Biometric Settings keeps the raw-log days in step.
default_log_clearing_doctypes = {
	"CAMS Raw Punch Log": 90,  # constants.DEFAULT_RETENTION_DAYS
	"CAMS Device Event": 90,
	"CAMS Device Command": 90,
}

# The workspace's setup block (a Custom HTML Block has no module folder to ship it in).
fixtures = [{"dt": "Custom HTML Block", "filters": [["name", "=", "CAMS Biometric Setup"]]}]

# The Load Punchlog dialog and the Reprocess action, shared by several forms and lists. Added
# to those doctypes' own scripts rather than built into a bundle: Frappe serves these from the
# app's folder, so the buttons work on a bench where `bench build` did not run for this app.
SHARED_ACTIONS_JS = "public/js/actions.js"
doctype_js = {
	"CAMS Biometric Device": SHARED_ACTIONS_JS,
	"CAMS Biometric Settings": SHARED_ACTIONS_JS,
	"CAMS Raw Punch Log": SHARED_ACTIONS_JS,
	# The Employee form's "CAMS Devices" group, and attendance photos on the checkin form
	# (HRMS' doctypes: no field is added to them).
	"Employee": "public/js/employee.js",
	"Employee Checkin": "public/js/employee_checkin.js",
}
doctype_list_js = {
	"CAMS Raw Punch Log": SHARED_ACTIONS_JS,
	# Enrol on CAMS Device, for the selected Employees.
	"Employee": "public/js/employee_list.js",
}

# Employee Checkin's Connections: the raw punch it was made from (no field added to HRMS').
override_doctype_dashboards = {
	"Employee Checkin": "cams_biometric.connections.employee_checkin_connections",
}
