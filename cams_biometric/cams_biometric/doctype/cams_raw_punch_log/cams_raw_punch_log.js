// Copyright (c) 2026, cams_biometric contributors
// For license information, please see license.txt

frappe.ui.form.on("CAMS Raw Punch Log", {
	refresh(frm) {
		if (["Pending", "Unmapped", "Error"].includes(frm.doc.status) && frm.perm[0].write) {
			frm.add_custom_button(__("Reprocess"), () => cams_biometric_reprocess([frm.doc.name], frm));
		}
		if (frm.doc.status === "Unmapped") {
			frm.dashboard.set_headline(
				__(
					"No Employee has Attendance Device ID {0}. Set it on the Employee and this punch is processed automatically.",
					[`<b>${frappe.utils.escape_html(frm.doc.device_user_id || "")}</b>`]
				)
			);
		}
	},
});

window.cams_biometric_reprocess = function (names, frm) {
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
				frappe.show_alert({
					message: statuses.length
						? __("Reprocessed: {0}", [statuses.join(", ")])
						: __("Nothing to reprocess"),
					indicator: "green",
				});
			}
			frm ? frm.reload_doc() : cur_list && cur_list.refresh();
		},
	});
};
