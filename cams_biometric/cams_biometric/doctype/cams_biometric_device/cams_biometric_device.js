// Copyright (c) 2026, cams_biometric contributors
// For license information, please see license.txt
{% include "cams_biometric/public/js/device_text.js" %}
{% include "cams_biometric/public/js/rollouts.js" %}

frappe.ui.form.on("CAMS Biometric Device", {
	refresh(frm) {
		// Device secrets, not user passwords: a strength meter there only misleads.
		["auth_token", "security_key"].forEach((field) => frm.get_field(field).disable_password_checks());
		if (frm.is_new()) return;
		// Frappe hides the field a document is named by once saved; the Service Tag ID is what
		// goes into the callback URL, so keep it in sight (the name cannot change any more).
		frm.toggle_display("service_tag_id", true);
		frm.set_df_property("service_tag_id", "read_only", 1);
		// A save refreshes the form twice in a row; start from no message so each shows once.
		frm.dashboard.clear_headline();
		// The lists of this device in one group: five loose buttons ran over the sidebar on a
		// narrow screen (1100 px).
		const view = __("View");
		frm.add_custom_button(
			__("Raw Punches"),
			() => frappe.set_route("List", "CAMS Raw Punch Log", { device: frm.doc.name }),
			view
		);
		frm.add_custom_button(
			__("Device Events"),
			() => frappe.set_route("List", "CAMS Device Event", { device: frm.doc.name }),
			view
		);
		frm.add_custom_button(
			__("Device Users"),
			() => frappe.set_route("List", "CAMS Device User", { device: frm.doc.name }),
			view
		);
		frm.add_custom_button(
			__("Commands"),
			() => frappe.set_route("List", "CAMS Device Command", { device: frm.doc.name }),
			view
		);
		// Who should be on the device and is not, and who is and should not be (with the fixes).
		frm.add_custom_button(
			__("Enrolment Gaps"),
			() => frappe.set_route("query-report", "Enrolment Gaps", { device: frm.doc.name }),
			view
		);
		// Those who manage the device; send_command checks the command's own permission.
		if (frm.doc.enabled && frm.perm[0].write) {
			// The person stays on the device form: it follows the command and reloads once the
			// device has answered (Device Information shows on this form).
			const send = (operation, message) =>
				frappe.call({
					method: "cams_biometric.commands.send_command",
					args: { device: frm.doc.name, operation },
					freeze: true,
					callback: (r) => {
						const link = `<a href="/app/cams-device-command/${encodeURIComponent(r.message)}">${frappe.utils.escape_html(r.message)}</a>`;
						frappe.show_alert({ message: `${message} (${link})`, indicator: "blue" }, 10);
						cams_biometric_follow_command(frm, r.message);
					},
				});
			frm.add_custom_button(
				__("Refresh Device Information"),
				() => send("Device Information", __("Asking the device for its information.")),
				__("Actions")
			);
			frm.add_custom_button(
				__("Resend Users"),
				() =>
					frappe.confirm(
						__(
							"The device sends every user it holds, with their templates, to the callback URL; the Device Users directory is rebuilt from them. Continue?"
						),
						() => send("Resend All Users", __("The device is resending its users."))
					),
				__("Actions")
			);
			// A whole team at once, and a swap that re-enrols nobody (rollouts.py).
			frm.add_custom_button(__("Enrol Employees"), () => cams_biometric.enrol_employees_dialog(frm.doc.name), __("Rollout"));
			frm.add_custom_button(__("Replace Device"), () => cams_biometric.replace_device_dialog(frm), __("Rollout"));
			frm.add_custom_button(
				__("Enrolment Gaps"),
				() => frappe.set_route("query-report", "Enrolment Gaps", { device: frm.doc.name }),
				__("Rollout")
			);
			if (frappe.user.has_role("System Manager")) cams_biometric_danger_zone(frm);
		}
		frm.add_custom_button(
			__("Rollouts"),
			() => frappe.set_route("List", "CAMS Device Rollout", { device: frm.doc.name }),
			view
		);
		cams_biometric_show_device_information(frm);
		if (frm.doc.enabled && frappe.model.can_create("CAMS Load Request")) {
			frm.add_custom_button(__("Load Punchlog"), () => cams_biometric.load_punchlog_dialog(frm.doc.name));
		}
		// The serial number the device sends is its own text; the others may hold & or quotes.
		const esc = cams_biometric.esc;
		if (!frm.doc.last_punch_received) {
			frm.dashboard.set_headline(
				__(
					"No punch received yet. In the CAMS API Monitor, set this device's Callback URL to the one shown in {0}, with {1} added.",
					[
						`<a href="/app/cams-biometric-settings">${__("CAMS Biometric Settings")}</a>`,
						`<code>?stgid=${esc(frm.doc.name)}</code>`,
					]
				)
			);
		}
		if (frm.doc.reported_serial_number) {
			frm.dashboard.add_comment(
				__(
					"The device sends Serial Number {0}, not {1}. Its punches are taken (the Service Tag ID and Auth Token identify it); correct the Serial Number once you have checked.",
					[`<b>${esc(frm.doc.reported_serial_number)}</b>`, `<b>${esc(frm.doc.serial_number || "")}</b>`]
				),
				"orange",
				true
			);
		}
		if (!frm.doc.utc_offset) {
			// employee_devices: the rule for access windows until the device's clock is known.
			frm.dashboard.add_comment(
				__(
					"The UTC offset of this device's clock is not known yet: it is read from the LogTime of its first punch. Until then, access windows are sent as entered, in the site's time zone ({0}): the device is taken to keep the site's time.",
					[esc((frappe.boot.time_zone || {}).system || "")]
				),
				"blue",
				true
			);
		}
		cams_biometric_show_replacement(frm);
		cams_biometric_show_auth_failures(frm);
	},
});

// A device swapped for another (Replace Device): each leads to the other.
function cams_biometric_show_replacement(frm) {
	const esc = cams_biometric.esc;
	const link = (name) => `<a href="/app/cams-biometric-device/${encodeURIComponent(name)}">${esc(name)}</a>`;
	if (frm.doc.replaced_by) {
		frm.dashboard.clear_headline();
		frm.dashboard.set_headline(
			__("Replaced by {0} on {1}. Its punches, events and commands stay here; new punches come from {0}.", [
				link(frm.doc.replaced_by),
				esc(frappe.datetime.str_to_user(frm.doc.replaced_on)),
			]),
			"orange"
		);
	} else if (frm.doc.replaces) {
		frm.dashboard.add_comment(
			__("Replaces {0}: its users were copied here; its punches and history stay on it.", [link(frm.doc.replaces)]),
			"blue",
			true
		);
	}
}

// Every 2 s until the command is Done or Failed (a minute at most), then say so and reload.
function cams_biometric_follow_command(frm, command, started = Date.now()) {
	frappe.db.get_value("CAMS Device Command", command, ["status", "operation", "error"]).then((r) => {
		const { status, operation, error } = r.message || {};
		if (status === "Done" || status === "Failed") {
			frappe.show_alert(
				{
					message:
						status === "Done"
							? __("{0}: done.", [__(operation)])
							: __("{0} failed: {1}", [__(operation), frappe.utils.escape_html(error || "")]),
					indicator: status === "Done" ? "green" : "red",
				},
				10
			);
			if (frm.doc.name && !frm.is_dirty()) frm.reload_doc();
		} else if (Date.now() - started < 60000) {
			setTimeout(() => cams_biometric_follow_command(frm, command, started), 2000);
		}
	});
}

function cams_biometric_show_auth_failures(frm) {
	const failures = (frm.doc.__onload || {}).auth_failures;
	if (!failures) return;
	const reasons = Object.entries(failures.reasons || {})
		.map(([reason, count]) => `${cams_biometric.esc(__(reason))}: ${count}`)
		.join(", ");
	frm.dashboard.add_comment(
		__(
			"{0} failed authentications of callbacks naming this device since {1}; the last at {2}: {3}. ({4})",
			[
				failures.count,
				frappe.datetime.str_to_user(failures.since),
				frappe.datetime.str_to_user(failures.last_at),
				`<b>${cams_biometric.esc(__(failures.last_reason))}</b>`,
				reasons,
			]
		),
		"red",
		true
	);
	frm.add_custom_button(
		__("Clear Failed Authentications"),
		() =>
			frappe.call({
				method: "cams_biometric.cams_biometric.doctype.cams_biometric_device.cams_biometric_device.clear_auth_failures",
				args: { device: frm.doc.name },
				callback: () => frm.reload_doc(),
			}),
		__("Actions")
	);
}

// device_information.OFFLINE_AFTER_HOURS
const CAMS_DEVICE_OFFLINE_AFTER_HOURS = 24;

function cams_biometric_show_device_information(frm) {
	const seen = frm.doc.gateway_last_connected;
	if (seen) {
		const hours = moment(frappe.datetime.system_datetime(true)).diff(moment(seen), "hours", true);
		if (hours > CAMS_DEVICE_OFFLINE_AFTER_HOURS) {
			frm.dashboard.add_comment(
				__(
					"Offline: the CAMS gateway last saw this device {0} ({1}). Check its power and network.",
					[frappe.datetime.comment_when(seen), frappe.datetime.str_to_user(seen)]
				),
				"red",
				true
			);
		}
	}
	if (frm.doc.device_information_error) {
		frm.dashboard.add_comment(
			__("The last Device Information refresh failed: {0}", [
				cams_biometric.esc(frm.doc.device_information_error),
			]),
			"orange",
			true
		);
	}
}

// Delete all users / all logs / all photos on the device: System Managers only, confirmed by
// typing the device's Service Tag ID. The server checks both again.
function cams_biometric_danger_zone(frm) {
	const erasing = {
		"Delete All Users": __(
			"Every user and their fingerprints, faces and cards are deleted from the device. Nobody can punch on it until they are enrolled again."
		),
		"Delete All Logs": __(
			"Every punch the device keeps is deleted from it. Punches not yet received here cannot be loaded afterwards."
		),
		"Delete Attendance Photos": __("Every attendance photo the device keeps is deleted from it."),
	};
	Object.entries(erasing).forEach(([operation, warning]) => {
		frm.add_custom_button(
			__(operation),
			() => {
				const dialog = new frappe.ui.Dialog({
					title: __("{0} on {1}", [__(operation), cams_biometric.esc(frm.doc.device_label || frm.doc.name)]),
					fields: [
						{
							fieldtype: "HTML",
							options: `<div class="alert alert-danger">${warning} ${__("This cannot be undone.")}</div>`,
						},
						{
							fieldname: "confirmation",
							fieldtype: "Data",
							label: __("Type {0} to confirm", [cams_biometric.esc(frm.doc.name)]),
							reqd: 1,
						},
					],
					primary_action_label: __(operation),
					primary_action(values) {
						if (values.confirmation !== frm.doc.name) {
							frappe.msgprint(
								__("Type the Service Tag ID {0} exactly to confirm.", [cams_biometric.esc(frm.doc.name)])
							);
							return;
						}
						frappe.call({
							method: "cams_biometric.commands.erase_device_data",
							args: { device: frm.doc.name, operation, confirmation: values.confirmation },
							freeze: true,
							callback: (r) => {
								dialog.hide();
								frappe.set_route("Form", "CAMS Device Command", r.message);
							},
						});
					},
				});
				dialog.get_primary_btn().removeClass("btn-primary").addClass("btn-danger");
				dialog.show();
			},
			__("Danger Zone")
		);
	});
}
