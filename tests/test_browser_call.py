"""A real call from headless Chromium through the browser client to the voicebot.

Needs (see tests/browser/call.mjs): node, `npm ci` in client/ (for playwright-core),
Debian's chromium at /usr/bin/chromium (or CHROMIUM_PATH), and the server serving
the built client (`npm run build` in client/).

Fixtures from tests/conftest.py:
- voicebot_server: running server; `.url` (http://127.0.0.1:PORT), `.error_log` (Path)
- question_wav: Path to a 16-bit WAV of a caller asking a question
"""

import json
import os
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
CALL_SCRIPT = ROOT / "tests" / "browser" / "call.mjs"
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CALL_TIMEOUT_SECS = 200
# A log line at ERROR or CRITICAL level (loguru or stdlib format), or a traceback.
ERROR_LINE = re.compile(r"\|\s*(ERROR|CRITICAL)\s*\||^(ERROR|CRITICAL):|^Traceback ", re.MULTILINE)


def _require_tools() -> None:
    missing = []
    if not shutil.which("node"):
        missing.append("node (npm: nodejs 20+)")
    if not Path(CHROMIUM).exists():
        missing.append(f"{CHROMIUM} (apt-get install -y chromium)")
    if not (ROOT / "client" / "node_modules" / "playwright-core").is_dir():
        missing.append("client/node_modules/playwright-core (cd client && npm ci)")
    if missing:
        pytest.fail("browser call test needs: " + ", ".join(missing), pytrace=False)


def _read_from(path: Path, offset: int) -> str:
    if not path.exists():
        return ""
    with path.open("rb") as f:
        f.seek(offset)
        return f.read().decode("utf-8", "replace")


def _error_lines(log: str) -> list[str]:
    return [ln for ln in log.splitlines() if ERROR_LINE.search(ln)]


def _run_call(url: str, wav: Path, screenshot: Path) -> dict:
    cmd = [
        "node", str(CALL_SCRIPT),
        "--url", url,
        "--wav", str(wav),
        "--screenshot", str(screenshot),
        "--timeout", str(CALL_TIMEOUT_SECS - 20),
        "--chromium", CHROMIUM,
    ]
    proc = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=CALL_TIMEOUT_SECS
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        pytest.fail(
            f"call.mjs printed no JSON (rc={proc.returncode})\n"
            f"stdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-2000:]}",
            pytrace=False,
        )
    return json.loads(lines[-1])


def _brief(result: dict) -> dict:
    """The parts of the result worth showing in a failure message or the log."""
    keys = (
        "ok", "error", "failedAt", "stages", "firstAudioMs", "greetingText",
        "userTranscript", "botAnswer", "botAudioLevelMax", "questionOverlappedGreeting",
        "greetingDoneTimedOut", "errors", "console", "externalRequests", "offerRequests", "seconds",
    )
    return {k: result.get(k) for k in keys}


@pytest.mark.timeout(CALL_TIMEOUT_SECS + 60)
def test_browser_call(voicebot_server, question_wav):
    _require_tools()
    no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    page = no_proxy.open(voicebot_server.url + "/", timeout=10).read().decode()
    assert 'data-testid="connect"' in page, "server does not serve the built client at /"

    error_log = Path(voicebot_server.error_log)
    log_start = error_log.stat().st_size if error_log.exists() else 0
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "browser_call.png"
    screenshot.unlink(missing_ok=True)

    result = _run_call(voicebot_server.url, Path(question_wav), screenshot)
    (ARTIFACTS / "browser_call.json").write_text(json.dumps(result, indent=2))
    server_log = _read_from(error_log, log_start)
    server_errors = _error_lines(server_log)
    context = (
        f"\nresult: {json.dumps(_brief(result), indent=2)}"
        f"\nserver log during the call ({error_log}):\n{server_log[-3000:] or '(empty)'}"
    )
    print("browser call:", json.dumps(_brief(result)))
    for turn in result.get("turns", []):
        print("turn:", json.dumps(turn))

    assert result.get("greetingHeard"), "no audible greeting at the browser" + context
    assert result.get("botAudioLevelMax", 0) > 0.01, "bot audio was near-silent" + context
    assert result.get("userTranscript", "").strip(), "no user transcript" + context
    assert result.get("botAnswer", "").strip(), "no bot answer after the user's question" + context
    assert result.get("ok"), f"call did not complete: {result.get('error')}" + context
    assert screenshot.is_file() and screenshot.stat().st_size > 0, "no screenshot" + context
    assert not result.get("errors"), "client reported errors" + context
    assert not result.get("externalRequests"), "client made requests off its origin" + context
    assert not server_errors, f"server logged errors during the call: {server_errors[:5]}" + context
