// Copyright (c) 2026, cams_biometric contributors
// For license information, please see license.txt

frappe.ui.form.on("CAMS Load Request", {
	setup(frm) {
		frappe.realtime.on("cams_load_progress", (data) => {
			if (!frm.doc || data.name !== frm.doc.name) return;
			const text = data.message
				? data.message
				: __("{0} pages, {1} rows, {2} new punches", [
						data.pages_fetched,
						data.rows_received,
						data.new_punches,
				  ]);
			frm.dashboard.show_progress(__("Loading punches"), data.done ? 100 : 50, text);
			if (data.done) {
				frm.dashboard.hide_progress(__("Loading punches"));
			}
			frm.reload_doc();
		});
	},
	refresh(frm) {
		if (frm.is_new()) return;
		const stale =
			frm.doc.status === "Running" &&
			moment().diff(moment(frm.doc.modified), "minutes") >= 5;
		if (["Failed", "Partially Completed"].includes(frm.doc.status) || stale) {
			frm.add_custom_button(__("Resume"), () =>
				frappe.call({
					method: "cams_biometric.loads.resume_load",
					args: { name: frm.doc.name },
					freeze: true,
					callback: () => frm.reload_doc(),
				})
			);
		}
		if (frm.doc.new_punches || frm.doc.duplicates || frm.doc.errors) {
			frm.add_custom_button(__("Raw Punches"), () =>
				frappe.set_route("List", "CAMS Raw Punch Log", { load_request: frm.doc.name })
			);
		}
		cams_biometric_resend(frm);
		if (["Queued", "Running"].includes(frm.doc.status)) {
			frm.dashboard.set_headline(
				__("Loading in the background; this page updates as pages arrive.")
			);
		}
	},
});

// LoadLog switched off (StatusCode 15): offer ResendAttendance for the same range.
function cams_biometric_resend(frm) {
	if (!frm.doc.loadlog_unavailable) return;
	if (frm.doc.status === "Resend Requested") {
		const arrived = (frm.doc.__onload || {}).resend_punches_arrived || 0;
		frm.dashboard.set_headline(
			__(
				"Resend requested {0}: the device is sending this range's punches to the callback URL. {1} new punches have arrived so far (punches already stored are not counted twice).",
				[frappe.datetime.comment_when(frm.doc.resend_requested_at), arrived]
			),
			"blue"
		);
		frm.add_custom_button(__("Resend Command"), () =>
			frappe.set_route("Form", "CAMS Device Command", frm.doc.resend_command)
		);
		frm.add_custom_button(__("Arrived Punches"), () =>
			frappe.set_route("List", "CAMS Raw Punch Log", {
				device: frm.doc.device,
				punch_time: ["between", [frm.doc.from_time, frm.doc.to_time]],
			})
		);
		return;
	}
	// Those who may send device commands (the command doctype is in_create, so not can_create).
	if (!frappe.user.has_role(["HR Manager", "System Manager"])) return;
	frm.dashboard.set_headline(
		__(
			"The gateway has LoadLog switched off for this device. It can instead resend this range's punches to the callback URL."
		),
		"orange"
	);
	frm.add_custom_button(__("Request Resend"), () =>
		frappe.confirm(
			__("Ask the device to send the punches from {0} to {1} to the callback URL again?", [
				frappe.datetime.str_to_user(frm.doc.from_time),
				frappe.datetime.str_to_user(frm.doc.to_time),
			]),
			() =>
				frappe.call({
					method: "cams_biometric.load_resend.request_resend",
					args: { name: frm.doc.name },
					freeze: true,
					callback: () => frm.reload_doc(),
				})
		)
	).addClass("btn-primary");
}
