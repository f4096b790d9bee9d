frappe.provide("frappe.dashboards.chart_sources");

frappe.dashboards.chart_sources["CAMS Punches per Device"] = {
	method: "cams_biometric.cams_biometric.dashboard_chart_source.cams_punches_per_device.cams_punches_per_device.get",
	filters: [
		{
			fieldname: "days",
			label: __("Days"),
			fieldtype: "Int",
			default: 7,
		},
	],
};
