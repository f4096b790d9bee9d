// Copyright (c) 2026, cams_biometric contributors
// For license information, please see license.txt
{% include "cams_biometric/public/js/device_text.js" %}

frappe.query_reports["Daily Punches"] = {
	filters: [
		{
			fieldname: "company",
			label: __("Company"),
			fieldtype: "Link",
			options: "Company",
			reqd: 1,
			default: frappe.defaults.get_user_default("Company"),
		},
		{
			fieldname: "department",
			label: __("Department"),
			fieldtype: "Link",
			options: "Department",
			get_query: () => ({ filters: { company: frappe.query_report.get_filter_value("company") } }),
		},
		{
			fieldname: "employee",
			label: __("Employee"),
			fieldtype: "Link",
			options: "Employee",
		},
		{
			fieldname: "from_date",
			label: __("From Date"),
			fieldtype: "Date",
			reqd: 1,
			default: frappe.datetime.add_days(frappe.datetime.get_today(), -6),
		},
		{
			fieldname: "to_date",
			label: __("To Date"),
			fieldtype: "Date",
			reqd: 1,
			default: frappe.datetime.get_today(),
		},
	],

	onload() {
		// Frappe's breadcrumb follows the ref doctype (Employee Checkin, module HR); this report
		// is one of CAMS Biometric's, as the others say.
		frappe.breadcrumbs.add("CAMS Biometric");
	},

	formatter(value, row, column, data, default_formatter) {
		if (
			data &&
			value &&
			["first_in", "last_out"].includes(column.fieldname) &&
			String(value).startsWith(String(data.day))
		) {
			// The day is in its own column: the time alone, unless it falls on another day.
			// In the site's time zone, as the day column is: converting to the user's zone could
			// move the time to another day than the one the row says.
			const shown = frappe.datetime.str_to_user(value);
			return shown.split(" ").slice(1).join(" ");
		}
		// Names are text: escaped before Frappe's formatter, which leaves Data as it is.
		const formatted = default_formatter(cams_biometric.report_value(value, column), row, column, data);
		if (!data) return formatted;
		if (column.fieldname === "punches" && data.employee && data.first_punch) {
			// The day's checkins: this employee, from the first to the last punch of the day.
			const time = JSON.stringify(["Between", [data.first_punch, data.last_punch]]);
			const url = `/app/employee-checkin?employee=${encodeURIComponent(
				data.employee
			)}&time=${encodeURIComponent(time)}`;
			return `<a href="${url}" title="${__("Open the checkins of the day")}">${formatted}</a>`;
		}
		const warn =
			(column.fieldname === "odd_punches" && data.odd_punches) ||
			(column.fieldname === "missing_out" && data.missing_out) ||
			(column.fieldname === "outside_shift" && data.outside_shift);
		return warn ? `<span class="text-danger">${formatted}</span>` : formatted;
	},
};
