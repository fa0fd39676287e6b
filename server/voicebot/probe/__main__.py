"""``python -m voicebot.probe``: the same as ``call-probe``."""

import sys

from voicebot.probe.cli import main

sys.exit(main())
