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
			const percent = Math.round(flt(value));
			const bar = doc.status === "Stopped" ? "progress-bar-danger" : "";
			return `<div class="d-flex align-items-center" title="${percent}%">
				<div class="progress" style="flex: 1; height: 6px; margin: 0 8px 0 0;">
					<div class="progress-bar ${bar}" style="width: ${percent}%"></div>
				</div><span class="text-muted small">${percent}%</span></div>`;
		},
	},
};

cams_biometric.escape_fields("CAMS Device Rollout", ["criteria", "message"]);
// Its table's rows render from copies of these fields, made before the form's own script runs.
cams_biometric.escape_fields("CAMS Device Rollout Item", ["employee_name", "device_user_id", "full_name", "reason"]);
