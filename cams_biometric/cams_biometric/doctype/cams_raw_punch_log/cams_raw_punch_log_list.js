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
			const user_format = frappe.datetime.get_user_date_fmt().toUpperCase();
			const full = frappe.datetime.str_to_user(value);
			return `<span title="${full}">${moment(value).format(`${user_format} HH:mm`)}</span>`;
		},
	},
	get_indicator(doc) {
		return [__(doc.status), CAMS_RAW_PUNCH_COLORS[doc.status] || "gray", `status,=,${doc.status}`];
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
