// Copyright (c) 2026, cams_biometric contributors
// For license information, please see license.txt
{% include "cams_biometric/public/js/device_text.js" %}

frappe.query_reports["Device Health"] = {
	filters: [
		{
			fieldname: "device",
			label: __("Device"),
			fieldtype: "Link",
			options: "CAMS Biometric Device",
		},
		{
			fieldname: "include_disabled",
			label: __("Include Disabled Devices"),
			fieldtype: "Check",
		},
	],

	formatter(value, row, column, data, default_formatter) {
		// Labels, serial numbers and the reasons that quote them are text.
		const formatted = default_formatter(cams_biometric.report_value(value, column), row, column, data);
		if (!data) return formatted;
		if (column.fieldname === "silent" && data.silent) {
			return `<span class="indicator-pill red">${__("Silent")}</span>`;
		}
		if (column.fieldname === "attendance_hold" && data.attendance_hold) {
			return `<span class="text-warning" title="${cams_biometric.esc(data.attendance_hold)}">${formatted}</span>`;
		}
		if (["pending", "unmapped", "errors"].includes(column.fieldname) && value) {
			const status = { pending: "Pending", unmapped: "Unmapped", errors: "Error" }[
				column.fieldname
			];
			const url = `/app/cams-raw-punch-log?device=${encodeURIComponent(
				data.device
			)}&status=${status}`;
			return `<a href="${url}">${formatted}</a>`;
		}
		return formatted;
	},
};
