// Set an Attendance Device ID on an Employee from a device user's id: the Unmapped Device
// Users report's Set on Employee, the Enrolment Gaps report's Map, and the raw punch's Map to
// Employee (which loads the Unmapped Device Users report's script for it). Included by the
// reports' scripts with Frappe's include directive, as device_text.js is.
frappe.provide("cams_biometric.reports");

// Before: whose the id is, what the Employee gives up, what the waiting punches will become
// (mapping.forecast). After: what they became, as the pickup job processes them
// (mapping.outcome, polled), then `after`.
cams_biometric.reports.map_device_user = function ({ device_user_id, device }, after) {
	const MAPPING = "cams_biometric.mapping.";
	let forecast = null;
	const dialog = new frappe.ui.Dialog({
		title: __("Set Attendance Device ID on an Employee"),
		fields: [
			{
				fieldname: "device_user_id",
				label: __("Device User ID"),
				fieldtype: "Data",
				reqd: 1,
				default: device_user_id,
				onchange: () => update_forecast(),
			},
			{
				fieldname: "device",
				label: __("Device"),
				fieldtype: "Link",
				options: "CAMS Biometric Device",
				default: device,
				hidden: 1,
			},
			{
				fieldname: "employee",
				label: __("Employee"),
				fieldtype: "Link",
				options: "Employee",
				reqd: 1,
				get_query: () => ({ filters: { status: "Active" } }),
				onchange: () => update_forecast(),
				description: __(
					"What the punches waiting for this id will become is shown below before anything changes."
				),
			},
			{ fieldname: "forecast", fieldtype: "HTML" },
			{
				fieldname: "replace",
				fieldtype: "Check",
				label: __("Replace their Attendance Device ID"),
				hidden: 1,
			},
		],
		primary_action_label: __("Set"),
		primary_action(values) {
			if (!forecast || forecast.employee !== values.employee) return update_forecast();
			if (forecast.holder) return;
			if (forecast.replaces && !values.replace) {
				// Said in the dialog, under what replacing means: no second dialog over this one.
				show(
					forecast.message +
						`<p><b>${__(
							"Tick Replace their Attendance Device ID to give {0} device user {1} instead of {2}.",
							[
								frappe.utils.escape_html(forecast.employee_name || forecast.employee),
								frappe.utils.escape_html(values.device_user_id),
								frappe.utils.escape_html(forecast.replaces),
							]
						)}</b></p>`,
					"warning"
				);
				return;
			}
			frappe
				.call({
					method: "cams_biometric.cams_biometric.report.unmapped_device_users.unmapped_device_users.map_device_user",
					args: {
						employee: values.employee,
						device_user_id: values.device_user_id,
						device: values.device,
						replace_id: values.replace ? forecast.replaces : null,
					},
					freeze: true,
				})
				.then((r) => follow(values.device_user_id, r.message));
		},
	});

	function show(html, color) {
		dialog.fields_dict.forecast.$wrapper.html(
			`<div class="cams-mapping-note alert alert-${color || "info"} small">${html}</div>`
		);
	}

	function update_forecast() {
		const { employee, device_user_id } = dialog.get_values(true) || {};
		forecast = null;
		dialog.set_df_property("replace", "hidden", 1);
		if (!employee || !device_user_id) return show("", "light");
		frappe
			.xcall(MAPPING + "forecast", { employee, device_user_id: device_user_id.trim() })
			.then((answer) => {
				forecast = answer;
				dialog.set_df_property("replace", "hidden", answer.replaces ? 0 : 1);
				dialog.set_value("replace", 0);
				dialog.get_primary_btn().prop("disabled", !!answer.holder);
				const bad = answer.holder || answer.replaces || (answer.counts.checkins || 0) < answer.waiting;
				show(answer.message, bad ? "warning" : "info");
			});
	}

	// Every 2 s until no punch of the mapping waits, for two minutes at most.
	function follow(device_user_id, mapped) {
		dialog.fields_dict.employee.df.read_only = 1;
		dialog.refresh();
		dialog.set_df_property("replace", "hidden", 1);
		dialog.set_primary_action(__("Close"), () => dialog.hide());
		if (!forecast.waiting || !forecast.enabled) {
			show(
				__("{0} now has Attendance Device ID {1}.", [
					frappe.utils.escape_html(forecast.employee_name || forecast.employee),
					frappe.utils.escape_html(device_user_id),
				]) + (forecast.waiting ? " " + __("The integration is switched off: the punches wait until it is switched on.") : ""),
				"success"
			);
			after && after();
			return;
		}
		show(__("Processing the {0} waiting punches...", [forecast.waiting]), "info");
		const started = Date.now();
		const poll = () =>
			frappe.xcall(MAPPING + "outcome", { device_user_id, since: mapped.since }).then((r) => {
				const finished = r.done || Date.now() - started > 120000;
				const failed = r.counts.Error || r.counts.Unmapped;
				show(r.message, finished ? (failed ? "warning" : "success") : "info");
				if (finished) after && after();
				else if (dialog.display) setTimeout(poll, 2000);
				else after && after();
			});
		setTimeout(poll, 1000);
	}

	dialog.show();
	if (device_user_id) update_forecast();
};
