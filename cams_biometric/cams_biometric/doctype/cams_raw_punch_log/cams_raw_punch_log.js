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

// Give an Employee this punch's device user id; saving the Employee processes the punches
// that waited for it (processing.on_employee_update).
function cams_raw_punch_map_dialog(frm) {
	const user_id = frm.doc.device_user_id;
	const esc = cams_biometric.esc;
	const dialog = new frappe.ui.Dialog({
		title: __("Map device user {0} to an Employee", [esc(user_id)]),
		fields: [
			{
				fieldname: "employee",
				fieldtype: "Link",
				options: "Employee",
				label: __("Employee"),
				reqd: 1,
				get_query: () => ({ filters: { status: "Active" } }),
				description: __(
					"Their Attendance Device ID becomes {0} (replacing any they have), and the punches waiting for it become checkins.",
					[esc(user_id)]
				),
			},
		],
		primary_action_label: __("Map"),
		primary_action({ employee }) {
			frappe
				.xcall("frappe.client.set_value", {
					doctype: "Employee",
					name: employee,
					fieldname: "attendance_device_id",
					value: user_id,
				})
				.then(() => {
					dialog.hide();
					frappe.show_alert({
						message: __(
							"{0} now has Attendance Device ID {1}; the punches waiting for it are processed in the background.",
							[esc(employee), esc(user_id)]
						),
						indicator: "green",
					});
					setTimeout(() => frm.reload_doc(), 3000);
				});
		},
	});
	dialog.show();
}
