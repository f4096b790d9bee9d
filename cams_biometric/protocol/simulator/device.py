"""The simulated device's state: its users (with templates, access and an access window), its
punch log, its attendance photos and its capacity, and the RESTful operations on them.

Each operation returns the StatusCode the device would answer (0, or 1 for a malformed
request, 8 user exists, 9 user not found, 10 template error, 11 memory full), plus the
callbacks it causes (Resend, Enroll), which the server posts to the callback URL.
"""

import bisect
import copy
import itertools
import random
import threading
from datetime import date as date_type
from datetime import datetime, timedelta, timezone

from cams_biometric.protocol import constants as c
from cams_biometric.protocol.logtime import LogTimeError, format_logtime, parse_logtime
from cams_biometric.protocol.templates import merge_templates, template_key

# A working day's punches: (type, hour, minute) around which each user punches.
DAY_PLAN = {
	1: [("CheckIn", 9, 0)],
	2: [("CheckIn", 9, 0), ("CheckOut", 18, 0)],
	4: [("CheckIn", 9, 0), ("BreakOut", 13, 0), ("BreakIn", 13, 45), ("CheckOut", 18, 0)],
	6: [
		("CheckIn", 9, 0),
		("BreakOut", 11, 0),
		("BreakIn", 11, 15),
		("MealOut", 13, 0),
		("MealIn", 13, 45),
		("CheckOut", 18, 0),
	],
}
INPUT_TYPES = ("Fingerprint", "Face", "Card", "Palm")

OK = 0
INVALID_REQUEST_DATA = 1
USER_EXISTS = 8
USER_NOT_FOUND = 9
TEMPLATE_ERROR = 10
MEMORY_FULL = 11

# Callbacks an operation causes: (RealTime event key, event object).
Callback = tuple[str, dict]


def generate_punches(
	users: int,
	days: int,
	per_day: int = 4,
	end: datetime | None = None,
	utc_offset: timedelta = timedelta(hours=5, minutes=30),
	seed: int = 1,
	user_ids: list[str] | None = None,
) -> list[dict]:
	"""A deterministic punch set, as LoadLog rows, sorted by time.

	``users`` users punch ``per_day`` times on each of the ``days`` days before ``end``
	(default: now), at the device's ``utc_offset``. A user's punches on a day depend on the
	user, the date and the seed only (see ``day_punches``), so two sets that share a day
	(``send --days 1`` and ``serve --days 3``) agree about it, as one device would.
	"""
	if per_day not in DAY_PLAN:
		raise ValueError(f"per_day must be one of {sorted(DAY_PLAN)}")
	zone = timezone(utc_offset)
	end = (end or datetime.now(timezone.utc)).astimezone(zone)
	user_ids = user_ids or [str(1000 + i) for i in range(users)]
	rows = []
	for day in range(days, 0, -1):
		date = (end - timedelta(days=day)).date()
		for index, user_id in enumerate(user_ids):
			rows.extend(day_punches(user_id, date, per_day, zone, seed, second=index % 60))
	rows.sort(key=lambda row: parse_logtime(row["LogTime"]))
	return rows


def day_punches(
	user_id: str, date: date_type, per_day: int, zone: timezone, seed: int = 1, second: int = 0
) -> list[dict]:
	"""One user's punches on one date, in the order of ``DAY_PLAN[per_day]``.

	Drawn from a generator seeded by (seed, user, date), never by the day's place in a range.
	Each punch moves by up to 20 minutes from the plan, less where the plan's punches are
	closer, so the day keeps its order and no two punches of the user share an instant.
	``second`` (the user's place in the list) spreads users over distinct seconds.
	"""
	plan = DAY_PLAN[per_day]
	rng = random.Random(f"{seed}/{user_id}/{date.isoformat()}")
	minutes = [hour * 60 + minute for _, hour, minute in plan]
	gaps = [b - a for a, b in itertools.pairwise(minutes)]
	rows = []
	for i, (punch_type, hour, minute) in enumerate(plan):
		# Half the gap to either neighbour, less a minute: neighbours never meet nor cross.
		near = [gaps[j] for j in (i - 1, i) if 0 <= j < len(gaps)]
		spread = min([20] + [gap // 2 - 1 for gap in near])
		jitter = timedelta(minutes=rng.randint(-spread, spread), seconds=second)
		moment = datetime(date.year, date.month, date.day, hour, minute, tzinfo=zone) + jitter
		rows.append(
			{
				"Type": punch_type,
				"InputType": rng.choice(INPUT_TYPES),
				"UserID": user_id,
				"LogTime": format_logtime(moment),
			}
		)
	return rows


def _text(value) -> str | None:
	if isinstance(value, int) and not isinstance(value, bool):
		return str(value)
	return value if isinstance(value, str) and value.strip() else None


class Device:
	"""A device's state. Thread-safe: every operation holds ``self.lock``."""

	def __init__(
		self,
		punches: list[dict] | None = None,
		*,
		max_users: int = 10000,
		max_templates: int = 50000,
		max_logs: int = 500000,
		template_types: tuple[str, ...] = c.TEMPLATE_TYPES,
		utc_offset: timedelta = timedelta(hours=5, minutes=30),
	):
		self.lock = threading.RLock()
		self.max_users = max_users
		self.max_templates = max_templates
		self.max_logs = max_logs
		self.template_types = tuple(template_types)  # the readers this model has
		self.utc_offset = utc_offset
		self.users: dict[str, dict] = {}
		self.photos: list[dict] = []
		# Until a user is added, the punch log's users count as registered (a log-only device).
		self.users_managed = False
		self.set_punches(punches or [])

	# -- state ---------------------------------------------------------------------------
	def set_punches(self, punches: list[dict]):
		timed = sorted(((parse_logtime(row["LogTime"]), i, row) for i, row in enumerate(punches)))
		with self.lock:
			self.punches = [row for _, _, row in timed]
			# Parsed once: a LoadLog page is found by bisection, not by parsing the whole log.
			self.instants = [instant for instant, _, _ in timed]

	def punches_between(self, start: datetime, end: datetime) -> list[dict]:
		with self.lock:
			return self.punches[
				bisect.bisect_left(self.instants, start) : bisect.bisect_right(self.instants, end)
			]

	def punch_now(self, user_id: str, punch_type: str, input_type: str = "Fingerprint") -> dict:
		"""A punch at the device's clock now, added to its log; returns the LoadLog row."""
		moment = datetime.now(timezone(self.utc_offset)).replace(microsecond=0)
		with self.lock:
			if self.instants and moment <= self.instants[-1]:
				moment = self.instants[-1] + timedelta(seconds=1)  # instants stay distinct
			row = {
				"Type": punch_type,
				"InputType": input_type,
				"UserID": user_id,
				"LogTime": format_logtime(moment),
			}
			self.punches.append(row)
			self.instants.append(moment)
		return row

	def add_photo(self, user_id: str, log_time: str, photo: str):
		with self.lock:
			self.photos.append({c.USER_ID: user_id, c.LOG_TIME: log_time, "LogPhoto": photo})

	def _add_user(self, user_id: str, user: dict, user_type: str, templates: list):
		self.users_managed = True
		self.users[user_id] = {
			c.USER_ID: user_id,
			c.FIRST_NAME: user.get(c.FIRST_NAME) or "",
			c.LAST_NAME: user.get(c.LAST_NAME) or "",
			c.USER_TYPE: user_type,
			c.TEMPLATE: templates,
			c.ACCESS: c.ACCESS_ENABLE,
			c.ACCESS_TIME: None,
		}

	def template_count(self) -> int:
		with self.lock:
			return sum(len(user[c.TEMPLATE]) for user in self.users.values())

	def now(self) -> str:
		return format_logtime(datetime.now(timezone(self.utc_offset)).replace(microsecond=0))

	def user_event(self, user: dict) -> dict:
		"""A UserUpdated event with the user's whole record."""
		return {
			c.USER_ID: user[c.USER_ID],
			c.FIRST_NAME: user[c.FIRST_NAME],
			c.LAST_NAME: user[c.LAST_NAME],
			c.USER_TYPE: user[c.USER_TYPE],
			c.OPERATION_TIME: self.now(),
			c.TEMPLATE: copy.deepcopy(user[c.TEMPLATE]),
		}

	def device_information(self) -> dict:
		with self.lock:
			if self.users_managed:
				users = len(self.users)
			else:
				users = len({row.get("UserID") for row in self.punches})
			templates = [t for user in self.users.values() for t in user[c.TEMPLATE]]
		faces = sum(1 for t in templates if t.get(c.TEMPLATE_TYPE) == c.FACE)
		fingers = sum(1 for t in templates if t.get(c.TEMPLATE_TYPE) == c.FINGERPRINT)
		return {
			"DeviceModel": "SIM-1",
			"Manufacturer": "cams_biometric simulator",
			"MacAddress": "02:00:00:00:00:01",
			"LastConnectedTime": self.now(),
			"RegisteredUsers": str(users),
			"RegisteredFaces": str(faces),
			"ReigsteredFingerprints": str(fingers),  # sic: the vendor's spelling
			"MaximumUsersSupported": str(self.max_users),
			"MaximumTemplatesSupported": str(self.max_templates),
			"MaximumAttendanceLogsSupported": str(self.max_logs),
		}

	# -- templates -----------------------------------------------------------------------
	def _check_templates(self, templates, user_id: str) -> tuple[int, list[dict]]:
		if templates is None:
			return OK, []
		if not isinstance(templates, list):
			return TEMPLATE_ERROR, []
		checked = []
		for template in templates:
			if not isinstance(template, dict):
				return TEMPLATE_ERROR, []
			if template.get(c.TEMPLATE_TYPE) not in self.template_types:
				return TEMPLATE_ERROR, []
			if not _text(template.get(c.TEMPLATE_DATA)):
				return TEMPLATE_ERROR, []
			owner = template.get(c.USER_ID, user_id)
			if _text(owner) != user_id:
				return TEMPLATE_ERROR, []
			stored = {**template, c.USER_ID: user_id}
			checked.append(stored)
		keys = [template_key(t) for t in checked]
		if len(set(keys)) != len(keys):
			return TEMPLATE_ERROR, []
		return OK, checked

	# -- operations ----------------------------------------------------------------------
	def add(self, add) -> tuple[int, list[Callback]]:
		"""Add (#14-#28): a user with or without templates, or templates for an existing user."""
		if not isinstance(add, dict):
			return INVALID_REQUEST_DATA, []
		user = add.get(c.USER)
		templates = add.get(c.TEMPLATE)
		with self.lock:
			if user is None:  # "Add User Photo" and other templates for a user the device has
				if not isinstance(templates, list) or not templates or not isinstance(templates[0], dict):
					return INVALID_REQUEST_DATA, []
				user_id = _text(templates[0].get(c.USER_ID))
				if user_id is None:
					return INVALID_REQUEST_DATA, []
				if user_id not in self.users:
					return USER_NOT_FOUND, []
				status, checked = self._check_templates(templates, user_id)
				if status:
					return status, []
				stored = self.users[user_id][c.TEMPLATE]
				merged = merge_templates(stored, checked)
				if self.template_count() - len(stored) + len(merged) > self.max_templates:
					return MEMORY_FULL, []
				self.users[user_id][c.TEMPLATE] = merged
				# The device reports the templates it took, as after an enrolment at the reader.
				return OK, [(c.USER_UPDATED, {**self.user_event(self.users[user_id]), c.TEMPLATE: checked})]
			if not isinstance(user, dict) or _text(user.get(c.USER_ID)) is None:
				return INVALID_REQUEST_DATA, []
			user_id = _text(user.get(c.USER_ID))
			user_type = user.get(c.USER_TYPE, "User")
			if not isinstance(user_type, str) or user_type.lower() not in {t.lower() for t in c.USER_TYPES}:
				return INVALID_REQUEST_DATA, []
			if user_id in self.users:
				return USER_EXISTS, []
			status, checked = self._check_templates(templates, user_id)
			if status:
				return status, []
			if len(self.users) >= self.max_users or self.template_count() + len(checked) > self.max_templates:
				return MEMORY_FULL, []
			self._add_user(user_id, user, user_type, checked)
			return OK, [(c.USER_UPDATED, self.user_event(self.users[user_id]))]

	def delete(self, delete) -> tuple[int, list[Callback]]:
		"""Delete (#29-#32): one user, all users, the whole log, or the attendance photos."""
		if not isinstance(delete, dict) or len(delete) != 1:
			return INVALID_REQUEST_DATA, []
		with self.lock:
			if c.USER in delete:
				target = delete[c.USER]
				if target == c.ALL:
					self.users.clear()
					self.users_managed = True
					return OK, []
				user_id = _text(target.get(c.USER_ID)) if isinstance(target, dict) else None
				if user_id is None:
					return INVALID_REQUEST_DATA, []
				if user_id not in self.users:
					return USER_NOT_FOUND, []
				del self.users[user_id]
				return OK, [(c.USER_DELETED, {c.USER_ID: user_id, c.OPERATION_TIME: self.now()})]
			if delete.get(c.LOG) == c.ALL:
				self.punches, self.instants = [], []
				return OK, []
			if delete.get(c.PUNCH_PHOTO) == c.ALL:
				self.photos.clear()
				return OK, []
		return INVALID_REQUEST_DATA, []

	def resend(self, resend) -> tuple[int, list[Callback]]:
		"""Resend (#33, #34): the range's punches, or every user, as callbacks."""
		if not isinstance(resend, dict):
			return INVALID_REQUEST_DATA, []
		if resend.get(c.USER) == c.ALL:
			with self.lock:
				return OK, [(c.USER_UPDATED, self.user_event(user)) for user in self.users.values()]
		punch_log = resend.get(c.PUNCH_LOG)
		try:
			log_filter = punch_log[c.FILTER]
			start = parse_logtime(log_filter[c.START_TIME])
			end = parse_logtime(log_filter[c.END_TIME])
		except (KeyError, TypeError, LogTimeError):
			return INVALID_REQUEST_DATA, []
		if end < start:
			return INVALID_REQUEST_DATA, []
		return OK, [(c.PUNCH_LOG, dict(row)) for row in self.punches_between(start, end)]

	def enroll(self, enroll) -> tuple[int, list[Callback]]:
		"""EnrollFingerPrint (#35): the user lays a finger on the reader (at once, here); the new
		template comes back as a UserUpdated callback. A user the device lacks is added."""
		user = enroll.get(c.USER) if isinstance(enroll, dict) else None
		user_id = _text(user.get(c.USER_ID)) if isinstance(user, dict) else None
		if user_id is None:
			return INVALID_REQUEST_DATA, []
		if user.get(c.ENROLL_TYPE, c.ENROLL_FINGERPRINT) != c.ENROLL_FINGERPRINT:
			return TEMPLATE_ERROR, []
		if c.FINGERPRINT not in self.template_types:
			return TEMPLATE_ERROR, []
		with self.lock:
			if self.template_count() + 1 > self.max_templates:
				return MEMORY_FULL, []
			if user_id not in self.users:
				if len(self.users) >= self.max_users:
					return MEMORY_FULL, []
				self._add_user(user_id, user, "User", [])
			record = self.users[user_id]
			used = {template_key(t)[1] for t in record[c.TEMPLATE] if t.get(c.TEMPLATE_TYPE) == c.FINGERPRINT}
			index = next(str(i) for i in range(len(used) + 1) if str(i) not in used)
			data = f"SIM-FP-{user_id}-{index}".encode().hex()
			template = {
				c.TEMPLATE_TYPE: c.FINGERPRINT,
				c.USER_ID: user_id,
				c.TEMPLATE_DATA: data,
				c.TEMPLATE_SIZE: str(len(data)),
				c.TEMPLATE_INDEX: index,
			}
			record[c.TEMPLATE] = merge_templates(record[c.TEMPLATE], [template])
			event = {**self.user_event(record), c.TEMPLATE: [template]}  # the new template only
			return OK, [(c.USER_UPDATED, event)]

	def update(self, update) -> tuple[int, list[Callback]]:
		"""UpdateAccessTime (#36), EnableUser (#37), DisableUser (#38)."""
		if not isinstance(update, dict) or len(update) != 1:
			return INVALID_REQUEST_DATA, []
		entity, value = next(iter(update.items()))
		if entity not in (c.ACCESS_TIME, c.USER) or not isinstance(value, dict):
			return INVALID_REQUEST_DATA, []
		user_id = _text(value.get(c.USER_ID))
		if user_id is None:
			return INVALID_REQUEST_DATA, []
		if entity == c.ACCESS_TIME:
			try:
				start = datetime.strptime(value[c.ACCESS_START], c.ACCESS_TIME_FORMAT)
				end = datetime.strptime(value[c.ACCESS_END], c.ACCESS_TIME_FORMAT)
			except (KeyError, TypeError, ValueError):
				return INVALID_REQUEST_DATA, []
			if end <= start:
				return INVALID_REQUEST_DATA, []
			change = {
				c.ACCESS_TIME: {c.ACCESS_START: value[c.ACCESS_START], c.ACCESS_END: value[c.ACCESS_END]}
			}
		else:
			access = value.get(c.ACCESS)
			if access not in (c.ACCESS_ENABLE, c.ACCESS_DISABLE):
				return INVALID_REQUEST_DATA, []
			change = {c.ACCESS: access}
		with self.lock:
			if user_id not in self.users:
				return USER_NOT_FOUND, []
			self.users[user_id].update(change)
		return OK, []

	def may_punch(self, user_id: str, at: datetime) -> bool:
		"""Whether the device lets the user in at ``at`` (naive: the device's wall clock)."""
		with self.lock:
			user = self.users.get(user_id)
			if user is None or user[c.ACCESS] != c.ACCESS_ENABLE:
				return False
			window = user[c.ACCESS_TIME]
		if not window:
			return True
		start = datetime.strptime(window[c.ACCESS_START], c.ACCESS_TIME_FORMAT)
		end = datetime.strptime(window[c.ACCESS_END], c.ACCESS_TIME_FORMAT)
		return start <= at <= end
