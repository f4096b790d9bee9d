"""Names of the Frappe side, kept in one place."""

SETTINGS = "CAMS Biometric Settings"
DEVICE = "CAMS Biometric Device"
RAW_PUNCH = "CAMS Raw Punch Log"
DEVICE_EVENT = "CAMS Device Event"
DEVICE_USER = "CAMS Device User"
ATTENDANCE_PHOTO = "CAMS Attendance Photo"
CHECKIN = "Employee Checkin"

LOG_DOCTYPES = (RAW_PUNCH, DEVICE_EVENT)

# Raw punch statuses. Only the final ones may be purged by Log Settings: the others are
# still work to do (or to look at).
PENDING = "Pending"
PROCESSED = "Processed"
DUPLICATE = "Duplicate"
UNMAPPED = "Unmapped"
IGNORED = "Ignored"
ERROR = "Error"
FINAL_STATUSES = (PROCESSED, DUPLICATE, IGNORED)
# Ignored rows too: a punch type switched back on must be able to make its checkins.
REPROCESSABLE_STATUSES = (PENDING, UNMAPPED, ERROR, IGNORED)

SOURCE_CALLBACK = "Callback"
SOURCE_LOADLOG = "LoadLog"

CALLBACK_METHOD = "cams_biometric.api.callback"

# Log Settings' default retention of our logs (hooks.default_log_clearing_doctypes).
DEFAULT_RETENTION_DAYS = 90

# Log Settings must keep a punch at least as long as the gateway can send it again.
MIN_RETENTION_DAYS = 31

# Employee statuses of someone leaving: the devices take them, and their punches are theirs,
# until the relieving date (employee_devices, processing.employee_is_active).
LEAVING_STATUSES = ("Left", "Inactive")
