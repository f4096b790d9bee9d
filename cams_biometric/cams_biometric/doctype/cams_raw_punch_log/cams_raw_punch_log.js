// Copyright (c) 2026, cams_biometric contributors
// For license information, please see license.txt
{% include "cams_biometric/public/js/device_text.js" %}

frappe.ui.form.on("CAMS Raw Punch Log", {
	refresh(frm) {
		// The device user id and the error (which may quote the device) are the device's text.
		const esc = cams_biometric.esc;
		frm.dashboard.clear_headline();
		// Written by the callback and the jobs only: nothing on the form is for editing.
		frm.disable_save();
		cams_raw_punch_creation_message(frm);
		if (["Pending", "Unmapped", "Error", "Ignored"].includes(frm.doc.status) && frm.perm[0].write) {
			frm.add_custom_button(__("Reprocess"), () =>
				cams_biometric.reprocess([frm.doc.name], () => frm.reload_doc())
			);
		}
		if (frm.doc.status === "Unmapped") {
			const reason =
				frm.doc.error ||
				__("No Employee has Attendance Device ID {0}", [frm.doc.device_user_id || ""]);
			frm.dashboard.set_headline(
				__(
					"{0}. Set the Attendance Device ID on the Employee ({1}, or Map to Employee above) and this punch becomes a checkin by itself.",
					[`<b>${esc(reason)}</b>`, `<a href="/app/employee?status=Active">${__("Employees")}</a>`]
				),
				"yellow"
			);
			if (frappe.model.can_write("Employee")) {
				frm.add_custom_button(__("Map to Employee"), () => cams_raw_punch_map_dialog(frm));
			}
		}
		if (frm.doc.status === "Error" && frm.doc.error) {
			frm.dashboard.set_headline(
				__("This punch made no checkin: {0}. Fix the cause, then Reprocess.", [
					`<b>${esc(frm.doc.error.replace(/[.\s]+$/, ""))}</b>`,
				]),
				"red"
			);
		}
	},
});

// The callback stores punches as Guest (the gateway signs in with its AuthToken, not as a
// user): the history says which device sent it, and how, instead of "Guest created this".
function cams_raw_punch_creation_message(frm) {
	if (!frm.timeline) return;
	frm.timeline.get_creation_message = () => {
		const esc = cams_biometric.esc;
		const device = `<a href="/app/cams-biometric-device/${encodeURIComponent(frm.doc.device)}">${esc(frm.doc.device)}</a>`;
		const load = frm.doc.load_request
			? `<a href="/app/cams-load-request/${encodeURIComponent(frm.doc.load_request)}">${esc(frm.doc.load_request)}</a>`
			: "";
		return {
			creation: frm.doc.creation,
			content: load
				? __("Received from device {0} by Load Punchlog {1}", [device, load])
				: __("Received from device {0} by callback", [device]),
		};
	};
	frm.timeline.refresh();
	// The sidebar says it too.
	if (frm.sidebar && frm.sidebar.sidebar) {
		frm.sidebar.sidebar
			.find(".created-by")
			.html(
				frm.timeline.get_creation_message().content +
					" · " +
					frappe.datetime.comment_when(frm.doc.creation)
			);
	}
}

// The Unmapped Device Users report's dialog, which says what the waiting punches will become
// before, and what they became after; its script is loaded from the report once.
function cams_raw_punch_map_dialog(frm) {
	const open = () =>
		cams_biometric.reports.map_device_user(
			{ device_user_id: frm.doc.device_user_id, device: frm.doc.device },
			() => frm.reload_doc()
		);
	if (window.cams_biometric && cams_biometric.reports && cams_biometric.reports.map_device_user) {
		return open();
	}
	frappe
		.xcall("frappe.desk.query_report.get_script", { report_name: "Unmapped Device Users" })
		.then((r) => {
			frappe.dom.eval(r.script);
			open();
		});
}
