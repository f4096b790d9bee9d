"""UserUpdated / UserDeleted merge rules, as pure functions."""

import copy
from itertools import permutations

import pytest

from cams_biometric.protocol.templates import (
	DELETED,
	MAX_TEMPLATE_CHARS,
	MAX_TEMPLATE_INDEX,
	MAX_USER_TEMPLATE_CHARS,
	TEMPLATES,
	apply_user_deleted,
	apply_user_event,
	apply_user_update,
	bound_update,
	merge_templates,
	template_key,
)

MERGE_SEQUENCE = ["callback-user-merge-1.json", "callback-user-merge-2.json", "callback-user-merge-3.json"]


def projected(templates: list[dict]) -> list[dict]:
	"""Only the fields user-merge-expected.json names."""
	return [{k: t[k] for k in ("Type", "Index", "Data") if k in t} for t in templates]


def updates(payload, names=MERGE_SEQUENCE) -> list[dict]:
	return [payload(name)["RealTime"]["UserUpdated"] for name in names]


def test_the_vendors_three_callbacks_end_with_fingerprint_face_and_card(payload):
	state = None
	for update in updates(payload):
		state = apply_user_update(state, update)
	assert projected(state[TEMPLATES]) == payload("user-merge-expected.json")["templates"]
	assert state["UserID"] == "7" and state["FirstName"] == "Asha" and state[DELETED] is False
	assert state["OperationTime"] == "2024-09-17 09:10:00 GMT +0530"


@pytest.mark.parametrize("order", list(permutations(range(3))))
def test_any_arrival_order_ends_the_same(payload, order):
	sequence = updates(payload)
	state = None
	for i in order:
		state = apply_user_update(state, sequence[i])
	expected = payload("user-merge-expected.json")["templates"]
	key = lambda t: (t["Type"], t.get("Index", ""))  # noqa: E731
	assert sorted(projected(state[TEMPLATES]), key=key) == sorted(expected, key=key)
	assert state["OperationTime"] == "2024-09-17 09:10:00 GMT +0530"


def test_applying_again_changes_nothing_and_inputs_are_not_mutated(payload):
	sequence = updates(payload)
	before = copy.deepcopy(sequence)
	state = None
	for update in sequence:
		state = apply_user_update(state, update)
	frozen = copy.deepcopy(state)
	for update in sequence:
		assert apply_user_update(state, update)[TEMPLATES] == state[TEMPLATES]
	assert state == frozen and sequence == before


def test_keys_type_and_index_or_type_alone():
	assert template_key({"Type": "Fingerprint", "Index": "0"}) == ("Fingerprint", "0")
	assert template_key({"Type": "Fingerprint", "Index": 0}) == ("Fingerprint", "0")
	assert template_key({"Type": "Fingerprint"}) == ("Fingerprint", "0")  # "zero if not sure"
	assert template_key({"Type": "Face", "Index": " 03 "}) == ("Face", "3")
	for unindexed in ("Card", "Password", "UserPhoto"):
		assert template_key({"Type": unindexed, "Index": "4"}) == (unindexed, None)


def test_merge_upserts_and_never_drops():
	stored = [
		{"Type": "Fingerprint", "Index": "0", "Data": "a"},
		{"Type": "Fingerprint", "Index": "1", "Data": "b"},
		{"Type": "Card", "Data": "111"},
	]
	incoming = [
		{"Type": "Card", "Index": "2", "Data": "222"},  # Card: one per user, whatever the Index
		{"Type": "Fingerprint", "Index": 1, "Data": "b2"},
		{"Type": "Password", "Data": "9999"},
		"not a template",
		{"Data": "no type"},
	]
	merged = merge_templates(stored, incoming)
	assert [(t["Type"], t["Data"]) for t in merged] == [
		("Fingerprint", "a"),
		("Fingerprint", "b2"),
		("Card", "222"),
		("Password", "9999"),
	]
	assert stored[2]["Data"] == "111"  # not mutated
	kept = merge_templates(stored, incoming, overwrite=False)
	assert [(t["Type"], t["Data"]) for t in kept] == [
		("Fingerprint", "a"),
		("Fingerprint", "b"),
		("Card", "111"),
		("Password", "9999"),
	]
	assert merge_templates(None, None) == []


def user_update(time: str, *templates: dict, first_name="Asha") -> dict:
	return {"UserID": "7", "FirstName": first_name, "OperationTime": time, "Template": list(templates)}


FP_OLD = {"Type": "Fingerprint", "Index": "0", "Data": "old"}
FP_NEW = {"Type": "Fingerprint", "Index": "0", "Data": "new"}
FACE = {"Type": "Face", "Index": "0", "Data": "face"}


def test_an_older_update_does_not_overwrite_newer_data():
	state = apply_user_update(None, user_update("2024-09-17 09:10:00 GMT +0530", FP_NEW, first_name="New"))
	# 09:00 IST is before 09:10 IST: the old fingerprint and name do not come back; the face it
	# carried was not stored, so it is added.
	state = apply_user_update(
		state, user_update("2024-09-17 09:00:00 GMT +0530", FP_OLD, FACE, first_name="Old")
	)
	assert [t["Data"] for t in state[TEMPLATES]] == ["new", "face"]
	assert state["FirstName"] == "New" and state["OperationTime"] == "2024-09-17 09:10:00 GMT +0530"


def test_instants_are_compared_not_strings():
	state = apply_user_update(None, user_update("2024-09-17 09:10:00 GMT +0530", FP_OLD))
	# 04:00 UTC is 09:30 IST: newer, although its text sorts first.
	state = apply_user_update(state, user_update("2024-09-17 04:00:00 GMT +0000", FP_NEW))
	assert [t["Data"] for t in state[TEMPLATES]] == ["new"]
	# 03:00 UTC is 08:30 IST: older than the 09:30 IST state.
	state = apply_user_update(state, user_update("2024-09-17 03:00:00 GMT +0000", FP_OLD))
	assert [t["Data"] for t in state[TEMPLATES]] == ["new"]


def test_without_a_readable_time_an_update_applies():
	state = apply_user_update(None, user_update("2024-09-17 09:10:00 GMT +0530", FP_OLD))
	state = apply_user_update(state, user_update("garbage", FP_NEW))
	assert [t["Data"] for t in state[TEMPLATES]] == ["new"]
	assert state["OperationTime"] == "2024-09-17 09:10:00 GMT +0530"


def test_user_deleted_marks_the_user_deleted(payload):
	deleted = payload("callback-user-deleted.json")["RealTime"]["UserDeleted"]  # 09:01 IST
	state = apply_user_update(None, user_update("2024-09-17 09:00:00 GMT +0530", FP_OLD))
	state = apply_user_event(state, "UserDeleted", deleted)
	assert state[DELETED] is True and state["OperationTime"] == deleted["OperationTime"]
	# An update made before the deletion, arriving after it, brings nothing back.
	assert apply_user_update(state, user_update("2024-09-17 08:59:00 GMT +0530", FACE)) == state
	# One made after it: the user is back, with only the templates enrolled since.
	again = apply_user_event(state, "UserUpdated", user_update("2024-09-17 09:02:00 GMT +0530", FACE))
	assert again[DELETED] is False and [t["Type"] for t in again[TEMPLATES]] == ["Face"]
	# A deletion older than the state is ignored.
	assert apply_user_deleted(again, deleted) == again
	assert apply_user_event(again, "DateModified", {}) == again


def test_a_deletion_first_then_an_older_update(payload):
	deleted = payload("callback-user-deleted.json")["RealTime"]["UserDeleted"]
	state = apply_user_deleted(None, deleted)
	assert state == {DELETED: True, "UserID": "7", "OperationTime": deleted["OperationTime"], TEMPLATES: []}
	assert apply_user_update(state, user_update("2024-09-17 09:00:00 GMT +0530", FP_OLD)) == state


# -- what is kept per user is bounded -----------------------------------------------------------
def face(index, size=100) -> dict:
	return {"Type": "Face", "UserID": "7", "Index": index, "Data": "F" * size}


def test_templates_a_device_can_hold_are_kept():
	update = {"UserID": "7", "Template": [face("0"), face(" 15 "), {"Type": "Card", "Data": "4000"}]}
	bounded, refused = bound_update(None, update)
	assert refused == [] and bounded["Template"] == update["Template"]


def test_unknown_types_odd_indexes_and_oversized_templates_are_refused_saying_why():
	update = {
		"UserID": "7",
		"Template": [
			face("x0"),
			face("16"),
			face("-1"),
			face("1", MAX_TEMPLATE_CHARS + 1),
			{"Type": "Tattoo", "Data": "T"},
			face("2"),
		],
	}
	bounded, refused = bound_update({}, update)
	assert bounded["Template"] == [face("2")]
	assert len(refused) == 5
	assert "Face x0: the Index must be a number from 0 to 15" in refused[0]
	assert "more than the 65536" in refused[3]
	assert "unknown template type 'Tattoo'" in refused[4]


def test_a_users_templates_together_stay_under_the_bound_and_a_replacement_counts_once():
	size = MAX_TEMPLATE_CHARS
	state = None
	refused_all = []
	for index in range(MAX_TEMPLATE_INDEX + 1):
		bounded, refused = bound_update(state, {"UserID": "7", "Template": [face(str(index), size)]})
		state = apply_user_update(state, bounded)
		refused_all += refused
	kept = sum(len(t["Data"]) for t in state[TEMPLATES])
	assert kept <= MAX_USER_TEMPLATE_CHARS
	assert len(state[TEMPLATES]) == MAX_USER_TEMPLATE_CHARS // size
	assert refused_all and "kept per user" in refused_all[0]
	# Replacing a kept template with one of the same size is no growth.
	bounded, refused = bound_update(state, {"UserID": "7", "Template": [face("0", size)]})
	assert refused == [] and len(bounded["Template"]) == 1
