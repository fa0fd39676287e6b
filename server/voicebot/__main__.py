"""``python -m voicebot 2``: the voice-bot server, as ``06_parallel_tts_warmup.py 2`` starts it.

Tests and benchmarks start the server this way, so they do not depend on the seed's script
name. multiprocessing never re-runs a ``__main__`` module in its children, so the TTS workers
do not import the server (and Pipecat) again.
"""

import sys

from voicebot.main import main

if __name__ == "__main__":
    sys.exit(main())
