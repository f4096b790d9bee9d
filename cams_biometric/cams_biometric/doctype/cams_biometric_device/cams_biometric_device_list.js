frappe.listview_settings["CAMS Biometric Device"] = {
	add_fields: ["enabled", "reported_serial_number"],
	get_indicator(doc) {
		if (!doc.enabled) return [__("Disabled"), "gray", "enabled,=,0"];
		if (doc.reported_serial_number) {
			return [__("Serial Number Differs"), "orange", "reported_serial_number,is,set"];
		}
		return [__("Enabled"), "green", "enabled,=,1"];
	},
};
