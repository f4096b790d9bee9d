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
		if (["Queued", "Running"].includes(frm.doc.status)) {
			frm.dashboard.set_headline(
				__("Loading in the background; this page updates as pages arrive.")
			);
		}
	},
});
