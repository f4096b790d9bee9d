// Copyright (c) 2026, cams_biometric contributors
// For license information, please see license.txt
{% include "cams_biometric/public/js/device_text.js" %}

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
			cams_biometric.reports.map_device_user(report, {})
		);
		// The buttons of the rows (the datatable re-renders its cells, so delegate).
		report.page.wrapper.on("click", ".cams-map-device-user", (e) => {
			const $button = $(e.currentTarget);
			cams_biometric.reports.map_device_user(report, {
				device_user_id: $button.attr("data-device-user-id"),
				device: $button.attr("data-device"),
			});
		});
	},
};

frappe.provide("cams_biometric.reports");

cams_biometric.reports.map_device_user = function (report, { device_user_id, device }) {
	const dialog = new frappe.ui.Dialog({
		title: __("Set Attendance Device ID on an Employee"),
		fields: [
			{
				fieldname: "device_user_id",
				label: __("Device User ID"),
				fieldtype: "Data",
				reqd: 1,
				default: device_user_id,
			},
			{
				fieldname: "device",
				label: __("Device"),
				fieldtype: "Link",
				options: "CAMS Biometric Device",
				default: device,
				description: __(
					"Its Company and Branch, when set, limit the Employees its punches can go to."
				),
			},
			{
				fieldname: "employee",
				label: __("Employee"),
				fieldtype: "Link",
				options: "Employee",
				reqd: 1,
				get_query: () => {
					const filters = { status: "Active", attendance_device_id: ["is", "not set"] };
					return { filters };
				},
				description: __(
					"Active Employees without an Attendance Device ID. The punches waiting for this id become their checkins."
				),
			},
		],
		primary_action_label: __("Set"),
		primary_action(values) {
			frappe
				.call({
					method: "cams_biometric.cams_biometric.report.unmapped_device_users.unmapped_device_users.map_device_user",
					args: values,
					freeze: true,
				})
				.then(() => {
					dialog.hide();
					// The pickup runs in the background; refresh once it has had a moment.
					setTimeout(() => report.refresh(), 3000);
				});
		},
	});
	dialog.show();
};
