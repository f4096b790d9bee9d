// Copyright (c) 2026, cams_biometric contributors
// For license information, please see license.txt

frappe.ui.form.on("CAMS Biometric Device", {
	refresh(frm) {
		if (frm.is_new()) return;
		frm.add_custom_button(__("Raw Punches"), () =>
			frappe.set_route("List", "CAMS Raw Punch Log", { device: frm.doc.name })
		);
		frm.add_custom_button(__("Device Events"), () =>
			frappe.set_route("List", "CAMS Device Event", { device: frm.doc.name })
		);
		if (frm.doc.enabled && frappe.model.can_create("CAMS Load Request")) {
			frm.add_custom_button(__("Load Punchlog"), () => cams_biometric.load_punchlog_dialog(frm.doc.name));
		}
		if (!frm.doc.last_punch_received) {
			frm.dashboard.set_headline(
				__(
					"No punch received yet. In the CAMS API Monitor, set this device's Callback URL to the one shown in {0}, with {1} added.",
					[
						`<a href="/app/cams-biometric-settings">${__("CAMS Biometric Settings")}</a>`,
						`<code>?stgid=${frappe.utils.escape_html(frm.doc.name)}</code>`,
					]
				)
			);
		}
	},
});

