// The Employee form's "CAMS Devices" group: the employee on the biometric devices.
// Shown to those who may send device commands (HR Manager, System Manager).
{% include "cams_biometric/public/js/device_text.js" %}

const CAMS_EMPLOYEE = "cams_biometric.employee_devices.";

frappe.ui.form.on("Employee", {
	refresh(frm) {
		if (frm.is_new() || !frappe.model.can_read("CAMS Device User")) return;
		frappe.call({
			method: CAMS_EMPLOYEE + "devices_of",
			args: { employee: frm.doc.name },
			callback: (r) => r.message && cams_employee_devices(frm, r.message),
		});
	},
});

// Beside the devices table: punches seen per device, commands on their way and remote
// enrolments waiting for a finger. Polled (no socket.io needed) while a command is on its way
// or an enrolment waits, and each command that finishes says how it ended.
function cams_employee_activity(frm, since) {
	const name = frm.doc.name;
	frappe
		.xcall("cams_biometric.employee_activity.activity_of", { employee: name, commands_since: since })
		.then((activity) => {
			if (frm.doc.name !== name) return;
			frm.__cams_activity = activity;
			cams_employee_activity_render(frm);
			(activity.finished || []).forEach((command) =>
				frappe.show_alert({
					message: cams_employee_command_text(command),
					indicator: command.status === "Done" ? "green" : "red",
				})
			);
			if ((activity.finished || []).length) {
				// The directory changed: the devices table too.
				frappe.xcall(CAMS_EMPLOYEE + "devices_of", { employee: name }).then((info) => {
					if (frm.doc.name !== name) return;
					frm.__cams_info = info;
					cams_employee_block(frm);
				});
			}
			const waiting = activity.in_flight.length || activity.enrolments.length;
			clearTimeout(frm.__cams_poll);
			if (waiting && cur_frm === frm) {
				frm.__cams_poll = setTimeout(
					() => cur_frm === frm && frm.doc.name === name && cams_employee_activity(frm, activity.now),
					activity.in_flight.length ? 3000 : 10000
				);
			}
		});
}

function cams_employee_command_text(command) {
	const esc = cams_biometric.esc;
	const on = __("{0} on {1}", [__(command.operation), esc(command.device_label)]);
	if (command.status === "Done") {
		return command.operation === "Enroll Fingerprint"
			? __("{0}: the device took the command and asks for a finger.", [on])
			: __("{0}: done.", [on]);
	}
	if (command.status === "Failed") return __("{0} failed: {1}", [on, esc(command.error || "")]);
	return __("{0}: {1} {2}", [
		on,
		__(command.status === "Queued" ? "queued" : "sent, waiting for the device"),
		frappe.datetime.comment_when(command.creation),
	]);
}

function cams_employee_activity_render(frm) {
	const activity = frm.__cams_activity;
	const $block = frm.fields_dict.attendance_device_id
		? frm.fields_dict.attendance_device_id.$wrapper.siblings(".cams-devices-block")
		: $();
	if (!activity || !$block.length) return;
	const esc = cams_biometric.esc;
	const lines = [];
	if (activity.seen.length) {
		lines.push(
			__("Punches seen from: {0}.", [
				activity.seen
					.map((row) =>
						__("{0} ({1}, the last {2}){3}", [
							esc(row.device_label),
							row.punches,
							frappe.datetime.str_to_user(row.last_punch),
							row.in_user_list ? "" : " " + __("not in its user list yet"),
						])
					)
					.join(", "),
			])
		);
	}
	activity.in_flight.forEach((command) =>
		lines.push(`<span class="indicator-pill blue">${__("In progress")}</span> ${cams_employee_command_text(command)}`)
	);
	activity.enrolments.forEach((command) =>
		lines.push(
			`<span class="indicator-pill orange">${__("Waiting")}</span> ` +
				__(
					"Remote enrolment on {0}: no fingerprint has come back since the device took the command {1}. It comes by callback, once the employee lays a finger on the reader and if the device posts callbacks to this site.",
					[esc(command.device_label), frappe.datetime.comment_when(command.finished_at)]
				)
		)
	);
	$block.find(".cams-employee-activity").remove();
	$block.append(
		`<div class="cams-employee-activity small">${lines.map((l) => `<p>${l}</p>`).join("")}</div>`
	);
}

function cams_employee_devices(frm, info) {
	const group = __("CAMS Devices");
	const esc = cams_biometric.esc;
	frm.__cams_info = info;
	frm.__cams_activity = null;
	cams_employee_block(frm);
	cams_employee_activity(frm);
	if (!info.attendance_device_id || !info.endpoint_set) return;

	const send = (method, args, message) =>
		frappe.call({
			method: CAMS_EMPLOYEE + method,
			args: { employee: frm.doc.name, ...args },
			freeze: true,
			callback: (r) => {
				const names = [].concat(r.message || []);
				frappe.show_alert({
					message: message + " " + __("({0} commands queued; this form shows how they end)", [names.length]),
					indicator: "blue",
				});
				// From the server's last answer: the commands that finish from now on are announced.
				cams_employee_activity(frm, frm.__cams_activity && frm.__cams_activity.now);
			},
		});
	// Frappe shows a MultiCheck's and a Select's labels as HTML.
	const device_options = info.devices.map((d) => ({ value: d.name, label: esc(d.label) }));
	const pick_devices = (title, extra_fields, action) => {
		const dialog = new frappe.ui.Dialog({
			title,
			fields: [
				{
					fieldname: "devices",
					fieldtype: "MultiCheck",
					label: __("Devices"),
					options: device_options.map((o) => ({ ...o, checked: 1 })),
					select_all: 1,
					reqd: 1,
				},
				...extra_fields,
			],
			primary_action_label: title,
			primary_action(values) {
				if (!values.devices || !values.devices.length) {
					frappe.msgprint(__("Pick at least one device."));
					return;
				}
				dialog.hide();
				action(values);
			},
		});
		dialog.show();
	};

	frm.add_custom_button(
		__("Enrol on Devices"),
		() =>
			pick_devices(
				__("Enrol on Devices"),
				[
					{
						fieldname: "copy_templates",
						fieldtype: "Check",
						label: __("Copy the templates this employee gave on another device"),
						default: info.keep_templates ? 1 : 0,
						read_only: info.keep_templates ? 0 : 1,
						description: info.keep_templates
							? __("Enrol once, punch everywhere: the fingerprints, faces and cards this employee gave at a device of their company and branch, while the ID was theirs, go with them.")
							: __("Unavailable: CAMS Biometric Settings do not keep biometric templates."),
					},
				],
				(values) =>
					send(
						"enrol",
						{ devices: values.devices, copy_templates: values.copy_templates ? 1 : 0 },
						__("Enrolling on the devices.")
					)
			),
		group
	);
	frm.add_custom_button(
		__("Remote Enrolment"),
		() => {
			const dialog = new frappe.ui.Dialog({
				title: __("Remote Enrolment"),
				fields: [
					{
						fieldtype: "HTML",
						options: `<p class="text-muted small">${__(
							"The device asks the employee to lay a finger on its reader; the new fingerprint comes back to this employee's device user."
						)}</p>`,
					},
					{
						fieldname: "device",
						fieldtype: "Select",
						label: __("Device"),
						options: device_options,
						reqd: 1,
						default: device_options.length === 1 ? device_options[0].value : undefined,
					},
				],
				primary_action_label: __("Start"),
				primary_action(values) {
					dialog.hide();
					send(
						"remote_enrol",
						{ device: values.device },
						__("Remote enrolment queued: the device asks for a finger once it receives the command.")
					);
				},
			});
			dialog.show();
		},
		group
	);
	frm.add_custom_button(
		__("Enable"),
		() => send("set_access", { enable: 1 }, __("Enabling on the devices.")),
		group
	);
	frm.add_custom_button(
		__("Disable"),
		() => send("set_access", { enable: 0 }, __("Disabling on the devices.")),
		group
	);
	frm.add_custom_button(
		__("Access Window"),
		() => {
			const dialog = new frappe.ui.Dialog({
				title: __("Access Window"),
				fields: [
					{
						fieldtype: "HTML",
						options: `<p class="text-muted small">${__(
							"The devices take this employee's punches only between these times, entered in the site's time zone. Each device is sent them in its own local time, at the UTC offset its punches state; a device that has sent no punch yet is sent them as entered."
						)}</p>`,
					},
					{
						fieldname: "start",
						fieldtype: "Datetime",
						label: __("From"),
						reqd: 1,
						default: frappe.datetime.system_datetime(),
					},
					{
						fieldname: "end",
						fieldtype: "Datetime",
						label: __("Until"),
						reqd: 1,
						default: frm.doc.relieving_date ? frm.doc.relieving_date + " 23:59:59" : null,
					},
				],
				primary_action_label: __("Set"),
				primary_action(values) {
					dialog.hide();
					send("set_access_window", values, __("Setting the access window."));
				},
			});
			dialog.show();
		},
		group
	);
	frm.add_custom_button(
		__("Remove from Devices"),
		() =>
			frappe.confirm(
				__("Delete {0} from every device that holds them? Their punches stop being taken.", [
					esc(frm.doc.employee_name || frm.doc.name),
				]),
				() => send("remove", {}, __("Removing from the devices."))
			),
		group
	);
	frm.add_custom_button(
		__("Commands"),
		() => frappe.set_route("List", "CAMS Device Command", { employee: frm.doc.name }),
		group
	);
}

function cams_employee_block(frm) {
	const section = cams_employee_devices_html(frm.__cams_info, cams_biometric.esc);
	// Beside the Attendance Device ID (Attendance & Leaves tab), not in the dashboard, which
	// v15 shows only on the Connections tab. The answer may come after a second refresh: one
	// block, not two.
	const id_field = frm.fields_dict.attendance_device_id;
	if (id_field) {
		id_field.$wrapper.siblings(".cams-devices-block").remove();
		$(`<div class="cams-devices-block form-group">
			<label class="control-label">${__("CAMS Devices")}</label>${section}</div>`).insertAfter(
			id_field.$wrapper
		);
		cams_employee_activity_render(frm);
	}
}

function cams_employee_devices_html(info, esc) {
	if (!info.attendance_device_id) {
		return `<p class="text-muted">${__(
			"Set this employee's Attendance Device ID (Attendance and Leave Details) to enrol them on the CAMS devices."
		)}</p>`;
	}
	const notes = [];
	if (!info.endpoint_set) {
		notes.push(
			__("Set the RESTful Endpoint in {0} to manage devices from here.", [
				`<a href="/app/cams-biometric-settings">${__("CAMS Biometric Settings")}</a>`,
			])
		);
	}
	if (!info.rows.length) {
		// Only the user lists: punches seen are said beside (cams_employee_activity_render).
		notes.push(
			__(
				"No device's user list has reported device user {0} yet. Enrol them, or use Resend Users on a device to fill the list.",
				[`<b>${esc(info.attendance_device_id)}</b>`]
			)
		);
	}
	const rows = info.rows
		.map((row) => {
			const status =
				row.status === "Deleted"
					? `<span class="indicator-pill gray">${__("Deleted")}</span>`
					: row.access_enabled
					? `<span class="indicator-pill green">${__("Enabled")}</span>`
					: `<span class="indicator-pill red">${__("Disabled")}</span>`;
			const window = row.access_end
				? __("until {0}", [frappe.datetime.str_to_user(row.access_end)])
				: "";
			return `<tr>
				<td><a href="/app/cams-device-user/${encodeURIComponent(row.name)}">${esc(row.device_label)}</a></td>
				<td>${status} ${esc(window)}</td>
				<td>${esc(row.templates_summary || "")}</td>
				<td class="text-muted">${row.last_change ? frappe.datetime.comment_when(row.last_change) : ""}</td>
			</tr>`;
		})
		.join("");
	const table = rows
		? `<table class="table table-sm small"><thead><tr>
				<th>${__("Device")}</th><th>${__("Access")}</th><th>${__("Templates")}</th><th>${__("Last Change")}</th>
			</tr></thead><tbody>${rows}</tbody></table>`
		: "";
	return `<div class="cams-employee-devices">${notes
		.map((n) => `<p class="text-muted">${n}</p>`)
		.join("")}${table}</div>`;
}
