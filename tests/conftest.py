import json
import os
from pathlib import Path

import pytest

# The sample bodies live beside the repo in shared/ (CI clones with shared/ beside it);
# CAMS_PAYLOADS points elsewhere when needed.
PAYLOADS = Path(
	os.environ.get("CAMS_PAYLOADS", Path(__file__).resolve().parents[2] / "shared" / "cams-api" / "payloads")
)


def load_payload(name: str) -> dict:
	return json.loads((PAYLOADS / name).read_text())


@pytest.fixture
def payload():
	if not PAYLOADS.is_dir():
		pytest.skip(f"sample payloads not found at {PAYLOADS}")
	return load_payload
