{% include "cams_biometric/public/js/device_text.js" %}

const CAMS_ROLLOUT_COLORS = { Queued: "gray", Running: "blue", Stopped: "red", Completed: "green" };

frappe.listview_settings["CAMS Device Rollout"] = {
	add_fields: ["status", "progress", "failed"],
	get_indicator(doc) {
		if (doc.status === "Completed" && doc.failed) {
			return [__("{0} Failed", [doc.failed]), "orange", "failed,>,0"];
		}
		return cams_biometric.indicator(doc.status, CAMS_ROLLOUT_COLORS[doc.status] || "gray", "status", doc.status);
	},
	formatters: {
		progress(value, df, doc) {
			return cams_biometric.progress_bar(value, doc.status === "Stopped");
		},
	},
};

cams_biometric.escape_fields("CAMS Device Rollout", ["criteria", "message"]);
// Its table's rows render from copies of these fields, made before the form's own script runs.
cams_biometric.escape_fields("CAMS Device Rollout Item", ["employee_name", "device_user_id", "full_name", "reason"]);
