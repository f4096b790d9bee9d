# Copyright (c) 2026, cams_biometric contributors
# For license information, please see license.txt

from frappe.model.document import Document


class CAMSPunchTypeMapping(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		create_checkin: DF.Check
		log_type: DF.Literal["", "IN", "OUT"]
		parent: DF.Data
		parentfield: DF.Data
		parenttype: DF.Data
		punch_type: DF.Literal[
			"CheckIn", "CheckOut", "BreakIn", "BreakOut", "OverTimeIn", "OverTimeOut", "MealIn", "MealOut"
		]
	# end: auto-generated types

	pass
