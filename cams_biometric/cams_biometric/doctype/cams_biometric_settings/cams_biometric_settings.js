// Copyright (c) 2026, cams_biometric contributors
// For license information, please see license.txt

frappe.ui.form.on("CAMS Biometric Settings", {
	refresh(frm) {
		const url = (frm.doc.__onload || {}).callback_url || "";
		const stgid_hint = __(
			"Paste it into the CAMS API Monitor as the Callback URL of each device. Adding {0} lets us match a device directly. It is made from this site's address (host_name in site config, or the address this page was opened at), which the gateway must reach; a request to another address (another port, a proxy) finds this site by its Host header.",
			["<code>?stgid=&lt;Service Tag ID&gt;</code>"]
		);
		// The field's help says https only; on a site that allows http (a test gateway), say so.
		if ((frm.doc.__onload || {}).http_endpoint_allowed) {
			frm.set_df_property(
				"restful_endpoint",
				"description",
				__(
					"The RESTful API URL shown in the CAMS API Monitor (without ?stgid=). Used by Load Punchlog. Every device's Auth Token is sent to it, so only a System Manager can change it. This site's config sets {0}, so http:// is allowed as well as https:// (for a test gateway such as cams-simulator; remove it on a live site).",
					["<code>cams_biometric_allow_http_endpoint</code>"]
				)
			);
		}
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
