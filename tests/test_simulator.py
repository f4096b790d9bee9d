"""The simulator's callback sender and punch generator, against a loopback receiver."""

import json
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cams_biometric.protocol import aes, simulator
from cams_biometric.protocol.client import loadlog_command
from cams_biometric.protocol.constants import OFFSET_KEYS
from cams_biometric.protocol.logtime import format_logtime, parse_logtime
from cams_biometric.protocol.payload import (
	find_auth_token,
	load_json_body,
	read_attendance_photo,
	read_callback,
	read_punch,
)
from cams_biometric.protocol.simulator import Gateway, generate_punches, main, send_callbacks

MODIFIED_TO = "2024-09-17 09:05:00 GMT +0530"


@pytest.fixture
def receiver():
	received = []

	class Handler(BaseHTTPRequestHandler):
		def log_message(self, *args):
			pass

		def do_POST(self):
			body = self.rfile.read(int(self.headers["Content-Length"]))
			received.append(body)
			self.send_response(200)
			self.end_headers()
			self.wfile.write(b'{"status":"done"}')

	server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
	threading.Thread(target=server.serve_forever, daemon=True).start()
	yield f"http://127.0.0.1:{server.server_address[1]}/cb?stgid=S1", received
	server.shutdown()
	server.server_close()


def test_generated_punches_are_distinct_sorted_and_in_range():
	end = datetime(2024, 9, 30, tzinfo=timezone.utc)
	rows = generate_punches(users=50, days=3, per_day=4, end=end)
	assert len(rows) == 50 * 3 * 4
	keys = {(r["UserID"], parse_logtime(r["LogTime"])) for r in rows}
	assert len(keys) == len(rows)
	moments = [parse_logtime(r["LogTime"]) for r in rows]
	assert moments == sorted(moments)
	assert all(end - timedelta(days=4) < m < end for m in moments)
	assert Counter(r["Type"] for r in rows) == {
		"CheckIn": 150,
		"BreakOut": 150,
		"BreakIn": 150,
		"CheckOut": 150,
	}
	assert generate_punches(users=50, days=3, per_day=4, end=end) == rows  # deterministic


def test_a_day_has_the_same_punches_whatever_range_it_is_in():
	# `send --days 1` then `serve --days 3` (the README's walk): one device, so the day they
	# share has the same punches, and a load of the range finds the sent ones already stored.
	end = datetime(2024, 12, 3, 10, 0, tzinfo=timezone.utc)
	one_day = generate_punches(users=5, days=1, per_day=4, end=end)
	three_days = generate_punches(users=5, days=3, per_day=4, end=end)
	assert len(one_day) == 20 and len(three_days) == 60
	assert all(row in three_days for row in one_day)
	assert len({(r["UserID"], r["LogTime"]) for r in one_day + three_days}) == 60
	# Fewer users or a later end change nothing for the users and days in common.
	later = generate_punches(users=3, days=2, per_day=4, end=end + timedelta(days=1))
	shared = [r for r in later if parse_logtime(r["LogTime"]) < end - timedelta(hours=12)]
	assert shared and all(row in three_days for row in shared)
	# The seed still decides: another seed, other times.
	assert generate_punches(users=5, days=1, per_day=4, end=end, seed=2) != one_day


def test_command_line_send_and_serve_agree_about_a_day(served_gateways, receiver):
	url, received = receiver
	assert main(["send", "--url", url, "--token", "T" * 32, "--users", "5", "--days", "1"]) == 0
	assert main(["serve", "--users", "5", "--days", "3"]) == 0
	sent = {
		(p.user_id, p.moment) for p in (read_punch(read_callback(load_json_body(b)).data) for b in received)
	}
	served = {(r["UserID"], parse_logtime(r["LogTime"])) for r in served_gateways[0].punches}
	assert len(sent) == 20 and len(served) == 60 and sent <= served


@pytest.mark.parametrize("per_day", sorted(simulator.DAY_PLAN))
def test_a_users_day_keeps_the_plans_order(per_day):
	plan = [punch_type for punch_type, _, _ in simulator.DAY_PLAN[per_day]]
	end = datetime(2024, 9, 30, tzinfo=timezone.utc)
	rows = generate_punches(users=40, days=20, per_day=per_day, end=end)
	days = {}
	for row in rows:  # sorted by time, so each day's list is in time order
		moment = parse_logtime(row["LogTime"])
		days.setdefault((row["UserID"], moment.date()), []).append((moment, row["Type"]))
	assert len(days) == 40 * 20
	for punches in days.values():
		assert [punch_type for _, punch_type in punches] == plan
		assert len({moment for moment, _ in punches}) == per_day


def test_callbacks_are_realistic_with_duplicates_and_shuffle(receiver):
	url, received = receiver
	rows = generate_punches(users=10, days=2, per_day=2)
	result = send_callbacks(url, rows, "T" * 32, shuffle=True, duplicates=0.5, concurrency=4)
	assert result["distinct"] == 40
	assert result["sent"] == len(received) > 40
	assert result["outcomes"] == {"200": result["sent"]}
	punches = []
	for body in received:
		doc = load_json_body(body)
		assert find_auth_token(doc) == "T" * 32
		event = read_callback(doc)
		assert event.event_type == "Punch Log"
		punches.append(read_punch(event.data))
	assert {(p.user_id, p.moment) for p in punches} == {
		(r["UserID"], parse_logtime(r["LogTime"])) for r in rows
	}


def test_encrypted_callbacks(receiver):
	url, received = receiver
	rows = generate_punches(users=2, days=1, per_day=2)
	send_callbacks(url, rows, "T" * 32, security_key="k3y", aes_key_derivation="md5")
	doc, derivation = aes.decrypt(received[0], "k3y")
	assert derivation == "md5" and find_auth_token(doc) == "T" * 32


def test_command_line_generate_and_send(receiver, capsys, tmp_path):
	assert main(["generate", "--users", "3", "--days", "1", "--per-day", "2"]) == 0
	rows = json.loads(capsys.readouterr().out)
	assert len(rows) == 6
	path = tmp_path / "punches.json"
	path.write_text(json.dumps(rows))
	url, received = receiver
	assert main(["send", "--url", url, "--token", "T" * 32, "--punches", str(path)]) == 0
	assert len(received) == 6


def loadlog_reply(gateway: Gateway, start: datetime, end: datetime, offset: int) -> dict:
	body = {**loadlog_command(start, end, offset), "OperationID": "op1", "AuthToken": gateway.auth_token}
	status, reply, _ = gateway.handle(gateway.service_tag_id, json.dumps(body).encode())
	assert status == 200
	return json.loads(reply)


def test_paging_by_time_names_no_offset_and_filters_by_start_only():
	end = datetime(2024, 9, 30, tzinfo=timezone.utc)
	rows = generate_punches(users=10, days=3, per_day=4, end=end)  # 120
	offsets = Gateway("S1", "T" * 32, rows)
	by_time = Gateway("S1", "T" * 32, list(reversed(rows)), paging="time")
	start = end - timedelta(days=5)
	assert OFFSET_KEYS[0] in loadlog_reply(offsets, start, end, 0)["PunchLog"]
	first = loadlog_reply(by_time, start, end, 0)["PunchLog"]
	assert first["Log"] == rows[:50] and not set(first) & set(OFFSET_KEYS)
	# The offset asked for is ignored; StartTime is inclusive, and the rows come oldest first.
	again = loadlog_reply(by_time, parse_logtime(rows[60]["LogTime"]), end, 50)["PunchLog"]
	assert again["Log"] == rows[60:110] and not set(again) & set(OFFSET_KEYS)
	assert by_time.calls[-1]["start"] == format_logtime(parse_logtime(rows[60]["LogTime"]))
	with pytest.raises(ValueError):
		Gateway(paging="newest first")


def test_command_line_serve_pages_by_time(served_gateways, capsys):
	served = served_gateways
	assert main(["serve", "--paging", "time", "--users", "2", "--days", "1"]) == 0
	assert served[0].paging == "time" and len(served[0].punches) == 8
	assert "paged by time" in capsys.readouterr().out
	assert main(["serve", "--users", "1", "--days", "1"]) == 0
	assert served[1].paging == "offset"


def test_photos_follow_or_precede_their_punches_and_a_clock_change_comes_last(receiver):
	url, received = receiver
	rows = generate_punches(users=3, days=1, per_day=2)
	result = send_callbacks(url, rows, "T" * 32, photos="after", concurrency=1, date_modified=MODIFIED_TO)
	assert result["sent"] == len(received) == 2 * len(rows) + 1
	assert result["photos"] == len(rows) and result["outcomes"] == {"200": result["sent"]}
	events = [read_callback(load_json_body(body)) for body in received]
	assert [e.event_type for e in events[:4]] == ["Punch Log", "Attendance Photo"] * 2
	for punch, photo in zip(events[:-1:2], events[1:-1:2], strict=True):
		assert (photo.data["UserID"], photo.data["LogTime"]) == (punch.data["UserId"], punch.data["LogTime"])
		assert read_attendance_photo(photo.data, 200 * 1024).jpeg.startswith(b"\xff\xd8\xff")
	clock = events[-1]
	assert clock.event_type == "Date Modified" and clock.data["ModifiedTo"] == MODIFIED_TO
	assert parse_logtime(clock.data["OperationTime"]).utcoffset() == timedelta(hours=5, minutes=30)

	received.clear()
	send_callbacks(url, rows[:1], "T" * 32, photos="before")
	assert [read_callback(load_json_body(b)).event_type for b in received] == [
		"Attendance Photo",
		"Punch Log",
	]
	with pytest.raises(ValueError):
		send_callbacks(url, rows, "T" * 32, photos="sideways")


def test_command_line_sends_photos_and_a_clock_change(receiver, capsys, tmp_path):
	url, received = receiver
	not_a_jpeg = tmp_path / "photo.png"
	not_a_jpeg.write_bytes(b"\x89PNG\r\n\x1a\n")
	argv = ["send", "--url", url, "--token", "T" * 32, "--users", "2", "--days", "1", "--per-day", "1"]
	assert main([*argv, "--photos", "--photo", str(not_a_jpeg)]) == 0
	assert json.loads(capsys.readouterr().out)["photos"] == 2
	photos = [read_callback(load_json_body(b)) for b in received]
	assert sum(e.event_type == "Attendance Photo" for e in photos) == 2
	# The photo is sent as given, so a site's refusal of what is not a JPEG can be tried.
	assert {e.data.get("LogPhoto") for e in photos if e.event_type == "Attendance Photo"} == {"iVBORw0KGgo="}

	received.clear()
	assert (
		main(["send", "--url", url, "--token", "T" * 32, "--users", "0", "--date-modified", MODIFIED_TO]) == 0
	)
	[only] = [read_callback(load_json_body(b)) for b in received]
	assert only.event_type == "Date Modified" and only.data["ModifiedTo"] == MODIFIED_TO
