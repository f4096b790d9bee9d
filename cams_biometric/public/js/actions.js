// The Load Punchlog dialog and the Reprocess action, shared by several forms and lists.
//
// Not a bundle: hooks.doctype_js / doctype_list_js add this file to the scripts of the
// doctypes that use it, and Frappe reads those from the app's folder when it sends a doctype
// to the browser. So the buttons work without `bench build`, and a site whose assets were
// built before an update never runs an old copy.
frappe.provide("cams_biometric");
{% include "cams_biometric/public/js/device_text.js" %}

// device: one device's name, or empty for every enabled device.
cams_biometric.load_punchlog_dialog = function (device) {
	const now = frappe.datetime.system_datetime();
	const dialog = new frappe.ui.Dialog({
		title: device
			? __("Load Punchlog from {0}", [cams_biometric.esc(device)])
			: __("Load Punchlog from all devices"),
		fields: [
			{
				fieldtype: "HTML",
				options: `<p class="text-muted small">${__(
					"Missing punches are fetched from the CAMS gateway in the background, 50 at a time. The gateway keeps only the last 30 days; punches already stored are recognised and not doubled."
				)}</p>`,
			},
			{
				fieldname: "from_time",
				fieldtype: "Datetime",
				label: __("From"),
				reqd: 1,
				// add_days gives an ISO string with an offset, which the field showed as a date
				// alone: the same time yesterday, in the field's own format.
				default: moment(now).add(-1, "days").format(frappe.defaultDatetimeFormat),
			},
			{ fieldname: "to_time", fieldtype: "Datetime", label: __("To"), reqd: 1, default: now },
		],
		primary_action_label: __("Load Punchlog"),
		primary_action(values) {
			frappe.call({
				method: device
					? "cams_biometric.loads.start_load"
					: "cams_biometric.loads.start_load_for_all_devices",
				args: device ? { device, ...values } : values,
				freeze: true,
				callback(r) {
					dialog.hide();
					const names = [].concat(r.message || []);
					if (names.length === 1) frappe.set_route("Form", "CAMS Load Request", names[0]);
					else frappe.set_route("List", "CAMS Load Request");
				},
			});
		},
	});
	dialog.show();
};

// The alert's colour is that of the worst outcome: a punch still in Error is no success.
cams_biometric.REPROCESS_COLORS = [
	["Error", "red"],
	["Unmapped", "orange"],
	["Pending", "blue"],
	["Ignored", "gray"],
	["Duplicate", "gray"],
	["Processed", "green"],
];

cams_biometric.reprocess_indicator = function (statuses) {
	const worst = cams_biometric.REPROCESS_COLORS.find(([status]) => statuses.includes(status));
	return worst ? worst[1] : "gray";
};

cams_biometric.reprocess = function (names, after) {
	frappe.call({
		method: "cams_biometric.api.reprocess",
		args: { names },
		freeze: true,
		freeze_message: __("Reprocessing..."),
		callback(r) {
			const result = r.message || {};
			if (result.queued) {
				frappe.show_alert({
					message: __("{0} punches queued for reprocessing", [result.count]),
					indicator: "blue",
				});
			} else {
				const statuses = Object.values(result.outcomes || {});
				const counts = {};
				statuses.forEach((status) => (counts[status] = (counts[status] || 0) + 1));
				const summary = Object.entries(counts)
					.map(([status, count]) => (count > 1 ? `${__(status)} × ${count}` : __(status)))
					.join(", ");
				frappe.show_alert({
					message: statuses.length
						? __("Reprocessed: {0}", [summary])
						: __("Nothing to reprocess"),
					indicator: cams_biometric.reprocess_indicator(statuses),
				});
			}
			after && after();
		},
	});
};
