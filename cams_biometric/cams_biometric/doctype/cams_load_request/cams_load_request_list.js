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
			const percent = Math.round(flt(value));
			const bar = doc.status === "Failed" ? "progress-bar-danger" : "";
			return `<div class="d-flex align-items-center" title="${percent}%">
				<div class="progress" style="flex: 1; height: 6px; margin: 0 8px 0 0;">
					<div class="progress-bar ${bar}" style="width: ${percent}%"></div>
				</div><span class="text-muted small">${percent}%</span></div>`;
		},
	},
};

cams_biometric.escape_fields("CAMS Load Request", ["error", "stop_reason"]);
