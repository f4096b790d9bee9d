"""Callback ingest against Frappe's own /api/method/ping on the same server.

Plain Python (no Frappe): `python ingest.py --url http://127.0.0.1:8000 --host SITE --devices JSON
--punches 10000`. Both loads use the same concurrency (one sender per device) and count.
"""

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import requests

from cams_biometric.protocol.simulator import callback_body, generate_punches, percentile


def run(label, requests_by_sender, url_for, body_for, host, method="POST"):
	latencies, outcomes = [], {}

	def sender(items):
		session = requests.Session()
		mine = []
		for item in items:
			started = time.perf_counter()
			response = session.request(
				method,
				url_for(item),
				data=body_for(item),
				headers={"Host": host, "Content-Type": "application/json"},
				timeout=60,
			)
			mine.append((time.perf_counter() - started, response.status_code))
		return mine

	started = time.perf_counter()
	with ThreadPoolExecutor(max_workers=len(requests_by_sender)) as pool:
		for result in pool.map(sender, requests_by_sender):
			for latency, status in result:
				latencies.append(latency)
				outcomes[status] = outcomes.get(status, 0) + 1
	elapsed = time.perf_counter() - started
	latencies.sort()
	return {
		"label": label,
		"requests": len(latencies),
		"seconds": elapsed,
		"per_second": len(latencies) / elapsed,
		"p50_ms": percentile(latencies, 50) * 1000,
		"p99_ms": percentile(latencies, 99) * 1000,
		"outcomes": outcomes,
	}


def main():
	parser = argparse.ArgumentParser()
	parser.add_argument("--url", default="http://127.0.0.1:8000")
	parser.add_argument("--host", required=True, help="the site name (Host header)")
	parser.add_argument("--devices", required=True, help="JSON {stgid: token} from fixtures.py")
	parser.add_argument("--punches", type=int, default=10000)
	parser.add_argument("--employees", type=int, default=500)
	parser.add_argument("--end-days-ago", type=int, default=1, help="fresh punches for each run")
	args = parser.parse_args()
	devices = json.loads(args.devices)

	days = max(1, -(-args.punches // (args.employees * 4)))
	user_ids = [f"B{i:04d}" for i in range(args.employees)]
	rows = generate_punches(
		args.employees,
		days,
		4,
		end=datetime.now(timezone.utc) - timedelta(days=args.end_days_ago),
		user_ids=user_ids,
	)[: args.punches]
	names = list(devices)
	per_device = [[] for _ in names]
	for index, row in enumerate(rows):
		per_device[index % len(names)].append((names[index % len(names)], row))

	ping = run(
		"/api/method/ping",
		[[None] * len(items) for items in per_device],
		lambda item: f"{args.url}/api/method/ping",
		lambda item: None,
		args.host,
		method="GET",
	)
	callback = run(
		"cams_biometric.api.callback",
		per_device,
		lambda item: f"{args.url}/api/method/cams_biometric.api.callback?stgid={item[0]}",
		lambda item: json.dumps(callback_body(item[1], devices[item[0]])).encode(),
		args.host,
	)
	print(f"\nCallback ingest: {len(rows)} punches from {len(names)} concurrent devices\n")
	print("| endpoint | requests | req/s | p50 ms | p99 ms | answers |")
	print("| --- | ---: | ---: | ---: | ---: | --- |")
	for r in (ping, callback):
		print(
			f"| {r['label']} | {r['requests']} | {r['per_second']:.1f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['outcomes']} |"
		)
	ratio = callback["per_second"] / ping["per_second"]
	p99 = callback["p99_ms"] / ping["p99_ms"]
	print(f"\nthroughput {ratio:.0%} of ping (target >= 50%); p99 {p99:.1f}x ping's (target <= 3x)")
	print(
		json.dumps(
			{
				"ingest_ratio": ratio,
				"p99_ratio": p99,
				"callback_per_second": callback["per_second"],
				"callback_p50_ms": callback["p50_ms"],
				"callback_p99_ms": callback["p99_ms"],
				"ping_per_second": ping["per_second"],
				"last_callback_at": time.time(),
			}
		)
	)


if __name__ == "__main__":
	main()
