frappe.listview_settings["CAMS Biometric Device"] = {
	add_fields: ["enabled"],
	get_indicator(doc) {
		return doc.enabled
			? [__("Enabled"), "green", "enabled,=,1"]
			: [__("Disabled"), "gray", "enabled,=,0"];
	},
};
