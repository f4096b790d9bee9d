"""Failed callback authentications: the per-address limit, and what the device form shows.

Both live in Redis only, so that a flood of unauthenticated bodies costs no database write.
Neither keeps a body or a token: a failure is a time and a reason.
"""

import ipaddress
from functools import lru_cache

import frappe
from frappe.utils import cint, now_datetime

# Failed authentications allowed per address and window before answers turn to 429.
# Valid bodies are never limited: the gateway sends every device's punches from a few
# addresses, so limiting by address alone would drop real punches.
AUTH_FAILURE_LIMIT = 20
AUTH_FAILURE_WINDOW = 60  # seconds

# A device's record of failures is forgotten this long after its last failure.
DEVICE_RECORD_SECONDS = 7 * 24 * 3600

TRUSTED_PROXIES_CONF = "cams_biometric_trusted_proxies"


def too_many_failures(address: str) -> bool:
	"""Count a failed authentication from ``address``; True once it is over the limit."""
	limit = cint(frappe.conf.get("cams_auth_failure_limit")) or AUTH_FAILURE_LIMIT
	key = frappe.cache.make_key(f"cams_biometric:auth_failures:{address}")
	failures = frappe.cache.incr(key)
	if failures == 1:
		frappe.cache.expire(key, AUTH_FAILURE_WINDOW)
	return failures > limit


def client_address(request) -> str:
	"""The address a callback came from, as far as a trusted party says so.

	X-Forwarded-For is the caller's to write, so it counts only behind a proxy listed in
	site config ``cams_biometric_trusted_proxies`` (addresses or networks): then the
	address is the last one in the header that no trusted proxy added. Otherwise it is the
	socket's.
	"""
	remote = request.remote_addr or "unknown"
	trusted = _trusted_networks(tuple(_as_list(frappe.conf.get(TRUSTED_PROXIES_CONF))))
	if not trusted or not _is_trusted(remote, trusted):
		return remote
	forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",")]
	for address in reversed([part for part in forwarded if part]):
		if not _is_trusted(address, trusted):
			return address
	return remote


def _as_list(value) -> list[str]:
	if not value:
		return []
	return [value] if isinstance(value, str) else [str(v) for v in value]


@lru_cache(maxsize=32)
def _trusted_networks(entries: tuple[str, ...]) -> tuple:
	networks = []
	for entry in entries:
		try:
			networks.append(ipaddress.ip_network(entry.strip(), strict=False))
		except ValueError:
			continue  # a typo in site config must not open the limit to everyone
	return tuple(networks)


def _is_trusted(address: str, networks: tuple) -> bool:
	try:
		ip = ipaddress.ip_address(address)
	except ValueError:
		return False
	return any(ip in network for network in networks)


def _device_key(device: str) -> str:
	return frappe.cache.make_key(f"cams_biometric:device_auth_failures:{device}")


def record_device_failure(device: str, reason: str):
	"""Note a failed authentication of a body whose ?stgid= names ``device``."""
	key = _device_key(device)
	now = str(now_datetime().replace(microsecond=0))
	pipe = frappe.cache.pipeline()
	pipe.hincrby(key, "count", 1)
	pipe.hincrby(key, f"reason:{reason}", 1)
	pipe.hsetnx(key, "since", now)
	pipe.hset(key, mapping={"last_at": now, "last_reason": reason})
	pipe.expire(key, DEVICE_RECORD_SECONDS)
	pipe.execute()


def device_failures(device: str) -> dict | None:
	"""{count, since, last_at, last_reason, reasons: {reason: count}}, or None if there were none."""
	# Through a pipeline: the cache wrapper's own hgetall unpickles what it reads.
	[stored] = frappe.cache.pipeline().hgetall(_device_key(device)).execute()
	raw = {k.decode(): v.decode() for k, v in (stored or {}).items()}
	if not raw.get("count"):
		return None
	return {
		"count": cint(raw["count"]),
		"since": raw.get("since"),
		"last_at": raw.get("last_at"),
		"last_reason": raw.get("last_reason"),
		"reasons": {k.removeprefix("reason:"): cint(v) for k, v in raw.items() if k.startswith("reason:")},
	}


def clear_device_failures(device: str):
	frappe.cache.delete_value(_device_key(device), make_keys=False)
