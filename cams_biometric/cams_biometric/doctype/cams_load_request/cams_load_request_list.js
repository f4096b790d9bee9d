const CAMS_LOAD_COLORS = {
	Queued: "gray",
	Running: "blue",
	Completed: "green",
	"Partially Completed": "orange",
	Failed: "red",
	"Resend Requested": "purple",
};

frappe.listview_settings["CAMS Load Request"] = {
	add_fields: ["status"],
	get_indicator(doc) {
		return [__(doc.status), CAMS_LOAD_COLORS[doc.status] || "gray", `status,=,${doc.status}`];
	},
};
