# Copyright (c) 2026, cams_biometric contributors
# For license information, please see license.txt

from frappe.model.document import Document


class CAMSDeviceRolloutItem(Document):
	pass
