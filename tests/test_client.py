"""The RESTful client against the simulator, over real HTTP on loopback."""

import json
from datetime import datetime, timedelta, timezone
from itertools import pairwise

import pytest
import requests

from cams_biometric.protocol import client as cams
from cams_biometric.protocol.client import CamsClient, device_information_command
from cams_biometric.protocol.logtime import format_logtime, parse_logtime
from cams_biometric.protocol.simulator import Gateway, GatewayServer, generate_punches

NOW = datetime.now(timezone.utc).replace(microsecond=0)
START, END = NOW - timedelta(days=29), NOW


def punches(count: int) -> list[dict]:
	"""``count`` distinct punches inside the last 29 days."""
	rows = generate_punches(users=max(1, (count + 27) // 28), days=28, per_day=1, end=NOW)
	return rows[:count]


def keys(rows: list[dict]) -> list[tuple]:
	"""The raw log's unique key of each row (device aside): user and instant."""
	return [(row["UserID"], parse_logtime(row["LogTime"])) for row in rows]


def full_page(moments: list[datetime], **kwargs) -> cams.LoadLogPage:
	"""A fabricated reply of 50 rows at the given moments, in that order (each repeated to fill the
	page), with no offset."""
	rows = [
		{"UserID": str(i), "Type": "CheckIn", "LogTime": format_logtime(moments[i * len(moments) // 50])}
		for i in range(50)
	]
	return cams.LoadLogPage(
		offset=0,
		rows=rows,
		next_offset=None,
		return_row_count=50,
		operation_id="op",
		start=kwargs.pop("start", START),
		end=kwargs.pop("end", END),
		**kwargs,
	)


@pytest.fixture
def gateway():
	gateway = Gateway("STG1", "t" * 32)
	with GatewayServer(gateway) as server:
		gateway.url = server.url
		yield gateway


def client_for(gateway, **kwargs) -> cams.CamsClient:
	options = {"timeout": (2, 5), **kwargs}
	return cams.CamsClient(gateway.url, "STG1", kwargs.pop("auth_token", "t" * 32), **options)


@pytest.mark.parametrize("count", [0, 1, 49, 50, 51, 137, 2000])
def test_paging_returns_every_row_exactly_once(gateway, count):
	rows = punches(count)
	assert len(rows) == count
	gateway.set_punches(rows)
	pages = list(client_for(gateway).iter_load_log(START, END))
	received = [row for page in pages for row in page.rows]
	assert set(keys(received)) == set(keys(rows))
	full_last_page = count and count % 50 == 0
	assert len(pages) == count // 50 + 1
	by_offset = pages[:-1] if full_last_page else pages
	assert [page.offset for page in by_offset] == [50 * i for i in range(len(by_offset))]
	assert sum(len(page.rows) for page in by_offset) == count
	if full_last_page:
		# The last full page names no offset (nothing follows), so the client asks once more, by
		# time, from a second before its last punch: only repeats come, and the raw log drops them.
		last = pages[-1]
		assert last.offset == 0 and last.start == parse_logtime(rows[-1]["LogTime"]) - timedelta(seconds=1)
		assert 0 < len(last.rows) < 50 and set(keys(last.rows)) <= set(keys(rows))
	assert pages[-1].stop_reason == "short page"
	assert all(page.stop_reason is None for page in pages[:-1])


def test_the_filter_is_respected(gateway):
	rows = punches(100)
	gateway.set_punches(rows)
	middle = parse_logtime(rows[40]["LogTime"])
	received = [r for page in client_for(gateway).iter_load_log(middle, END) for r in page.rows]
	assert received == rows[40:]


def test_a_non_advancing_offset_stops(gateway):
	gateway.set_punches(punches(137))
	gateway.fail_at_offset(50, {"offset": "stuck"})
	pages = list(client_for(gateway).iter_load_log(START, END))
	assert [p.offset for p in pages] == [0, 50]
	assert pages[-1].stop_reason == "offset did not advance"


def test_a_missing_offset_goes_on_by_time(gateway):
	# Issue 12: a full page without an offset we know used to end the load as if complete.
	rows = punches(137)
	gateway.set_punches(rows)
	gateway.fail_next({"offset": "missing"})
	pages = list(client_for(gateway).iter_load_log(START, END))
	last_of_first = parse_logtime(pages[0].rows[-1]["LogTime"])
	# Page 2 asks from a second before page 1's last punch; the gateway's offsets take over again.
	assert [(p.start, p.offset) for p in pages[:3]] == [
		(START, 0),
		(last_of_first - timedelta(seconds=1), 0),
		(last_of_first - timedelta(seconds=1), 50),
	]
	received = keys([row for page in pages for row in page.rows])
	assert set(received) == set(keys(rows))
	assert len(received) == 137 + 1  # page 1's last punch came twice
	assert pages[-1].stop_reason == "short page"


@pytest.fixture
def time_gateway():
	"""A gateway whose LoadLog names no offset (none we know) and pages by StartTime only."""
	gateway = Gateway("STG1", "t" * 32, paging="time")
	with GatewayServer(gateway) as server:
		gateway.url = server.url
		yield gateway


@pytest.mark.parametrize("count", [0, 1, 49, 50, 51, 130, 2000])
def test_paging_by_time_returns_every_row(time_gateway, count):
	rows = punches(count)
	time_gateway.set_punches(rows)
	pages = list(client_for(time_gateway).iter_load_log(START, END))
	received = keys([row for page in pages for row in page.rows])
	assert set(received) == set(keys(rows)) and len(set(received)) == count
	# Each page asks from a second before the last punch of the one before: few repeats.
	assert len(received) - count <= 2 * (len(pages) - 1)
	assert pages[0].start == START
	for before, page in pairwise(pages):
		assert page.start == max(t for _, t in keys(before.rows)) - timedelta(seconds=1)
		assert page.start > before.start
	assert all(page.offset == 0 for page in pages)
	assert all(call["offset"] == 0 for call in time_gateway.calls)
	assert [call["start"] for call in time_gateway.calls] == [format_logtime(p.start) for p in pages]
	assert pages[-1].stop_reason == "short page" and cams.next_page(pages[-1]).complete
	assert all(page.stop_reason is None for page in pages[:-1])


def test_paging_by_time_stops_as_partial_at_a_crowded_second(time_gateway):
	# 70 punches at one instant: no page that starts from it can get past it.
	rows = punches(20)
	crowded = NOW - timedelta(days=1)
	rows += [{"Type": "CheckIn", "UserID": f"X{i}", "LogTime": format_logtime(crowded)} for i in range(70)]
	time_gateway.set_punches(rows)
	pages = list(client_for(time_gateway).iter_load_log(START, END))
	assert [page.start for page in pages] == [START, crowded - timedelta(seconds=1)]
	assert pages[-1].stop_reason == cams.TIME_STUCK
	assert not cams.next_page(pages[-1]).complete
	# Everything up to the crowded second came; 20 of its 70 punches did not, and the stop says so.
	assert len(set(keys([row for page in pages for row in page.rows]))) == 20 + 50


def test_a_full_page_newest_first_stops_as_partial():
	# A gateway that pages newest first: going on from the "last" punch would skip the rest.
	moments = [NOW - timedelta(minutes=i) for i in range(50)]
	step = cams.next_page(full_page(moments))
	assert step.stop_reason == cams.OUT_OF_ORDER and not step.complete
	session = SampleReplies({"Status": "done", "StatusCode": 0, "PunchLog": {"Log": full_page(moments).rows}})
	pages = list(
		cams.CamsClient("http://gateway.invalid/api", "STG1", "t" * 32, session=session).iter_load_log(
			START, END
		)
	)
	assert len(pages) == 1 and pages[0].stop_reason == cams.OUT_OF_ORDER


@pytest.mark.parametrize(
	"page, expected",
	[
		# Oldest first: on from a second before the last punch, offset 0.
		(
			full_page([START + timedelta(minutes=i) for i in range(50)]),
			(START + timedelta(minutes=49, seconds=-1), 0, None),
		),
		# Ascending as instants though not as wall-clock text (two UTC offsets): still in order.
		(
			full_page(
				[
					(START + timedelta(minutes=i)).astimezone(timezone(timedelta(hours=5 if i % 2 else -3)))
					for i in range(50)
				]
			),
			(START + timedelta(minutes=49, seconds=-1), 0, None),
		),
		# Unreadable LogTimes are stored as errors and do not place the page in time.
		(
			cams.LoadLogPage(
				0,
				[{"UserID": "1", "LogTime": "garbage"}] * 49
				+ [{"UserID": "1", "LogTime": format_logtime(NOW - timedelta(hours=1))}],
				None,
				50,
				"op",
				start=START,
				end=END,
			),
			(NOW - timedelta(hours=1, seconds=1), 0, None),
		),
		(
			cams.LoadLogPage(
				0, [{"UserID": "1", "LogTime": "garbage"}] * 50, None, 50, "op", start=START, end=END
			),
			(None, 0, cams.NO_LOGTIME),
		),
		# 50 punches in two seconds: asking again from the first would get the same page.
		(full_page([START, START + timedelta(seconds=1)]), (None, 0, cams.TIME_STUCK)),
		(
			full_page([START + timedelta(seconds=1), START + timedelta(seconds=2)]),
			(START + timedelta(seconds=1), 0, None),
		),
		# A gateway that ignores EndTime, oldest first: every row of the range has come.
		(full_page([END - timedelta(seconds=1), END + timedelta(seconds=1)]), (None, 0, cams.REACHED_END)),
		# An offset wins: same StartTime, the next offset, order irrelevant.
		(
			cams.LoadLogPage(50, full_page([NOW, START]).rows, 100, 50, "op", start=START, end=END),
			(START, 100, None),
		),
		(
			cams.LoadLogPage(50, full_page([NOW]).rows, 50, 50, "op", start=START, end=END),
			(None, 0, cams.OFFSET_STUCK),
		),
		# A short page ends the range whatever its order.
		(
			cams.LoadLogPage(0, full_page([NOW, START]).rows[:49], None, 49, "op", start=START, end=END),
			(None, 0, cams.SHORT_PAGE),
		),
	],
)
def test_the_next_page_is_decided_from_the_page(page, expected):
	step = cams.next_page(page)
	assert (step.start, step.offset, step.stop_reason) == expected
	assert step.complete == (step.stop_reason in (cams.SHORT_PAGE, cams.REACHED_END))


def test_resuming_from_an_offset(gateway):
	rows = punches(137)
	gateway.set_punches(rows)
	received = [r for page in client_for(gateway).iter_load_log(START, END, offset=100) for r in page.rows]
	assert received == rows[100:]


@pytest.mark.parametrize(
	"failure, error, transient",
	[
		({"status": 5}, cams.DeviceOffline, True),
		({"status": 6}, cams.OperationTimeout, True),
		({"status": 999}, cams.UnknownGatewayError, True),
		({"status": 7}, cams.InvalidAuthToken, False),
		({"status": 15}, cams.FeatureNotSupported, False),
		({"status": 2}, cams.InvalidServiceTag, False),
		({"status": 13}, cams.InvalidSecurityKey, False),
		({"status": 1}, cams.InvalidRequest, False),
		({"http": 503}, cams.GatewayHTTPError, True),
		({"http": 500}, cams.GatewayHTTPError, True),
		({"http": 404}, cams.GatewayHTTPError, False),
		({"body": "garbage"}, cams.ProtocolError, True),
	],
)
def test_failures_become_typed_errors(gateway, failure, error, transient):
	gateway.set_punches(punches(10))
	gateway.fail_next(failure)
	with pytest.raises(error) as raised:
		client_for(gateway).load_log_page(START, END)
	assert raised.value.transient is transient
	assert raised.value.operation_id
	# The next call succeeds: failures were one-shot.
	assert len(client_for(gateway).load_log_page(START, END).rows) == 10


def test_a_slow_gateway_times_out(gateway):
	gateway.fail_next({"delay": 1.5})
	with pytest.raises(cams.GatewayUnreachable):
		client_for(gateway, timeout=(1, 0.5)).load_device_information()


def test_an_unreachable_gateway(gateway):
	closed = cams.CamsClient("http://127.0.0.1:9/", "STG1", "t" * 32, timeout=(1, 1))
	with pytest.raises(cams.GatewayUnreachable) as raised:
		closed.load_device_information()
	assert raised.value.transient


def test_wrong_token_and_stgid_are_the_gateways_codes(gateway):
	with pytest.raises(cams.InvalidAuthToken):
		cams.CamsClient(gateway.url, "STG1", "x" * 32, timeout=2).load_device_information()
	with pytest.raises(cams.InvalidServiceTag):
		cams.CamsClient(gateway.url, "OTHER", "t" * 32, timeout=2).load_device_information()


def test_aes_both_ways():
	gateway = Gateway(
		"STG1", "t" * 32, punches(60), security_key="shared secret", aes_key_derivation="sha1-128"
	)
	with GatewayServer(gateway) as server:
		client = cams.CamsClient(
			server.url,
			"STG1",
			"t" * 32,
			security_key="shared secret",
			aes_key_derivation="sha1-128",
			timeout=2,
		)
		assert sum(len(p.rows) for p in client.iter_load_log(START, END)) == 60
		wrong = cams.CamsClient(server.url, "STG1", "t" * 32, security_key="nope", timeout=2)
		with pytest.raises(cams.InvalidEncryption):
			wrong.load_device_information()


def test_request_shape(gateway):
	client_for(gateway).load_log_page(START, END, offset=50)
	call = gateway.calls[-1]
	assert {k: call[k] for k in ("command", "offset", "start")} == {
		"command": ["Load"],
		"offset": 50,
		"start": format_logtime(START),
	}
	assert 10 <= len(call["operation_id"]) <= 15
	command = cams.loadlog_command(START, END, 50)
	assert command["Load"]["PunchLog"]["Filter"]["StartTime"].endswith("GMT +0000")


def test_operation_ids_are_fresh_and_sized():
	ids = {cams.new_operation_id() for _ in range(100)}
	assert len(ids) == 100 and all(10 <= len(i) <= 15 and i.isalnum() for i in ids)


@pytest.mark.parametrize(
	"reply, offset",
	[
		({"PunchLog": {"Offset": "50"}}, 50),
		({"PunchLog": {"offset": 100}}, 100),
		({"NextOffset": 150}, 150),
		({"PunchLog": {"Log": []}}, None),
		({"PunchLog": {"Offset": "abc"}}, None),
		({"PunchLog": {"Offset": True}}, None),
	],
)
def test_offsets_are_read_leniently(reply, offset):
	assert cams.find_offset(reply) == offset


def test_counts_as_numbers_or_strings(gateway):
	page = client_for(gateway).load_log_page(START, END)
	assert page.return_row_count == 0


@pytest.mark.parametrize(
	"start, end, message",
	[
		(NOW, NOW - timedelta(hours=1), "after the start"),
		(NOW + timedelta(hours=1), NOW + timedelta(hours=2), "future"),
		(NOW - timedelta(hours=1), NOW + timedelta(days=1), "future"),
		(NOW - timedelta(days=31), NOW, "30 days"),
	],
)
def test_load_ranges_are_validated(start, end, message):
	with pytest.raises(cams.LoadRangeError, match=message):
		cams.validate_load_range(start, end, NOW)


def test_a_valid_range():
	cams.validate_load_range(NOW - timedelta(days=30), NOW, NOW)


def test_the_endpoint_must_be_http():
	with pytest.raises(ValueError):
		cams.CamsClient("ftp://x", "S", "t")


class SampleReplies:
	"""A session that answers every POST with one of the sample bodies of shared/."""

	def __init__(self, body: dict):
		self.body = body
		self.sent = []

	def post(self, url, params=None, data=None, headers=None, timeout=None):
		self.sent.append({"url": url, "params": params, "data": json.loads(data), "timeout": timeout})
		response = requests.Response()
		response.status_code = 200
		response._content = json.dumps(self.body).encode()
		return response


def test_the_sample_replies_are_read(payload):
	info = SampleReplies(payload("rest-device-information-reply.json"))
	client = cams.CamsClient("http://gateway.invalid/api", "STG1", "t" * 32, session=info)
	assert client.load_device_information()["DeviceModel"] == "RSP10"
	assert info.sent[0]["params"] == {"stgid": "STG1"}
	assert info.sent[0]["timeout"] == cams.DEFAULT_TIMEOUT

	page = cams.CamsClient(
		"http://gateway.invalid/api",
		"STG1",
		"t" * 32,
		session=SampleReplies(payload("rest-loadlog-reply.json")),
	).load_log_page(START, END)
	assert [row["UserID"] for row in page.rows] == ["2", "1"]
	assert page.return_row_count == 2 and page.next_offset is None
	assert cams.next_page_stop_reason(page) == "short page"

	offline = SampleReplies(payload("rest-reply-device-offline.json"))
	with pytest.raises(cams.DeviceOffline):
		cams.CamsClient("http://gateway.invalid/api", "STG1", "t" * 32, session=offline).load_log_page(
			START, END
		)


def test_our_loadlog_request_has_the_documented_shape(payload):
	sample = payload("rest-loadlog-request.json")
	ours = cams.loadlog_command(START, END, 0)
	assert ours["Load"]["PunchLog"]["Filter"].keys() == sample["Load"]["PunchLog"]["Filter"].keys()
	session = SampleReplies(payload("rest-loadlog-reply.json"))
	cams.CamsClient("http://gateway.invalid/api", "STG1", "t" * 32, session=session).load_log_page(START, END)
	sent = session.sent[0]["data"]
	assert set(sent) == set(sample)  # Load, OperationID, AuthToken, Time
	assert sent["AuthToken"] == "t" * 32 and 10 <= len(sent["OperationID"]) <= 15
	parse_logtime(sent["Time"])


def test_a_range_ending_mid_log_pages_exactly_its_rows(gateway):
	# Pages are found by bisection on parsed times; a naive filter over the log is the oracle.
	rows = punches(500)
	gateway.set_punches(list(reversed(rows)))  # the gateway sorts what it is given
	start, end = parse_logtime(rows[120]["LogTime"]), parse_logtime(rows[377]["LogTime"])
	expected = [r for r in rows if start <= parse_logtime(r["LogTime"]) <= end]
	pages = list(client_for(gateway).iter_load_log(start, end))
	assert [r for page in pages for r in page.rows] == expected
	assert len(pages) == -(-len(expected) // 50)


def test_one_server_plays_several_devices():
	first, second = Gateway("DEV-A", "a" * 32, punches(70)), Gateway("DEV-B", "b" * 32, punches(30))
	with GatewayServer(first, more=(second,)) as server:
		for gateway, expected in ((first, 70), (second, 30)):
			client = cams.CamsClient(server.url, gateway.service_tag_id, gateway.auth_token, timeout=(2, 5))
			assert sum(len(page.rows) for page in client.iter_load_log(START, END)) == expected
		# A failure queued for one device leaves the other alone.
		reply = requests.post(f"{server.url}__sim/failures?stgid=DEV-B", json=[{"status": 5}], timeout=5)
		assert reply.status_code == 200
		assert len(first.failures) == 0 and len(second.failures) == 1
		stats = requests.get(f"{server.url}__sim/stats?stgid=DEV-B", timeout=5).json()
		assert stats["punches"] == 30
		# Another device's token is refused, as a real gateway refuses it.
		wrong = cams.CamsClient(server.url, "DEV-A", "b" * 32, timeout=(2, 5))
		with pytest.raises(cams.CamsError):
			wrong.load_log_page(START, END)


def test_a_retry_can_reuse_the_operation_id():
	gateway = Gateway("STG1", "t" * 32)
	with GatewayServer(gateway) as server:
		client = CamsClient(server.url, "STG1", "t" * 32)
		client.call(device_information_command(), operation_id="retry0000001")
		client.call(device_information_command(), operation_id="retry0000001")
		client.call(device_information_command())
	ids = [call["operation_id"] for call in gateway.calls]
	assert ids[:2] == ["retry0000001", "retry0000001"] and ids[2] != "retry0000001"


def rows_at(*moments: datetime) -> list[dict]:
	return [{"UserID": "1", "Type": "CheckIn", "LogTime": format_logtime(moment)} for moment in moments]


def test_range_covered_follows_the_last_row_whichever_way_the_gateway_sorts():
	start, end = NOW - timedelta(days=10), NOW
	day = timedelta(days=1)
	# Oldest first: read up to the last row, 4 of 10 days.
	assert cams.range_covered(rows_at(start + day, start + 4 * day), start, end) == pytest.approx(0.4)
	# Newest first: read back from the end to the last row, 3 of 10 days.
	assert cams.range_covered(rows_at(end - day, end - 3 * day), start, end) == pytest.approx(0.3)
	# Rows outside the range (a clock that drifted) stay within 0..1.
	assert cams.range_covered(rows_at(end + day), start, end) == 1.0
	assert cams.range_covered(rows_at(start - day), start, end) == 0.0


def test_range_covered_is_unknown_without_a_readable_time():
	assert cams.range_covered([], START, END) is None
	assert cams.range_covered([{"UserID": "1", "LogTime": "yesterday"}], START, END) is None
	assert cams.range_covered(rows_at(NOW), END, START) is None
