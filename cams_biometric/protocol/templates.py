"""A device user's state from UserUpdated (#3-#9) and UserDeleted (#1) callbacks, as pure functions.

Templates arrive one or a few at a time (a face can take 10-15 callbacks), so a callback is
never the whole set: it is merged in, keyed by Type + Index (Type alone for Card, Password
and UserPhoto). Callbacks can also arrive late and out of order, so each carries an
OperationTime, and one older than the stored state does not overwrite what is newer:

- an older UserUpdated adds only templates whose key is not stored yet (a template enrolled
  before the newest one, arriving after it), and leaves the names and every stored template
  alone; after a newer deletion it changes nothing;
- a UserDeleted marks the user deleted on that device, unless the state is newer;
- a UserUpdated newer than a deletion brings the user back with only its own templates (the
  device deleted the old ones).

The state is a plain dict (JSON-ready for a Frappe field); the functions never mutate their
arguments.
"""

import copy

from cams_biometric.protocol import constants as c
from cams_biometric.protocol.logtime import LogTimeError, parse_logtime

# Keys of the state dict (besides the UserUpdated fields it copies: FirstName, LastName, UserType)
TEMPLATES = "Templates"
DELETED = "Deleted"
USER_FIELDS = (c.FIRST_NAME, c.LAST_NAME, c.USER_TYPE)

# What one user can really hold on a device, so that no device (nor anyone holding its token)
# can grow a user's kept state without limit: the documented types; indexes 0-15 (ten
# fingers; a face enrolled in up to 15 parts); templates of 1-20 KB (the vendor's figure),
# Base64, with room to spare; and all of a user's template data together.
MAX_TEMPLATE_INDEX = 15
MAX_TEMPLATE_CHARS = 64 * 1024
MAX_USER_TEMPLATE_CHARS = 512 * 1024


def _index(value) -> str:
	"""Index as the device means it: "0", 0 and " 0 " are the same; missing means 0."""
	if value is None or (isinstance(value, str) and not value.strip()):
		return c.DEFAULT_TEMPLATE_INDEX
	text = str(value).strip()
	return str(int(text)) if text.lstrip("-").isdigit() else text


def template_key(template: dict) -> tuple[str, str | None]:
	"""The merge key of a template: (Type, Index), or (Type, None) for Card, Password, UserPhoto."""
	template_type = str(template.get(c.TEMPLATE_TYPE) or "")
	if template_type in c.UNINDEXED_TEMPLATE_TYPES:
		return template_type, None
	return template_type, _index(template.get(c.TEMPLATE_INDEX))


def _data_length(template: dict) -> int:
	data = template.get(c.TEMPLATE_DATA)
	return len(data) if isinstance(data, str) else len(str(data)) if data is not None else 0


def refusal(template) -> str | None:
	"""Why ``template`` cannot be kept for a user, whatever else they hold; None when it can."""
	if not isinstance(template, dict) or not template.get(c.TEMPLATE_TYPE):
		return "not a template object with a Type"
	template_type, index = template_key(template)
	if template_type not in c.TEMPLATE_TYPES:
		return f"unknown template type {template_type[:40]!r}"
	label = template_type if index is None else f"{template_type} {index[:20]}"
	if index is not None and not (index.isdigit() and 0 <= int(index) <= MAX_TEMPLATE_INDEX):
		return f"{label}: the Index must be a number from 0 to {MAX_TEMPLATE_INDEX}"
	if (size := _data_length(template)) > MAX_TEMPLATE_CHARS:
		return f"{label}: {size} characters, more than the {MAX_TEMPLATE_CHARS} a template may have"
	return None


def bound_update(state: dict | None, update: dict) -> tuple[dict, list[str]]:
	"""``update`` with only the templates that may be kept on top of ``state``, and why each
	of the others may not: see refusal(), and at most MAX_USER_TEMPLATE_CHARS of template
	data per user once merged."""
	if not isinstance(update, dict) or not isinstance(update.get(c.TEMPLATE), list):
		return update, []
	stored = {
		template_key(t): _data_length(t) for t in (state or {}).get(TEMPLATES) or [] if isinstance(t, dict)
	}
	kept, refused = [], []
	for template in update[c.TEMPLATE]:
		if reason := refusal(template):
			refused.append(reason)
			continue
		key = template_key(template)
		size = _data_length(template)
		if sum(stored.values()) - stored.get(key, 0) + size > MAX_USER_TEMPLATE_CHARS:
			label = key[0] if key[1] is None else f"{key[0]} {key[1]}"
			refused.append(
				f"{label}: the user's templates would exceed the {MAX_USER_TEMPLATE_CHARS} characters kept per user"
			)
			continue
		stored[key] = size
		kept.append(template)
	return {**update, c.TEMPLATE: kept}, refused


def merge_templates(
	stored: list[dict] | None, incoming: list[dict] | None, *, overwrite: bool = True
) -> list[dict]:
	"""Upsert ``incoming`` into ``stored`` by template_key, never dropping a stored template.

	A replaced template keeps its place; new ones are appended in their order. With
	``overwrite`` false (an older callback), templates already stored are kept as they are.
	Entries that are not objects with a Type are skipped.
	"""
	merged = [copy.deepcopy(t) for t in stored or [] if isinstance(t, dict)]
	position = {template_key(t): i for i, t in enumerate(merged)}
	for template in incoming or []:
		if not isinstance(template, dict) or not template.get(c.TEMPLATE_TYPE):
			continue
		key = template_key(template)
		if key in position:
			if overwrite:
				merged[position[key]] = copy.deepcopy(template)
		else:
			position[key] = len(merged)
			merged.append(copy.deepcopy(template))
	return merged


def operation_time(event: dict | None):
	"""The aware instant of an event's (or a state's) OperationTime, or None when absent or unreadable."""
	if not isinstance(event, dict):
		return None
	try:
		return parse_logtime(event.get(c.OPERATION_TIME))
	except LogTimeError:
		return None


def _is_older(event: dict, state: dict | None) -> bool:
	"""True when ``event`` happened before the stored state. Without both times, it is not."""
	event_time, state_time = operation_time(event), operation_time(state)
	return event_time is not None and state_time is not None and event_time < state_time


def apply_user_update(state: dict | None, update: dict) -> dict:
	"""The user's state after a UserUpdated event (the object under RealTime.UserUpdated)."""
	state = copy.deepcopy(state) if isinstance(state, dict) else {}
	if not isinstance(update, dict):
		return state
	incoming = update.get(c.TEMPLATE)
	incoming = incoming if isinstance(incoming, list) else []
	if _is_older(update, state):
		if state.get(DELETED):
			return state  # deleted after this update was made: nothing of it survives
		state[TEMPLATES] = merge_templates(state.get(TEMPLATES), incoming, overwrite=False)
		return state
	if state.get(DELETED):
		state[TEMPLATES] = []
	state[DELETED] = False
	user_id = update.get(c.USER_ID)
	if user_id is not None:
		state[c.USER_ID] = str(user_id)
	for key in USER_FIELDS:
		if key in update:
			state[key] = update[key]
	if update.get(c.OPERATION_TIME) is not None and operation_time(update) is not None:
		state[c.OPERATION_TIME] = update[c.OPERATION_TIME]
	state[TEMPLATES] = merge_templates(state.get(TEMPLATES), incoming)
	return state


def apply_user_deleted(state: dict | None, deleted: dict) -> dict:
	"""The user's state after a UserDeleted event: marked deleted, unless the state is newer."""
	state = copy.deepcopy(state) if isinstance(state, dict) else {}
	if not isinstance(deleted, dict) or _is_older(deleted, state):
		return state
	state[DELETED] = True
	if deleted.get(c.USER_ID) is not None:
		state[c.USER_ID] = str(deleted[c.USER_ID])
	if operation_time(deleted) is not None:
		state[c.OPERATION_TIME] = deleted[c.OPERATION_TIME]
	state.setdefault(TEMPLATES, [])
	return state


def apply_user_event(state: dict | None, event_key: str, event: dict) -> dict:
	"""Apply a UserUpdated or UserDeleted event by its RealTime key; others leave the state as it is."""
	if event_key == c.USER_UPDATED:
		return apply_user_update(state, event)
	if event_key == c.USER_DELETED:
		return apply_user_deleted(state, event)
	return copy.deepcopy(state) if isinstance(state, dict) else {}
