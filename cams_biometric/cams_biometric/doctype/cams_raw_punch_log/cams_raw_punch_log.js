// Copyright (c) 2026, cams_biometric contributors
// For license information, please see license.txt

frappe.ui.form.on("CAMS Raw Punch Log", {
	refresh(frm) {
		if (["Pending", "Unmapped", "Error", "Ignored"].includes(frm.doc.status) && frm.perm[0].write) {
			frm.add_custom_button(__("Reprocess"), () => cams_biometric.reprocess([frm.doc.name], () => frm.reload_doc()));
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

