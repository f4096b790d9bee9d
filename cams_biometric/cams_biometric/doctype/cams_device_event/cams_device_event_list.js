frappe.listview_settings["CAMS Device Event"] = {
	add_fields: ["event_type"],
	get_indicator(doc) {
		const color = doc.event_type === "Unknown" ? "orange" : "blue";
		return [__(doc.event_type), color, `event_type,=,${doc.event_type}`];
	},
};
