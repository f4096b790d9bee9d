// The Employee list: the selected Employees onto a CAMS device, as one rollout.
{% include "cams_biometric/public/js/device_text.js" %}
{% include "cams_biometric/public/js/rollouts.js" %}

frappe.listview_settings["Employee"] = frappe.listview_settings["Employee"] || {};
(function (settings) {
	const onload = settings.onload;
	settings.onload = function (listview) {
		if (onload) onload.apply(this, arguments);
		if (!frappe.user.has_role(["HR Manager", "System Manager"])) return;
		listview.page.add_actions_menu_item(__("Enrol on CAMS Device"), () => {
			const chosen = listview.get_checked_items(true);
			if (!chosen.length) {
				frappe.msgprint(__("Select the Employees to enrol first."));
				return;
			}
			cams_biometric.enrol_employees_dialog(null, chosen);
		});
	};
})(frappe.listview_settings["Employee"]);
