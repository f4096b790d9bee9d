// Copyright (c) 2026, cams_biometric contributors
// For license information, please see license.txt

frappe.ui.form.on("CAMS Biometric Settings", {
	refresh(frm) {
		const url = (frm.doc.__onload || {}).callback_url || "";
		const stgid_hint = __(
			"Paste it into the CAMS API Monitor as the Callback URL of each device. Adding {0} lets us match a device directly.",
			["<code>?stgid=&lt;Service Tag ID&gt;</code>"]
		);
		frm.get_field("callback_url_html").$wrapper.html(`
			<div class="form-group">
				<div class="control-label">${__("Callback URL")}</div>
				<div class="input-group" style="max-width: 640px">
					<input class="form-control" type="text" readonly value="${frappe.utils.escape_html(url)}">
					<span class="input-group-btn">
						<button class="btn btn-default btn-copy-callback" type="button">${__("Copy")}</button>
					</span>
				</div>
				<p class="help-box small text-muted">${stgid_hint}</p>
			</div>`);
		frm.get_field("callback_url_html")
			.$wrapper.find(".btn-copy-callback")
			.on("click", () => frappe.utils.copy_to_clipboard(url));

		frm.add_custom_button(__("Load Punchlog"), () => cams_biometric.load_punchlog_dialog(null));
		frm.add_custom_button(__("Devices"), () => frappe.set_route("List", "CAMS Biometric Device"));
		frm.add_custom_button(__("Raw Punch Log"), () =>
			frappe.set_route("List", "CAMS Raw Punch Log")
		);
	},
});
