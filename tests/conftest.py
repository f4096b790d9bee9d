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
