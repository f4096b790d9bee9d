// Copyright (c) 2026, cams_biometric contributors
// For license information, please see license.txt
{% include "cams_biometric/public/js/device_text.js" %}

const CAMS_LOAD_ACTIVE = ["Queued", "Running"];
// How often a running load is looked at without socket.io (a plain gunicorn, a proxy that
// drops websockets), and with it, in case its events do not reach this page.
const CAMS_LOAD_POLL_MS = { offline: 3000, online: 10000 };
const CAMS_LOAD_PROGRESS_TITLE = __("Progress");

frappe.ui.form.on("CAMS Load Request", {
	setup(frm) {
		frappe.realtime.on("cams_load_progress", (data) => {
			if (!frm.doc || data.name !== frm.doc.name) return;
			cams_load_show_progress(frm, data);
			if (!frm.is_dirty()) frm.reload_doc();
		});
	},
	refresh(frm) {
		if (frm.is_new()) return;
		// Written by the load's jobs only; the range is fixed once it is queued.
		frm.disable_save();
		cams_load_show_progress(frm, frm.doc);
		cams_load_show_headline(frm);
		cams_load_watch(frm);

		// Both times in the site's time zone: now_datetime() is in the user's, which may differ.
		const stale =
			frm.doc.status === "Running" &&
			moment(frappe.datetime.system_datetime()).diff(moment(frm.doc.modified), "minutes") >= 5;
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
		if (frm.doc.new_punches || frm.doc.duplicates || frm.doc.errors || frm.doc.unmapped) {
			frm.add_custom_button(__("Raw Punches"), () =>
				frappe.set_route("List", "CAMS Raw Punch Log", { load_request: frm.doc.name })
			);
		}
		if (frm.doc.unmapped) {
			frm.add_custom_button(__("Unmapped Device Users"), () => cams_load_open_unmapped(frm));
		}
		// After the headline above, which it replaces for a load that met LoadLog switched off.
		cams_biometric_resend(frm);
	},
});

function cams_load_open_unmapped(frm) {
	frappe.set_route("query-report", "Unmapped Device Users", { load_request: frm.doc.name });
}

function cams_load_show_progress(frm, values) {
	const percent = values.status === "Completed" ? 100 : flt(values.progress);
	const message = __("{0}% of the range: {1} pages, {2} punches received, {3} new", [
		format_number(percent, null, 0),
		values.pages_fetched || 0,
		values.rows_received || 0,
		values.new_punches || 0,
	]);
	// A gateway's error may be quoted in the message: text, not markup.
	frm.dashboard.show_progress(
		CAMS_LOAD_PROGRESS_TITLE,
		percent,
		values.message ? cams_biometric.esc(values.message) : message
	);
}

function cams_load_show_headline(frm) {
	const doc = frm.doc;
	frm.dashboard.clear_headline();
	if (doc.status === "Queued") {
		frm.dashboard.set_headline(
			__(
				"Waiting for a background worker. Workers take it within seconds; if it stays Queued, check that they run ({0}, or your process manager).",
				["<code>bench start</code>"]
			),
			"blue"
		);
	} else if (doc.status === "Running") {
		frm.dashboard.set_headline(
			__("Loading in the background; this page follows it. You may leave it: the load goes on."),
			"blue"
		);
	} else if (doc.status === "Completed") {
		const unmapped = doc.unmapped
			? __("{0} unmapped (no Employee has their device user's ID: {1})", [
					doc.unmapped,
					`<a class="cams-unmapped-link">${__("see which")}</a>`,
			  ])
			: __("none unmapped");
		frm.dashboard.set_headline(
			__("The whole range was read. {0} punches: {1} new, {2} already stored, {3}, {4} with errors.", [
				doc.rows_received,
				doc.new_punches,
				doc.duplicates,
				unmapped,
				doc.errors,
			]),
			doc.errors || doc.unmapped ? "orange" : "green"
		);
		frm.layout.message.find(".cams-unmapped-link").on("click", () => cams_load_open_unmapped(frm));
	} else {
		frm.dashboard.set_headline(
			__("Stopped before the end of the range: see What Went Wrong below, then Resume to go on from the last page stored."),
			"red"
		);
	}
}

// Follow a load that is queued or running: reload the form when the load's jobs changed it.
function cams_load_watch(frm) {
	clearTimeout(frm.cams_load_timer);
	if (!CAMS_LOAD_ACTIVE.includes(frm.doc.status)) return;
	const name = frm.doc.name;
	const online = frappe.realtime.socket && frappe.realtime.socket.connected;
	frm.cams_load_timer = setTimeout(() => {
		// Stop once the user has moved on; refresh starts again when they come back.
		if (frm.doc.name !== name || frappe.get_route_str() !== `Form/CAMS Load Request/${name}`) return;
		frappe.db
			.get_value("CAMS Load Request", name, "modified")
			.then((r) => {
				const modified = r.message && r.message.modified;
				if (modified && modified !== frm.doc.modified && !frm.is_dirty()) frm.reload_doc();
				else cams_load_watch(frm);
			})
			.catch(() => cams_load_watch(frm));
	}, online ? CAMS_LOAD_POLL_MS.online : CAMS_LOAD_POLL_MS.offline);
}

// LoadLog switched off (StatusCode 15): offer ResendAttendance for the same range.
function cams_biometric_resend(frm) {
	if (!frm.doc.loadlog_unavailable) return;
	if (frm.doc.status === "Resend Requested") {
		frm.dashboard.hide_progress(CAMS_LOAD_PROGRESS_TITLE); // the device resends; no pages here
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
