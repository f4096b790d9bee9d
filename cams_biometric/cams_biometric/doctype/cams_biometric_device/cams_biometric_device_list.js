{% include "cams_biometric/public/js/device_text.js" %}

// device_information.OFFLINE_AFTER_HOURS: the gateway has not seen the device for this long.
const CAMS_OFFLINE_AFTER_HOURS = 24;

frappe.listview_settings["CAMS Biometric Device"] = {
	add_fields: ["enabled", "reported_serial_number", "gateway_last_connected"],
	get_indicator(doc) {
		if (!doc.enabled) return cams_biometric.indicator("Disabled", "gray", "enabled", 0);
		if (
			doc.gateway_last_connected &&
			// Site time against site time, not the browser's clock and zone.
			moment(frappe.datetime.system_datetime(true)).diff(moment(doc.gateway_last_connected), "hours", true) >
				CAMS_OFFLINE_AFTER_HOURS
		) {
			return cams_biometric.indicator("Offline", "red", "enabled", 1);
		}
		if (doc.reported_serial_number) {
			return [cams_biometric.esc(__("Serial Number Differs")), "orange", "reported_serial_number,is,set"];
		}
		return cams_biometric.indicator("Enabled", "green", "enabled", 1);
	},
};

// What the device and the gateway report about it.
cams_biometric.escape_fields("CAMS Biometric Device", [
	"device_label",
	"serial_number",
	"reported_serial_number",
	"aes_key_derivation",
	"device_model",
	"manufacturer",
	"mac_address",
	"device_information_error",
]);
