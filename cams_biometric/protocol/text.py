"""Strings a device sends, made fit to store and show.

Whoever holds a device's AuthToken, or stands at its keypad, chooses these strings, and the
desk shows them to HR Managers. So they are made harmless where they enter, besides being
escaped wherever they are shown:

- a device user id has a small, known alphabet (the vendor's examples: "1", "100",
  "User123"): ASCII letters, digits, "-", "_" and "."; anything else is not a user id;
- names, labels, types and the like are text: never markup. Their angle brackets become
  look-alike quotation marks (U+2039, U+203A), so the text reads as sent but can never open a tag, and
  control and direction-override characters are dropped.

The raw JSON of each body keeps what was sent, exactly.
"""

import re

from cams_biometric.protocol import constants as c

USER_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]+")
USER_ID_ALPHABET = "letters, digits, '-', '_' and '.'"
# C0 and C1 controls, zero-width characters, and the bidirectional overrides and isolates
# that make text read differently from what it is ("\u202etxt.exe").
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_SPACES = re.compile(r"\s+")
_NO_MARKUP = str.maketrans({"<": "\u2039", ">": "\u203a"})


def is_user_id(value) -> bool:
	"""True for a string a device uses as a user id."""
	return (
		isinstance(value, str)
		and 0 < len(value) <= c.MAX_USER_ID_LENGTH
		and USER_ID_PATTERN.fullmatch(value) is not None
	)


def user_id_or_none(value) -> str | None:
	"""The user id of a row that is stored even though it is broken: kept only when it is one."""
	if isinstance(value, int) and not isinstance(value, bool):
		value = str(value)
	if not isinstance(value, str):
		return None
	value = value.strip()
	return value if is_user_id(value) else None


def plain_text(value, max_length: int = 140) -> str | None:
	"""A device's text as one line that is no markup, at most ``max_length`` characters;
	None for nothing, or for an object or a list."""
	if value is None or isinstance(value, dict | list):
		return None
	text = _SPACES.sub(" ", _INVISIBLE.sub(" ", str(value))).translate(_NO_MARKUP).strip()
	return text[:max_length] or None


def no_markup(text: str | None) -> str | None:
	"""A longer text (an error that quotes what a device sent) with its lines kept, no markup."""
	if text is None:
		return None
	lines = (_SPACES.sub(" ", _INVISIBLE.sub(" ", line)).strip() for line in str(text).splitlines())
	return "\n".join(line for line in lines if line).translate(_NO_MARKUP) or None
