const CAMS_COMMAND_COLORS = { Queued: "orange", Sent: "blue", Done: "green", Failed: "red" };

frappe.listview_settings["CAMS Device Command"] = {
	add_fields: ["status"],
	get_indicator(doc) {
		return [__(doc.status), CAMS_COMMAND_COLORS[doc.status] || "gray", `status,=,${doc.status}`];
	},
};
