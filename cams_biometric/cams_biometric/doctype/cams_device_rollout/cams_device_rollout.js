// Copyright (c) 2026, cams_biometric contributors
// For license information, please see license.txt
{% include "cams_biometric/public/js/device_text.js" %}

const CAMS_ROLLOUT_ACTIVE = ["Queued", "Running"];
// Followed without socket.io: the rollout's job writes its counts after each person.
const CAMS_ROLLOUT_POLL_MS = 3000;
const CAMS_ROLLOUT_PROGRESS_TITLE = __("Progress");

frappe.ui.form.on("CAMS Device Rollout", {
	// Names and reasons may quote what a device sent: the list script (loaded with the doctype,
	// before any form) makes those fields text, in the form and its table too.
	refresh(frm) {
		frm.disable_save();
		cams_rollout_show_progress(frm);
		cams_rollout_show_headline(frm);
		cams_rollout_show_failures(frm);
		cams_rollout_buttons(frm);
		cams_rollout_watch(frm);
	},
});

function cams_rollout_call(frm, method, message) {
	return frappe.call({
		method: `cams_biometric.rollouts.${method}`,
		args: { name: frm.doc.name },
		freeze: true,
		callback: () => {
			if (message) frappe.show_alert({ message, indicator: "blue" });
			frm.reload_doc();
		},
	});
}

function cams_rollout_buttons(frm) {
	const doc = frm.doc;
	if (!frappe.user.has_role(["HR Manager", "System Manager"])) return;
	if (CAMS_ROLLOUT_ACTIVE.includes(doc.status)) {
		frm.add_custom_button(__("Stop"), () =>
			frappe.confirm(__("Stop after the command being sent now? Resume goes on later from there."), () =>
				cams_rollout_call(frm, "stop", __("Stopping after the current command."))
			)
		);
	}
	if (doc.status === "Stopped") {
		frm.add_custom_button(__("Resume"), () => cams_rollout_call(frm, "resume", __("Resumed."))).addClass(
			"btn-primary"
		);
	}
	if (doc.status === "Completed" && doc.failed) {
		frm.add_custom_button(__("Retry Failed"), () =>
			cams_rollout_call(frm, "retry_failed", __("The failed ones are sent again."))
		).addClass("btn-primary");
	}
	frm.add_custom_button(
		__("Commands"),
		() => frappe.set_route("List", "CAMS Device Command", { rollout: doc.name }),
		__("View")
	);
	frm.add_custom_button(__("Device"), () => frappe.set_route("Form", "CAMS Biometric Device", doc.device), __("View"));
	frm.add_custom_button(
		__("Enrolment Gaps"),
		() => frappe.set_route("query-report", "Enrolment Gaps", { device: doc.device }),
		__("View")
	);
}

function cams_rollout_show_progress(frm) {
	const doc = frm.doc;
	const finished = doc.total - doc.pending;
	frm.dashboard.show_progress(
		CAMS_ROLLOUT_PROGRESS_TITLE,
		flt(doc.progress),
		__("{0} of {1}: {2} added, {3} already there, {4} failed, {5} skipped", [
			finished,
			doc.total,
			doc.done,
			doc.already_there,
			doc.failed,
			doc.skipped_no_id + doc.skipped_out_of_scope,
		])
	);
}

function cams_rollout_show_headline(frm) {
	const doc = frm.doc;
	const esc = cams_biometric.esc;
	frm.dashboard.clear_headline();
	if (doc.status === "Queued") {
		frm.dashboard.set_headline(
			__(
				"Waiting for a background worker (the long queue). If it stays Queued, check that the workers run ({0}).",
				["<code>bench start</code>"]
			),
			"blue"
		);
	} else if (doc.status === "Running") {
		frm.dashboard.set_headline(
			__("Sending users to {0}, one after another; this page follows it. You may leave it: the rollout goes on.", [
				esc(doc.device),
			]),
			"blue"
		);
	} else if (doc.status === "Stopped") {
		frm.dashboard.set_headline(`${esc(doc.message)} `, "red");
	} else {
		frm.dashboard.set_headline(esc(doc.message), doc.failed ? "orange" : "green");
	}
}

// Who failed and why, above the table: what the person acts on.
function cams_rollout_show_failures(frm) {
	const wrapper = frm.get_field("items").$wrapper;
	wrapper.find(".cams-rollout-failures").remove();
	const failed = (frm.doc.items || []).filter((item) => item.status === "Failed");
	if (!failed.length) return;
	const esc = cams_biometric.esc;
	const shown = failed.slice(0, 20).map(
		(item) =>
			`<li><b>${esc(item.employee_name || item.full_name || item.device_user_id)}</b>` +
			` (${esc(item.device_user_id)}): ${esc(item.reason)}</li>`
	);
	const more = failed.length > shown.length ? `<li>${__("and {0} more", [failed.length - shown.length])}</li>` : "";
	$(`<div class="cams-rollout-failures alert alert-warning">
		<p>${__("{0} failed:", [failed.length])}</p><ul>${shown.join("")}${more}</ul>
	</div>`).prependTo(wrapper);
}

function cams_rollout_watch(frm) {
	clearTimeout(frm.cams_rollout_timer);
	if (!CAMS_ROLLOUT_ACTIVE.includes(frm.doc.status)) return;
	const name = frm.doc.name;
	frm.cams_rollout_timer = setTimeout(() => {
		if (frm.doc.name !== name || frappe.get_route_str() !== `Form/CAMS Device Rollout/${name}`) return;
		frappe.db
			.get_value("CAMS Device Rollout", name, "modified")
			.then((r) => {
				const modified = r.message && r.message.modified;
				if (modified && modified !== frm.doc.modified) frm.reload_doc();
				else cams_rollout_watch(frm);
			})
			.catch(() => cams_rollout_watch(frm));
	}, CAMS_ROLLOUT_POLL_MS);
}
