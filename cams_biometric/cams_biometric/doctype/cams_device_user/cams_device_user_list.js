{% include "cams_biometric/public/js/device_text.js" %}

frappe.listview_settings["CAMS Device User"] = {
	add_fields: ["status"],
	get_indicator(doc) {
		return doc.status === "Deleted"
			? cams_biometric.indicator("Deleted on Device", "gray", "status", "Deleted")
			: cams_biometric.indicator("Active", "green", "status", "Active");
	},
};

// The name on the device, its user type and template types are the device's.
cams_biometric.escape_fields("CAMS Device User", [
	"device_user_id",
	"full_name",
	"user_type",
	"employee_name",
	"templates_summary",
	"last_operation_time",
]);
