{% include "cams_biometric/public/js/device_text.js" %}

const CAMS_LOAD_COLORS = {
	Queued: "gray",
	Running: "blue",
	Completed: "green",
	"Partially Completed": "orange",
	Failed: "red",
	"Resend Requested": "purple",
};

frappe.listview_settings["CAMS Load Request"] = {
	add_fields: ["status", "progress"],
	get_indicator(doc) {
		return cams_biometric.indicator(doc.status, CAMS_LOAD_COLORS[doc.status] || "gray", "status", doc.status);
	},
	formatters: {
		// A bar, as on the form; the number stays readable beside it.
		progress(value, df, doc) {
			return cams_biometric.progress_bar(value, doc.status === "Failed");
		},
	},
};

cams_biometric.escape_fields("CAMS Load Request", ["error", "stop_reason"]);
