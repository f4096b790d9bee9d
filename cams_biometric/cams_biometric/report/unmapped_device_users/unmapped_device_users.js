// Copyright (c) 2026, cams_biometric contributors
// For license information, please see license.txt
{% include "cams_biometric/public/js/device_text.js" %}
{% include "cams_biometric/public/js/map_device_user.js" %}

frappe.query_reports["Unmapped Device Users"] = {
	filters: [
		{
			fieldname: "device",
			label: __("Device"),
			fieldtype: "Link",
			options: "CAMS Biometric Device",
		},
		{
			fieldname: "load_request",
			label: __("Load Request"),
			fieldtype: "Link",
			options: "CAMS Load Request",
		},
		{
			fieldname: "device_user_id",
			label: __("Device User ID"),
			fieldtype: "Data",
		},
	],

	formatter(value, row, column, data, default_formatter) {
		if (column.fieldname === "action" && data && data.device_user_id) {
			return `<button class="btn btn-xs btn-default cams-map-device-user"
				data-device-user-id="${cams_biometric.esc(data.device_user_id)}"
				data-device="${cams_biometric.esc(data.device || "")}">
				${__("Set on Employee")}</button>`;
		}
		// The user id and the name on the device are the device's text.
		return default_formatter(cams_biometric.report_value(value, column), row, column, data);
	},

	onload(report) {
		report.page.add_inner_button(__("Set Attendance Device ID"), () =>
			cams_biometric.reports.map_device_user({}, () => report.refresh())
		);
		// The buttons of the rows (the datatable re-renders its cells, so delegate).
		report.page.wrapper.on("click", ".cams-map-device-user", (e) => {
			const $button = $(e.currentTarget);
			cams_biometric.reports.map_device_user(
				{
					device_user_id: $button.attr("data-device-user-id"),
					device: $button.attr("data-device"),
				},
				() => report.refresh()
			);
		});
	},
};
