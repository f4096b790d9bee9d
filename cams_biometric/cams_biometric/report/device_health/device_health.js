// Copyright (c) 2026, cams_biometric contributors
// For license information, please see license.txt

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
		const formatted = default_formatter(value, row, column, data);
		if (!data) return formatted;
		if (column.fieldname === "silent" && data.silent) {
			return `<span class="indicator-pill red">${__("Silent")}</span>`;
		}
		if (column.fieldname === "attendance_hold" && data.attendance_hold) {
			return `<span class="text-warning" title="${frappe.utils.escape_html(
				data.attendance_hold
			)}">${formatted}</span>`;
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
