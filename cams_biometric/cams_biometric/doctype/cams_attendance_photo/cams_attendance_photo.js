// Copyright (c) 2026, cams_biometric contributors
// For license information, please see license.txt

frappe.ui.form.on("CAMS Attendance Photo", {
	refresh(frm) {
		// The encrypted field never reaches the browser; the JPEG comes from a method that checks
		// the permission to read this record.
		const src = `/api/method/cams_biometric.photos.photo_image?name=${encodeURIComponent(frm.doc.name)}`;
		frm.get_field("photo_html").$wrapper.html(
			`<img src="${src}" alt="${__("Attendance photo")}"
				style="max-width: 100%; max-height: 360px; border-radius: var(--border-radius-md);">`
		);
	},
});
