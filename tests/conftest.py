import json
import os
from pathlib import Path

import pytest

# Sample bodies of the CAMS wire format, kept in the repository so that a clone alone runs
# every test; CAMS_PAYLOADS points at another folder of them (e.g. a newer set to try).
PAYLOADS = Path(os.environ.get("CAMS_PAYLOADS", Path(__file__).resolve().parent / "fixtures" / "payloads"))


def load_payload(name: str) -> dict:
	return json.loads((PAYLOADS / name).read_text())


@pytest.fixture
def payload():
	return load_payload


@pytest.fixture
def served_gateways(monkeypatch):
	"""The gateways `cams-simulator serve` would serve, without listening or blocking."""
	from cams_biometric.protocol import simulator

	served = []

	class Server:
		url = "http://127.0.0.1:8123/"

		def __init__(self, gateway, host, port):
			served.append(gateway)
			self.httpd = self

		def serve_forever(self):
			pass

		def server_close(self):
			pass

	monkeypatch.setattr(simulator, "GatewayServer", Server)
	return served
