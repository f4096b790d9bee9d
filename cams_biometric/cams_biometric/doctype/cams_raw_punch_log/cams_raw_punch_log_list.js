{% include "cams_biometric/public/js/device_text.js" %}

const CAMS_RAW_PUNCH_COLORS = {
	Pending: "orange",
	Processed: "green",
	Duplicate: "gray",
	Unmapped: "yellow",
	Ignored: "light-gray",
	Error: "red",
};

frappe.listview_settings["CAMS Raw Punch Log"] = {
	add_fields: ["status"],
	has_indicator_for_draft: true,
	// The name is a hash that tells nothing; its column is better spent on time and employee.
	hide_name_column: true,
	formatters: {
		// To the minute, so the column fits on a laptop screen; the seconds are in the tooltip
		// and on the form.
		punch_time(value) {
			if (!value) return "";
			// As Frappe's own Datetime formatter: in the user's time zone, in the site's format.
			const shown = moment(frappe.datetime.convert_to_user_tz(value));
			const date_format = frappe.boot.sysdefaults.date_format.toUpperCase();
			const time_format = frappe.boot.sysdefaults.time_format || "HH:mm:ss";
			return `<span title="${shown.format(`${date_format} ${time_format}`)}">${shown.format(
				`${date_format} HH:mm`
			)}</span>`;
		},
	},
	get_indicator(doc) {
		return cams_biometric.indicator(doc.status, CAMS_RAW_PUNCH_COLORS[doc.status] || "gray", "status", doc.status);
	},
	onload(listview) {
		if (!frappe.model.can_write("CAMS Raw Punch Log")) return;
		listview.page.add_action_item(__("Reprocess"), () => {
			const names = listview.get_checked_items(true);
			if (!names.length) {
				frappe.msgprint(__("Select the Pending, Unmapped, Error or Ignored punches to reprocess."));
				return;
			}
			cams_biometric.reprocess(names, () => listview.refresh());
		});
	},
};

// What the device sent, and the texts that quote it (a punch in Error says why).
cams_biometric.escape_fields("CAMS Raw Punch Log", [
	"device_user_id",
	"employee_name",
	"punch_type",
	"input_type",
	"log_time",
	"operation_id",
	"error",
]);
