// Enrol Employees (a device's form, the Employee list) and Replace Device (a device's form):
// each starts a CAMS Device Rollout and opens it, where its progress shows.
// Included with Frappe's include directive by the scripts that offer them.
frappe.provide("cams_biometric");

// ``device``: the device's name, or null to pick one (the Employee list); ``employees``: the
// chosen Employees, or null to pick by criteria.
cams_biometric.enrol_employees_dialog = function (device, employees) {
	const fields = [];
	if (!device) {
		fields.push({
			fieldname: "device",
			fieldtype: "Link",
			options: "CAMS Biometric Device",
			label: __("Device"),
			reqd: 1,
			get_query: () => ({ filters: { enabled: 1 } }),
			onchange: () => preview(),
		});
	}
	if (employees) {
		fields.push({
			fieldname: "chosen",
			fieldtype: "HTML",
			options: `<p>${__("{0} Employees chosen in the list.", [employees.length])}</p>`,
		});
	} else {
		fields.push(
			{ fieldname: "company", fieldtype: "Link", options: "Company", label: __("Company"), onchange: () => preview() },
			{ fieldname: "branch", fieldtype: "Link", options: "Branch", label: __("Branch"), onchange: () => preview() },
			{ fieldtype: "Column Break" },
			{ fieldname: "department", fieldtype: "Link", options: "Department", label: __("Department"), onchange: () => preview() },
			{ fieldname: "designation", fieldtype: "Link", options: "Designation", label: __("Designation"), onchange: () => preview() },
			{ fieldtype: "Section Break" },
			{
				fieldname: "employees",
				fieldtype: "MultiSelectList",
				label: __("Or These Employees"),
				description: __("Leave empty to take every Active Employee of the criteria above."),
				get_data: (text) => frappe.db.get_link_options("Employee", text, { status: "Active" }),
				onchange: () => preview(),
			}
		);
	}
	fields.push(
		{ fieldtype: "Section Break" },
		{
			fieldname: "copy_templates",
			fieldtype: "Check",
			label: __("Copy their fingerprints and faces from another device of theirs"),
			default: 1,
		},
		{ fieldname: "preview", fieldtype: "HTML" }
	);
	const dialog = new frappe.ui.Dialog({
		title: __("Enrol Employees"),
		fields,
		primary_action_label: __("Enrol"),
		primary_action(values) {
			frappe.call({
				method: "cams_biometric.rollouts.enrol_employees",
				args: request(values),
				freeze: true,
				freeze_message: __("Preparing the rollout"),
				callback: (r) => {
					dialog.hide();
					frappe.set_route("Form", "CAMS Device Rollout", r.message);
				},
			});
		},
	});

	function request(values) {
		const args = {
			device: device || values.device,
			copy_templates: values.copy_templates ? 1 : 0,
		};
		if (employees) args.employees = employees;
		else {
			["company", "branch", "department", "designation"].forEach((field) => {
				if (values[field]) args[field] = values[field];
			});
			if ((values.employees || []).length) args.employees = values.employees;
		}
		return args;
	}

	let asked = 0;
	function preview() {
		const values = dialog.get_values(true) || {};
		const args = request(values);
		const area = dialog.get_field("preview").$wrapper;
		if (!args.device) return area.empty();
		const turn = ++asked;
		delete args.copy_templates;
		frappe.call({
			method: "cams_biometric.rollouts.plan_enrolment",
			args,
			error_handlers: { ValidationError: () => {} },
			callback: (r) => {
				if (turn !== asked) return; // a later change asked again
				const plan = r.message;
				const skipped = plan.skipped_no_id + plan.skipped_out_of_scope;
				area.html(
					`<p class="cams-enrol-preview">${__("{0} Employees will be sent to the device, one after another.", [plan.pending])}` +
						(skipped
							? ` ${__("{0} skipped: {1} without an Attendance Device ID, {2} not Active or of another company or branch.", [
									skipped,
									plan.skipped_no_id,
									plan.skipped_out_of_scope,
							  ])}`
							: "") +
						"</p>"
				);
			},
		}).fail(() => turn === asked && area.html(`<p class="text-muted">${__("Nobody matches yet.")}</p>`));
	}

	// The device's company and branch: it only takes employees of those.
	if (device && !employees) {
		frappe.db.get_value("CAMS Biometric Device", device, ["company", "branch"]).then((r) => {
			const scope = r.message || {};
			["company", "branch"].forEach((field) => {
				if (scope[field]) {
					dialog.set_value(field, scope[field]);
					dialog.set_df_property(field, "read_only", 1);
				}
			});
			preview();
		});
	}
	dialog.show();
	if (employees && device) preview();
	return dialog;
};

cams_biometric.replace_device_dialog = function (frm) {
	const esc = cams_biometric.esc;
	const dialog = new frappe.ui.Dialog({
		title: __("Replace {0}", [esc(frm.doc.name)]),
		fields: [
			{
				fieldname: "explain",
				fieldtype: "HTML",
				options: `<p>${__(
					"Every user {0} holds is added to the new device with their fingerprints and faces, their access (enabled or disabled) and their access window. Once all of them are there, {0} is disabled; its punches and history stay, and lead to the new device.",
					[`<b>${esc(frm.doc.name)}</b>`]
				)}</p>`,
			},
			{
				fieldname: "new_service_tag_id",
				fieldtype: "Data",
				label: __("New Device's Service Tag ID"),
				reqd: 1,
				description: __("A device already registered here is used as it is (same company and branch); otherwise one is made from this one's settings."),
			},
			{
				fieldname: "auth_token",
				fieldtype: "Password",
				label: __("New Device's Auth Token"),
				description: __("From the CAMS API Monitor, for the new Service Tag ID."),
			},
			{ fieldname: "copy_templates", fieldtype: "Check", label: __("Copy fingerprints and faces"), default: 1 },
			{
				fieldname: "callback_note",
				fieldtype: "HTML",
				options: `<p class="text-muted small">${__(
					"In the CAMS API Monitor, set the same callback URL for the new device, so its punches reach this site."
				)}</p>`,
			},
		],
		primary_action_label: __("Replace"),
		primary_action(values) {
			frappe.call({
				method: "cams_biometric.rollouts.replace_device",
				args: {
					device: frm.doc.name,
					new_service_tag_id: values.new_service_tag_id,
					auth_token: values.auth_token,
					copy_templates: values.copy_templates ? 1 : 0,
				},
				freeze: true,
				freeze_message: __("Preparing the rollout"),
				callback: (r) => {
					dialog.hide();
					frappe.set_route("Form", "CAMS Device Rollout", r.message);
				},
			});
		},
	});
	dialog.get_field("auth_token").disable_password_checks && dialog.get_field("auth_token").disable_password_checks();
	// How many users move, from the directory (what the device last reported).
	frappe.db.count("CAMS Device User", { filters: { device: frm.doc.name, status: "Active" } }).then((count) => {
		dialog.get_field("explain").$wrapper.append(
			`<p class="cams-replace-count"><b>${__("{0} users will be copied.", [count])}</b> ${__(
				"If the device's users were changed at its keypad since, Actions → Resend Users first."
			)}</p>`
		);
	});
	dialog.show();
	return dialog;
};
