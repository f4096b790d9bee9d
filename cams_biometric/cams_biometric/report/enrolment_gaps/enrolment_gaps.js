// Copyright (c) 2026, cams_biometric contributors
// For license information, please see license.txt
{% include "cams_biometric/public/js/device_text.js" %}
{% include "cams_biometric/public/js/map_device_user.js" %}

frappe.provide("cams_biometric.gaps");

frappe.query_reports["Enrolment Gaps"] = {
	filters: [
		{
			fieldname: "device",
			label: __("Device"),
			fieldtype: "Link",
			options: "CAMS Biometric Device",
		},
		{
			fieldname: "gap",
			label: __("Gap"),
			fieldtype: "Select",
			options: [
				"",
				"Not on Device",
				"No Employee",
				"Enabled while Left",
				"Disabled while Active",
				"Outside Company or Branch",
			],
		},
	],

	get_datatable_options(options) {
		return Object.assign(options, { checkboxColumn: true });
	},

	formatter(value, row, column, data, default_formatter) {
		const esc = cams_biometric.esc;
		if (column.fieldname === "fix" && data && data.device_user_id) {
			if (data.pending) {
				return `<span class="text-muted cams-gap-pending">${esc(__("Queued: {0}", [data.pending]))}</span>`;
			}
			return (data.fixes || "")
				.split(",")
				.filter(Boolean)
				.map(
					(fix) => `<button class="btn btn-xs btn-default cams-gap-fix"
						data-fix="${esc(fix)}" data-device="${esc(data.device)}"
						data-device-user-id="${esc(data.device_user_id)}">${esc(cams_biometric.gaps.label(fix))}</button>`
				)
				.join(" ");
		}
		if (column.fieldname === "gap" && data && data.gap) {
			return `<span class="indicator-pill ${cams_biometric.gaps.color(data.gap)}">${esc(__(data.gap))}</span>`;
		}
		// Names and ids on the device are the device's text; names of Employees are escaped too.
		return default_formatter(cams_biometric.report_value(value, column), row, column, data);
	},

	onload(report) {
		report.page.add_inner_button(__("Fix Selected"), () => {
			const rows = cams_biometric.gaps.checked(report);
			if (!rows.length) {
				frappe.msgprint(__("Tick the rows to fix first (the boxes on the left)."));
				return;
			}
			cams_biometric.gaps.confirm_and_fix(report, rows);
		});
		// The rows' buttons (the datatable re-renders its cells, so delegate).
		report.page.wrapper.on("click", ".cams-gap-fix", (e) => {
			const $button = $(e.currentTarget);
			const row = (report.data || []).find(
				(r) =>
					r.device === $button.attr("data-device") &&
					r.device_user_id === $button.attr("data-device-user-id")
			);
			if (!row) return;
			const fix = $button.attr("data-fix");
			if (fix === "map") {
				cams_biometric.reports.map_device_user(
					{ device_user_id: row.device_user_id, device: row.device },
					() => report.refresh()
				);
				return;
			}
			cams_biometric.gaps.confirm_and_fix(report, [row], fix);
		});
	},
};

cams_biometric.gaps.label = function (fix) {
	return {
		enrol: __("Enrol"),
		map: __("Map"),
		disable: __("Disable"),
		enable: __("Enable"),
		remove: __("Remove"),
	}[fix] || fix;
};

cams_biometric.gaps.color = function (gap) {
	return {
		"Not on Device": "orange",
		"No Employee": "gray",
		"Enabled while Left": "red",
		"Disabled while Active": "orange",
		"Outside Company or Branch": "red",
	}[gap] || "gray";
};

// The ticked rows of the datatable, as the report's data.
cams_biometric.gaps.checked = function (report) {
	if (!report.datatable) return [];
	return report.datatable.rowmanager
		.getCheckedRows()
		.map((index) => report.data[index])
		.filter((row) => row && row.device_user_id);
};

// What a row's fix does, said as a line of the confirmation (HTML, escaped).
cams_biometric.gaps.describe = function (row, fix) {
	const esc = cams_biometric.esc;
	const device = `<b>${esc(row.device_label || row.device)}</b>`;
	const person = row.employee
		? `<b>${esc(row.employee_name || row.employee)}</b> (${esc(row.employee)})`
		: `${__("device user")} <b>${esc(row.device_user_id)}</b>` +
		  (row.name_on_device ? ` (${esc(row.name_on_device)})` : "");
	return {
		enrol: __("Enrol {0} on {1} as device user {2}", [person, device, `<b>${esc(row.device_user_id)}</b>`]),
		disable: __("Disable {0} on {1}", [person, device]),
		enable: __("Enable {0} on {1}", [person, device]),
		remove: __("Remove device user {0} from {1}", [
			`<b>${esc(row.device_user_id)}</b>` + (row.name_on_device ? ` (${esc(row.name_on_device)})` : ""),
			device,
		]),
	}[fix];
};

// The fix a row gets: the one asked for, or (a selection) its gap's first one the server
// applies; a user whose id no Employee has is removed then (Map is one row at a time).
cams_biometric.gaps.fix_of = function (row) {
	const fixes = (row.fixes || "").split(",").filter((fix) => fix && fix !== "map");
	return fixes[0];
};

cams_biometric.gaps.confirm_and_fix = function (report, rows, fix) {
	const chosen = [];
	const skipped = [];
	rows.forEach((row) => {
		if (row.pending) skipped.push(row);
		else chosen.push({ row, fix: fix || cams_biometric.gaps.fix_of(row) });
	});
	if (!chosen.length) {
		frappe.msgprint(__("The fixes of these rows are queued already."));
		return;
	}
	const lines = chosen.map(({ row, fix }) => `<li>${cams_biometric.gaps.describe(row, fix)}</li>`);
	let message = `<p>${__("Each of these queues a command for its device:")}</p><ul class="cams-gap-plan">${lines.join("")}</ul>`;
	if (chosen.some(({ row, fix }) => fix === "remove" && row.gap === "No Employee")) {
		message += `<p class="text-muted">${__(
			"A device user whose id no Employee has is removed from the device. To keep them, Map their row to an Employee instead."
		)}</p>`;
	}
	if (skipped.length) {
		message += `<p class="text-muted">${__("{0} rows already have their fix queued and are left out.", [
			skipped.length,
		])}</p>`;
	}
	frappe.confirm(message, () =>
		frappe
			.xcall("cams_biometric.enrolment_gaps.fix", {
				rows: chosen.map(({ row, fix }) => ({
					device: row.device,
					device_user_id: row.device_user_id,
					employee: row.employee,
					gap: row.gap,
					fix,
				})),
			})
			.then((answer) => {
				// The server's messages escape what they quote.
				const items = answer.rows.map(
					(r) =>
						`<li class="cams-gap-result ${r.status === "Queued" ? "text-success" : "text-muted"}">${
							r.message
						}</li>`
				);
				frappe.msgprint({
					title: __("Fixes: {0} queued, {1} skipped", [answer.queued, answer.skipped]),
					message:
						`<ul>${items.join("")}</ul>` +
						(answer.queued
							? `<p>${__(
									"Each device carries its command out in the background; the report shows the row as Queued until then."
							  )}</p>`
							: ""),
					indicator: answer.skipped ? "orange" : "green",
				});
				// The ticks would stay on whichever rows the refreshed report puts there.
				report.datatable && report.datatable.rowmanager.checkAll(false);
				report.refresh();
			})
	);
};
