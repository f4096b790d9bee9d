// Attendance photos on the Employee Checkin form, for those who may see them (HR and System
// Managers: CAMS Attendance Photo's read permission). The JPEG comes from a method that checks
// that permission; the checkin itself carries nothing of it.
frappe.ui.form.on("Employee Checkin", {
	refresh(frm) {
		frm.dashboard.parent.find(".cams-attendance-photos").remove();
		if (frm.is_new() || !frappe.model.can_read("CAMS Attendance Photo")) return;
		const checkin = frm.doc.name;
		frappe
			.call({
				method: "cams_biometric.photos.photos_of_checkin",
				type: "GET",
				args: { checkin },
			})
			.then(({ message: photos }) => {
				// The form may have moved to another checkin meanwhile.
				if (!photos || !photos.length || frm.doc.name !== checkin) return;
				frm.dashboard.parent.find(".cams-attendance-photos").remove();
				const images = photos
					.map((photo) => {
						const src = `/api/method/cams_biometric.photos.photo_image?name=${encodeURIComponent(photo.name)}`;
						const title = __("Taken by {0} at {1}", [photo.device, frappe.datetime.str_to_user(photo.punch_time)]);
						return `<a href="${frappe.utils.get_form_link("CAMS Attendance Photo", photo.name)}"
							title="${frappe.utils.escape_html(title)}">
							<img src="${src}" alt="${__("Attendance photo")}" class="cams-attendance-photo"
								style="max-height: 240px; max-width: 100%; margin-right: var(--margin-md); border-radius: var(--border-radius-md);">
						</a>`;
					})
					.join("");
				frm.dashboard.add_section(images, __("Attendance Photo"), "custom cams-attendance-photos");
				frm.dashboard.show();
			});
	},
});
