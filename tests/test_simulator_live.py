"""The simulator's live punches (`serve --live`): each joins the device's log and is sent as a
RealTime callback, in order."""

import threading
from datetime import datetime, timedelta, timezone

from test_simulator import receiver

from cams_biometric.protocol.logtime import parse_logtime
from cams_biometric.protocol.payload import find_auth_token, load_json_body, read_callback, read_punch
from cams_biometric.protocol.simulator import Gateway
from cams_biometric.protocol.simulator.cli import _punch_live


def sent_punches(received: list[bytes]) -> list[tuple[str, datetime, str]]:
	punches = []
	for body in received:
		doc = load_json_body(body)
		assert find_auth_token(doc) == "T" * 32
		punch = read_punch(read_callback(doc).data)
		punches.append((punch.user_id, punch.moment, punch.punch_type))
	return punches


def test_a_live_punch_joins_the_log_and_goes_out_as_a_callback(receiver):  # noqa: F811
	url, received = receiver
	gateway = Gateway("S1", "T" * 32, callback_url=url)
	first = gateway.punch("1000", "CheckIn")
	second = gateway.punch("1001", "CheckOut")  # within the same second: still a later instant
	assert gateway.wait_for_callbacks(10)
	assert gateway.callback_outcomes == ["200", "200"]

	moments = [parse_logtime(row["LogTime"]) for row in (first, second)]
	assert moments[0] < moments[1]
	now = datetime.now(timezone.utc)
	assert abs(moments[0] - now) < timedelta(seconds=10)
	assert moments[0].utcoffset() == gateway.utc_offset  # the device's own clock
	# LoadLog finds them, and the callbacks said the same.
	assert gateway.punches_between(now - timedelta(minutes=1), now + timedelta(minutes=1)) == [first, second]
	assert sent_punches(received) == [
		("1000", moments[0], "CheckIn"),
		("1001", moments[1], "CheckOut"),
	]


def test_live_users_punch_in_turn_in_then_out_until_stopped(receiver):  # noqa: F811
	url, received = receiver
	gateway = Gateway("S1", "T" * 32, callback_url=url)
	stop = threading.Event()
	worker = threading.Thread(target=_punch_live, args=(gateway, ["1000", "1001"], 0.05, stop))
	worker.start()
	while len(gateway.punches) < 5:
		stop.wait(0.02)
	stop.set()
	worker.join(5)
	assert not worker.is_alive()
	assert gateway.wait_for_callbacks(10)
	kinds = [(row["UserID"], row["Type"]) for row in gateway.punches[:5]]
	assert kinds == [
		("1000", "CheckIn"),
		("1001", "CheckIn"),
		("1000", "CheckOut"),
		("1001", "CheckOut"),
		("1000", "CheckIn"),
	]
	assert [(user, kind) for user, _, kind in sent_punches(received)][:5] == kinds
