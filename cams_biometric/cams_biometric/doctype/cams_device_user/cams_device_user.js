// Copyright (c) 2026, cams_biometric contributors
// For license information, please see license.txt
{% include "cams_biometric/public/js/device_text.js" %}

frappe.ui.form.on("CAMS Device User", {
	refresh(frm) {
		if (frm.doc.template_count && frappe.model.can_delete("CAMS Device User")) {
			frm.add_custom_button(__("Remove Biometric Data"), () =>
				frappe.confirm(
					__("Erase the templates kept here for user {0}? The device keeps its own.", [
						cams_biometric.esc(frm.doc.device_user_id),
					]),
					() =>
						frappe.call({
							method: "cams_biometric.cams_biometric.doctype.cams_device_user.cams_device_user.remove_biometric_data",
							args: { name: frm.doc.name },
							callback: () => frm.reload_doc(),
						})
				)
			);
		}
	},
});
