import sys

from cams_biometric.protocol.simulator.cli import main

sys.exit(main())
