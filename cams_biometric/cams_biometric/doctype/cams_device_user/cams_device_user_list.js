frappe.listview_settings["CAMS Device User"] = {
	add_fields: ["status"],
	get_indicator(doc) {
		return doc.status === "Deleted"
			? [__("Deleted on Device"), "gray", "status,=,Deleted"]
			: [__("Active"), "green", "status,=,Active"];
	},
};
