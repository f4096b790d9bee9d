{% include "cams_biometric/public/js/device_text.js" %}

const CAMS_COMMAND_COLORS = { Queued: "orange", Sent: "blue", Done: "green", Failed: "red" };

frappe.listview_settings["CAMS Device Command"] = {
	add_fields: ["status"],
	get_indicator(doc) {
		return cams_biometric.indicator(doc.status, CAMS_COMMAND_COLORS[doc.status] || "gray", "status", doc.status);
	},
};

// The error of an Add User refused names the user the device already has.
cams_biometric.escape_fields("CAMS Device Command", ["device_user_id", "status_meaning", "note", "error"]);
