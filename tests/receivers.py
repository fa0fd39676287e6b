"""A webhook receiver on loopback, as an owner would write one: it checks each signature, accepts an
event id once (de-duplication), and can be told to fail its next requests (the fault tests)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from voicebot.events.signing import verify


@dataclass
class Received:
    event_id: str
    body: dict
    signed: bool


@dataclass
class WebhookReceiver:
    secret: str
    fail_next: int = 0  # answer this many requests with 503 before accepting any
    requests: list[Received] = field(default_factory=list)
    accepted: dict[str, dict] = field(default_factory=dict)  # event id → body, each id once
    accepted_at: dict[str, float] = field(default_factory=dict)  # event id → when (epoch s) it was accepted
    duplicates: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, port: int = 0) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                event_id = self.headers.get("X-Voicebot-Event-Id", "")
                signed = verify(receiver.secret, body, self.headers.get("X-Voicebot-Signature", ""))
                with receiver.lock:
                    receiver.requests.append(Received(event_id, json.loads(body), signed))
                    if receiver.fail_next > 0:
                        receiver.fail_next -= 1
                        status = 503
                    elif not signed:
                        status = 401
                    elif event_id in receiver.accepted:
                        receiver.duplicates += 1
                        status = 200  # already have it: acknowledged, not processed again
                    else:
                        receiver.accepted[event_id] = json.loads(body)
                        receiver.accepted_at[event_id] = time.time()
                        status = 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/voicebot"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class BoardStream:
    """The owner's event stream (``GET /api/owner/events``) read in a thread, as a board reads it: the
    first ``count`` events' JSON in ``received``; ``opened`` is set once the stream's headers came."""

    def __init__(self, url: str, token: str, count: int, timeout_s: float = 120):
        import httpx

        self.received: list[dict] = []
        self.content_type = ""
        self.opened = threading.Event()

        def read() -> None:
            with httpx.stream("GET", f"{url}/api/owner/events", timeout=timeout_s,
                              headers={"Authorization": f"Bearer {token}"}) as response:
                self.content_type = response.headers.get("content-type", "")
                self.opened.set()
                for line in response.iter_lines():
                    if line.startswith("data:"):
                        self.received.append(json.loads(line[5:]))
                        if len(self.received) == count:
                            return

        self.thread = threading.Thread(target=read, daemon=True)
        self.thread.start()
