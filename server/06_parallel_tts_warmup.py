"""06: the voice-bot server with the Kokoro TTS worker warmed in parallel on connect.

    uv run 06_parallel_tts_warmup.py 2            # company #2 from the business database
    uv run 06_parallel_tts_warmup.py 2 --help     # flags: --port, --tts-warmup, engines...
"""

import sys

from voicebot.main import main

if __name__ == "__main__":
    sys.exit(main())
