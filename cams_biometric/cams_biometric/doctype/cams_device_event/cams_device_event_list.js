{% include "cams_biometric/public/js/device_text.js" %}

frappe.listview_settings["CAMS Device Event"] = {
	add_fields: ["event_type"],
	get_indicator(doc) {
		const color = doc.event_type === "Unknown" ? "orange" : "blue";
		return cams_biometric.indicator(doc.event_type, color, "event_type", doc.event_type);
	},
};

cams_biometric.escape_fields("CAMS Device Event", ["device_user_id", "operation_id", "event_time", "result"]);
