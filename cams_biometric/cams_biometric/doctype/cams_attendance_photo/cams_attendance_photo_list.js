{% include "cams_biometric/public/js/device_text.js" %}

// The user id and LogTime as the device sent them.
cams_biometric.escape_fields("CAMS Attendance Photo", ["device_user_id", "log_time", "employee_name"]);
