"""The ``cams-simulator`` command line: serve, send, generate."""

import argparse
import itertools
import json
import sys
import threading

from cams_biometric.protocol import aes
from cams_biometric.protocol.simulator.callbacks import PHOTO_ORDERS, send_callbacks
from cams_biometric.protocol.simulator.device import DAY_PLAN, generate_punches
from cams_biometric.protocol.simulator.server import PAGING_MODES, Gateway


def _punch_set(args) -> list[dict]:
	if args.punches:
		with open(args.punches) as f:
			return json.load(f)
	return generate_punches(args.users, args.days, args.per_day, seed=args.seed)


def _add_punch_options(parser):
	parser.add_argument("--punches", help="a JSON file of LoadLog rows (from `generate`)")
	parser.add_argument("--users", type=int, default=20, help="generated users (default 20)")
	parser.add_argument("--days", type=int, default=2, help="generated days before now (default 2)")
	parser.add_argument("--per-day", type=int, default=4, choices=sorted(DAY_PLAN), help="punches a day")
	parser.add_argument("--seed", type=int, default=1)


def main(argv: list[str] | None = None) -> int:
	# The package's names, looked up at call time: a test may stand in for the HTTP server.
	from cams_biometric.protocol import simulator

	parser = argparse.ArgumentParser(prog="cams-simulator", description=simulator.__doc__.split("\n\n")[0])
	commands = parser.add_subparsers(dest="command", required=True)

	serve = commands.add_parser("serve", help="serve the RESTful API (all 27 operations)")
	serve.add_argument("--host", default="127.0.0.1")
	serve.add_argument("--port", type=int, default=8123)
	serve.add_argument("--stgid", default="SIM0001", help="the Service Tag ID to answer for")
	serve.add_argument("--token", help="the AuthToken to expect (default: a new random one, printed)")
	serve.add_argument("--key", help="an AES security key: requests and replies are encrypted")
	serve.add_argument(
		"--fail",
		action="append",
		default=[],
		metavar="JSON",
		help="a failure for the next call, e.g. '{\"status\": 5}', '{\"http\": 503}', '{\"delay\": 20}'",
	)
	serve.add_argument("--always", metavar="JSON", help="a failure for every call, e.g. '{\"status\": 15}'")
	serve.add_argument(
		"--loadlog-off",
		action="store_true",
		help="LoadLog answers StatusCode 15, as CAMS does while a callback URL is set; Resend still works",
	)
	serve.add_argument(
		"--paging",
		choices=PAGING_MODES,
		default="offset",
		help="offset (default): LoadLog pages name the next offset; time: they name none, and"
		" each page is the earliest rows from the request's StartTime on",
	)
	serve.add_argument(
		"--callback-url", help="where Resend and Enroll post their callbacks (a site's callback URL)"
	)
	serve.add_argument(
		"--live",
		type=float,
		metavar="SECONDS",
		help="a user punches every SECONDS seconds (users in turn, IN then OUT), sent to --callback-url",
	)
	serve.add_argument("--max-users", type=int, default=10000, help="users before StatusCode 11")
	serve.add_argument("--max-templates", type=int, default=50000, help="templates before StatusCode 11")
	_add_punch_options(serve)

	send = commands.add_parser(
		"send", help="send RealTime punch callbacks to a site (with photos, a clock change)"
	)
	send.add_argument("--url", required=True, help="the callback URL, with ?stgid=... if you use it")
	send.add_argument("--token", required=True, help="the device's AuthToken")
	send.add_argument("--key", help="the device's AES security key")
	send.add_argument("--derivation", default="sha256", choices=sorted(aes.KEY_DERIVATIONS))
	send.add_argument("--serial", default="SIM-SERIAL", help="the SerialNumber to report")
	send.add_argument("--host-header", help="a Host header, to pick a site on a multi-site bench")
	send.add_argument("--shuffle", action="store_true", help="send in random order")
	send.add_argument("--duplicates", type=float, default=0.0, help="share of punches sent twice (0-1)")
	send.add_argument("--concurrency", type=int, default=4)
	send.add_argument(
		"--photos",
		nargs="?",
		const="after",
		choices=PHOTO_ORDERS,
		help="send each punch's attendance photo too: right after it (the default) or before it",
	)
	send.add_argument("--photo", metavar="JPEG", help="the photo to send (default: a small sample portrait)")
	send.add_argument(
		"--date-modified",
		metavar="LOGTIME",
		help="end with a callback saying the device clock was set to this time,"
		" e.g. '2024-09-17 09:05:00 GMT +0530' (--users 0: only that callback)",
	)
	_add_punch_options(send)

	generate = commands.add_parser("generate", help="print a punch set as JSON")
	_add_punch_options(generate)

	args = parser.parse_args(argv)
	if args.command == "generate":
		json.dump(_punch_set(args), sys.stdout, indent=1)
		print()
		return 0

	if args.command == "send":
		rows = _punch_set(args)
		headers = {"Host": args.host_header} if args.host_header else None
		photo = None
		if args.photo:
			with open(args.photo, "rb") as f:
				photo = f.read()
		result = send_callbacks(
			args.url,
			rows,
			args.token,
			security_key=args.key,
			aes_key_derivation=args.derivation,
			shuffle=args.shuffle,
			duplicates=args.duplicates,
			concurrency=args.concurrency,
			seed=args.seed,
			headers=headers,
			serial_number=args.serial,
			photos=args.photos,
			photo=photo,
			date_modified=args.date_modified,
		)
		print(json.dumps(result, indent=1))
		return 0 if set(result["outcomes"]) == {"200"} else 1

	gateway = Gateway(
		args.stgid,
		args.token,
		_punch_set(args),
		security_key=args.key,
		paging=args.paging,
		callback_url=args.callback_url,
		max_users=args.max_users,
		max_templates=args.max_templates,
	)
	gateway.fail_next(*(json.loads(spec) for spec in args.fail))
	if args.always:
		gateway.always = json.loads(args.always)
	gateway.loadlog_switched_off = args.loadlog_off
	server = simulator.GatewayServer(gateway, args.host, args.port)
	print(
		f"CAMS gateway simulator on {server.url} — stgid {gateway.service_tag_id}, AuthToken {gateway.auth_token}"
	)
	print(
		f"{len(gateway.punches)} punches, paged by {gateway.paging}; put {server.url} as the RESTful"
		" Endpoint URL. Ctrl-C stops."
	)
	if gateway.callback_url:
		print(f"Resend and Enroll post their callbacks to {gateway.callback_url}")
	stop = threading.Event()
	if args.live:
		if not gateway.callback_url:
			parser.error("--live needs --callback-url: the punches go there")
		user_ids = [str(1000 + i) for i in range(args.users)]
		threading.Thread(target=_punch_live, args=(gateway, user_ids, args.live, stop), daemon=True).start()
		print(f"A punch every {args.live:g} s from users {user_ids[0]}-{user_ids[-1]}", flush=True)
	try:
		server.httpd.serve_forever()
	except KeyboardInterrupt:
		pass
	finally:
		stop.set()
		server.httpd.server_close()
	return 0


def _punch_live(gateway, user_ids: list[str], every: float, stop: threading.Event):
	"""Users punch in turn, each IN then OUT, one every ``every`` seconds, until ``stop``."""
	turns = itertools.cycle([(user_id, kind) for kind in ("CheckIn", "CheckOut") for user_id in user_ids])
	while not stop.wait(every):
		user_id, kind = next(turns)
		row = gateway.punch(user_id, kind)
		print(f"{row['LogTime']}  {kind:<8} user {user_id}", flush=True)


if __name__ == "__main__":
	sys.exit(main())
