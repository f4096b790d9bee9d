// Strings a device sends (user ids, names, types, serial numbers, and the texts that quote
// them) are text, never markup: whoever holds a device's AuthToken chooses them. They are
// neutralised where they enter (protocol/text.py), and escaped wherever the desk shows them.
//
// Included by the scripts that show them, with Frappe's include directive (rendered when
// Frappe sends a doctype's or a report's script), so it needs no `bench build`. (Not the
// directive's own words here: Frappe would take them for one.)
frappe.provide("cams_biometric");

// Escaped exactly once, whether or not the value was before: a form's save stores a Data
// field's < and > escaped, and forms escape read-only Data fields themselves.
cams_biometric.esc = function (value) {
	if (value === null || value === undefined) return "";
	return frappe.utils.escape_html(frappe.utils.unescape_html(String(value)));
};

// Frappe formats Data and Small Text values as HTML as they are, in list views, report views
// and read-only form fields alike; a formatter on the field escapes them everywhere.
cams_biometric.escape_fields = function (doctype, fieldnames) {
	const fields = (frappe.meta.docfield_map || {})[doctype] || {};
	fieldnames.forEach((fieldname) => {
		const df = fields[fieldname];
		if (!df) return;
		df.formatter = (value) => {
			const text = cams_biometric.esc(value);
			return df.fieldtype === "Data" ? text : frappe.utils.replace_newlines(text);
		};
	});
};

// A list indicator: [label, colour, filter]; the label is HTML to Frappe.
cams_biometric.indicator = function (label, color, fieldname, value) {
	return [cams_biometric.esc(__(label)), color, `${fieldname},=,${cams_biometric.esc(value)}`];
};

// A query report's cells: text columns escaped before Frappe's formatter (which leaves Data
// as it is); links, numbers and dates are Frappe's to format.
cams_biometric.report_value = function (value, column) {
	const text_types = ["Data", "Small Text", "Text", "Long Text", undefined, null, ""];
	return typeof value === "string" && text_types.includes(column && column.fieldtype)
		? cams_biometric.esc(value)
		: value;
};

// A list's progress column: a bar, and the number beside it, readable (a percent, never text).
cams_biometric.progress_bar = function (value, danger) {
	const percent = Math.round(flt(value));
	return `<div class="d-flex align-items-center" title="${percent}%">
		<div class="progress" style="flex: 1; height: 6px; margin: 0 8px 0 0;">
			<div class="progress-bar ${danger ? "progress-bar-danger" : ""}" style="width: ${percent}%"></div>
		</div><span class="text-muted small">${percent}%</span></div>`;
};
