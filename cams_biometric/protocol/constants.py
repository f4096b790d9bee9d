"""Names of the CAMS wire format, kept in one place.

The vendor's documentation spells some keys two ways (``UserId`` in callbacks, ``UserID``
in LoadLog rows and user events; ``InputType`` and the misspelt ``InputeType``); every
tuple below lists the spellings we accept, the preferred one first.
"""

# Envelope of every callback body: {"RealTime": {...}}
REALTIME = "RealTime"
AUTH_TOKEN = "AuthToken"
OPERATION_ID = "OperationID"
TIME = "Time"
SERIAL_NUMBER = "SerialNumber"
LABEL_NAME = "LabelName"

# Callback event keys inside RealTime, with the event name we record.
EVENT_KEYS = {
	"PunchLog": "Punch Log",
	"Log": "Attendance Photo",
	"UserUpdated": "User Updated",
	"UserDeleted": "User Deleted",
	"DateModified": "Date Modified",
}
EVENT_PUNCH_LOG = "Punch Log"
EVENT_ATTENDANCE_PHOTO = "Attendance Photo"
EVENT_DATE_MODIFIED = "Date Modified"
ATTENDANCE_PHOTO = "Log"  # the event key of RealTimeAttendancePhoto (#10)
DATE_MODIFIED = "DateModified"  # ManuallyDateModified (#2): ModifiedTo, OperationTime
MODIFIED_TO = "ModifiedTo"
EVENT_COMMAND_REPLY = "Command Reply"
EVENT_UNKNOWN = "Unknown"

# Punch fields
USER_ID_KEYS = ("UserId", "UserID", "userId", "userid")
LOG_TIME = "LogTime"
PUNCH_TYPE = "Type"
INPUT_TYPE_KEYS = ("InputType", "InputeType")
TEMPERATURE = "Temperature"
FACE_MASK = "FaceMask"

PUNCH_TYPES = (
	"CheckIn",
	"CheckOut",
	"BreakIn",
	"BreakOut",
	"OverTimeIn",
	"OverTimeOut",
	"MealIn",
	"MealOut",
)
# The default Employee Checkin log_type of each punch type (editable in the settings).
DEFAULT_LOG_TYPES = {punch_type: ("IN" if punch_type.endswith("In") else "OUT") for punch_type in PUNCH_TYPES}

# RESTful API
STGID_PARAM = "stgid"
LOAD = "Load"
PUNCH_LOG = "PunchLog"  # the LoadLog command's entity, its reply's rows, and the callback event
FILTER = "Filter"
START_TIME = "StartTime"
END_TIME = "EndTime"
DEVICE_INFORMATION = "DeviceInformation"
STATUS = "Status"
STATUS_CODE = "StatusCode"
STATUS_DONE = "done"
LOADLOG_PAGE_SIZE = 50
LOADLOG_MAX_DAYS = 30
RETURN_ROW_COUNT = "ReturnRowCount"
LOG_ROWS = "Log"
# The public docs do not name the LoadLog offset fields: we send the first name and read
# any of them back, at the top level of the reply or inside "PunchLog".
OFFSET_KEYS = ("Offset", "offset", "NextOffset", "nextOffset", "OffSet")

# The other RESTful operations (#14-#38): "<Command>": {"<Entity>": ...}.
ADD = "Add"
DELETE = "Delete"
RESEND = "Resend"
ENROLL = "Enroll"
UPDATE = "Update"
USER = "User"
TEMPLATE = "Template"
LOG = "Log"  # DeleteLogAll's entity
PUNCH_PHOTO = "PunchPhoto"  # DeleteAttendancePhoto's entity
ACCESS_TIME = "AccessTime"
ALL = "All"

# User fields, in RESTful commands and in UserUpdated / UserDeleted callbacks
USER_ID = "UserID"
FIRST_NAME = "FirstName"
LAST_NAME = "LastName"
USER_TYPE = "UserType"
USER_TYPES = ("User", "Administrator")
OPERATION_TIME = "OperationTime"
ACCESS = "Access"
ACCESS_ENABLE = "enable"
ACCESS_DISABLE = "disable"
ACCESS_START = "Start"
ACCESS_END = "End"
# UpdateAccessTime's Start and End: the device's wall clock, without an offset.
ACCESS_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
ENROLL_TYPE = "Type"
ENROLL_FINGERPRINT = "Fingerprint"

# Template objects: {Type, UserID, Data, Size, Index}
TEMPLATE_TYPE = "Type"
TEMPLATE_DATA = "Data"
TEMPLATE_SIZE = "Size"
TEMPLATE_INDEX = "Index"
DEFAULT_TEMPLATE_INDEX = "0"  # "keep it zero, if not sure about the index value"
CARD = "Card"
PASSWORD = "Password"
FINGERPRINT = "Fingerprint"
FACE = "Face"
PALM = "Palm"
USER_PHOTO = "UserPhoto"
FINGER_VEIN = "FingerVein"
IRIS = "Iris"
RETINA = "Retina"
# The six an AddUser (#14-#27) combines; the documented list also has the other three.
ADD_USER_TEMPLATE_TYPES = (CARD, PASSWORD, FACE, FINGERPRINT, PALM, USER_PHOTO)
TEMPLATE_TYPES = (*ADD_USER_TEMPLATE_TYPES, FINGER_VEIN, IRIS, RETINA)
# Types a user has at most one of: their key is Type alone, the others' is Type + Index.
UNINDEXED_TEMPLATE_TYPES = frozenset({CARD, PASSWORD, USER_PHOTO})

# Callback event keys for users (see EVENT_KEYS)
USER_UPDATED = "UserUpdated"
USER_DELETED = "UserDeleted"

STATUS_CODES = {
	0: "Success",
	1: "Invalid request data",
	2: "Invalid service tag ID",
	3: "Invalid request",
	4: "Invalid encryption",
	5: "Device offline",
	6: "Operation timeout",
	7: "Invalid auth token",
	8: "User already exists",
	9: "User not found",
	10: "Template error",
	11: "Device memory full",
	13: "Invalid security key",
	15: "Feature not supported",
	999: "Unknown error",
}

# The exact reply the gateway needs, or it sends the same callback again and again.
CALLBACK_DONE = b'{"status":"done"}'

# Limits that keep bad input from costing us: a photo callback carries a base64 JPEG, a
# user callback a few templates of up to 20 KB each.
MAX_CALLBACK_BYTES = 2 * 1024 * 1024
MAX_USER_ID_LENGTH = 64
MAX_SERVICE_TAG_LENGTH = 32
