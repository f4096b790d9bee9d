"""``cams-simulator``: plays the CAMS gateway and a device behind it on this machine.

- ``serve``: the RESTful endpoint for all 27 operations against a stateful device: LoadLog
  with 50-row pages and offsets, DeviceInformation, AddUser with templates or without,
  Delete (a user, all users, the log, the photos), Resend (a range's punches, all users:
  posted as callbacks to ``--callback-url``), EnrollFingerPrint, UpdateAccessTime,
  Enable/DisableUser, with the device's StatusCodes (8 user exists, 9 user not found,
  10 template error, 11 memory full) and failures on demand. ``--paging time`` plays a
  gateway whose LoadLog names no offset we know and pages by StartTime only.
- ``send``: RealTime PunchLog callbacks to a site's callback URL, plain or AES-encrypted,
  in order or shuffled, with duplicates; with ``--photos`` each punch's attendance photo
  (RealTimeAttendancePhoto) too, and with ``--date-modified`` a change of the device clock
  (ManuallyDateModified).
- ``generate``: a punch set as JSON, to load into ``serve`` or ``send`` later.

An admin uses it to try an installation before any device is connected; the tests use it
as the remote end. It listens on 127.0.0.1 unless told otherwise.

The package: ``device`` (the device's state and operations), ``server`` (the RESTful
endpoint), ``callbacks`` (what the device posts), ``cli`` (the command line).
"""

from cams_biometric.protocol.simulator.callbacks import (
	SAMPLE_PHOTO,
	callback_body,
	date_modified_body,
	percentile,
	photo_body,
	photo_event,
	photo_jpeg,
	post_callbacks,
	punch_event,
	realtime_body,
	send_callbacks,
)
from cams_biometric.protocol.simulator.cli import main
from cams_biometric.protocol.simulator.device import (
	DAY_PLAN,
	INPUT_TYPES,
	Device,
	day_punches,
	generate_punches,
)
from cams_biometric.protocol.simulator.server import PAGING_MODES, Gateway, GatewayServer, _Handler

__all__ = [
	"DAY_PLAN",
	"INPUT_TYPES",
	"PAGING_MODES",
	"SAMPLE_PHOTO",
	"Device",
	"Gateway",
	"GatewayServer",
	"_Handler",
	"callback_body",
	"date_modified_body",
	"day_punches",
	"generate_punches",
	"main",
	"percentile",
	"photo_body",
	"photo_event",
	"photo_jpeg",
	"post_callbacks",
	"punch_event",
	"realtime_body",
	"send_callbacks",
]
