"""The arguments of the app's whitelisted methods, read in one place.

The desk sends every argument as text (lists and objects as JSON); scripts send JSON values.
These turn either into what a method needs, or refuse it with HTTP 400 (404 for a name that
names nothing) and a message that says which argument is wrong and why. Nothing is written
and nothing is logged as an error: the mistake is the caller's. Values never go into the
messages unescaped (the desk shows them as HTML).
"""

import json
from datetime import date, datetime

import frappe
from frappe import _
from frappe.utils import escape_html, get_datetime

from cams_biometric.protocol.text import USER_ID_ALPHABET, is_user_id

MAX_TEXT = 140


class InvalidArgument(frappe.ValidationError):
	http_status_code = 400


class UnknownName(frappe.DoesNotExistError):
	http_status_code = 404


def refuse(argument: str, problem: str, exc=InvalidArgument):
	frappe.throw(
		_("{0}: {1}").format(frappe.bold(escape_html(argument)), problem), exc, title=_("Invalid argument")
	)


def _json(value, argument: str):
	"""A JSON text decoded; any other value as it is."""
	if not isinstance(value, str):
		return value
	try:
		return json.loads(value)
	except (ValueError, RecursionError):
		refuse(argument, _("not valid JSON"))


def json_object(value, argument: str) -> dict:
	"""An object (dict), or JSON text of one; nothing gives {}."""
	if value in (None, ""):
		return {}
	value = _json(value, argument)
	if not isinstance(value, dict):
		refuse(argument, _("must be a JSON object"))
	return value


def filters(value, argument: str = "filters") -> dict | list:
	"""Filters as Frappe's widgets send them: an object, or a list of conditions (JSON text of
	either); nothing gives {}."""
	if value in (None, ""):
		return {}
	value = _json(value, argument)
	if not isinstance(value, dict | list):
		refuse(argument, _("must be a JSON object or list"))
	return value


def text(value, argument: str, required: bool = True, max_length: int = MAX_TEXT) -> str | None:
	"""A string (trimmed), at most ``max_length`` characters."""
	if value is None or (isinstance(value, str) and not value.strip()):
		if required:
			refuse(argument, _("is required"))
		return None
	if not isinstance(value, str):
		refuse(argument, _("must be text"))
	value = value.strip()
	if len(value) > max_length:
		refuse(argument, _("is longer than {0} characters").format(max_length))
	return value


def text_list(value, argument: str, allow_single: bool = True) -> list[str]:
	"""A list of strings, as a list, JSON text of one, or (``allow_single``) one plain string."""
	if value in (None, "", []):
		return []
	if isinstance(value, str):
		value = _json(value, argument) if value.lstrip().startswith("[") or not allow_single else [value]
	if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
		refuse(argument, _("must be a list of names"))
	return [item.strip() for item in value]


def name(value, doctype: str, argument: str, required: bool = True) -> str | None:
	"""The name of an existing ``doctype`` record."""
	value = text(value, argument, required=required)
	if value is not None and not frappe.db.exists(doctype, value):
		refuse(
			argument,
			_("there is no {0} {1}").format(_(doctype), frappe.bold(escape_html(value))),
			exc=UnknownName,
		)
	return value


def names(value, doctype: str, argument: str) -> list[str]:
	"""Names of existing ``doctype`` records (each once, in the order given)."""
	wanted = list(dict.fromkeys(text_list(value, argument)))
	for item in wanted:
		if len(item) > MAX_TEXT:
			refuse(argument, _("a name is longer than {0} characters").format(MAX_TEXT))
	found = set(frappe.get_all(doctype, filters={"name": ("in", wanted)}, pluck="name")) if wanted else set()
	if unknown := [item for item in wanted if item not in found]:
		refuse(
			argument,
			_("there is no {0} {1}").format(_(doctype), ", ".join(escape_html(item) for item in unknown[:5])),
			exc=UnknownName,
		)
	return wanted


def choice(value, choices, argument: str, required: bool = True) -> str | None:
	value = text(value, argument, required=required)
	if value is not None and value not in choices:
		refuse(argument, _("must be one of {0}").format(", ".join(escape_html(str(c)) for c in choices)))
	return value


def user_id(value, argument: str, required: bool = True) -> str | None:
	"""A device user id: letters, digits, '-', '_' and '.', as devices have them."""
	if isinstance(value, int) and not isinstance(value, bool):
		value = str(value)
	value = text(value, argument, required=required)
	if value is not None and not is_user_id(value):
		refuse(argument, _("a device user id has only {0}").format(USER_ID_ALPHABET))
	return value


def flag(value, argument: str, default: int = 0) -> int:
	"""A yes/no: 1/0, true/false (as JSON or text); nothing gives ``default``."""
	if value in (None, ""):
		return default
	if isinstance(value, bool):
		return int(value)
	if isinstance(value, int) and value in (0, 1):
		return value
	if isinstance(value, str) and value.strip().lower() in ("0", "1", "true", "false"):
		return int(value.strip().lower() in ("1", "true"))
	refuse(argument, _("must be 0 or 1"))


def integer(value, argument: str, minimum: int, maximum: int, default: int | None = None) -> int:
	if value in (None, "") and default is not None:
		return default
	if isinstance(value, str) and value.strip().lstrip("-").isdigit():
		value = int(value.strip())
	if isinstance(value, bool) or not isinstance(value, int):
		refuse(argument, _("must be a whole number"))
	if not minimum <= value <= maximum:
		refuse(argument, _("must be from {0} to {1}").format(minimum, maximum))
	return value


def moment(value, argument: str, required: bool = True) -> datetime | None:
	"""A date and time, as the desk sends it ("2024-09-17 08:00:00") or ISO."""
	if value in (None, ""):
		if required:
			refuse(argument, _("is required"))
		return None
	if isinstance(value, datetime | date):
		return get_datetime(value)
	if not isinstance(value, str) or len(value) > 40:
		refuse(argument, _("must be a date and time, e.g. 2024-09-17 08:00:00"))
	try:
		parsed = get_datetime(value.strip())
	except (ValueError, OverflowError, TypeError):
		parsed = None
	if parsed is None:
		refuse(
			argument, _("{0} is not a date and time (e.g. 2024-09-17 08:00:00)").format(escape_html(value))
		)
	return parsed
