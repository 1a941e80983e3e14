"""An outside service for the http_request tests: a real HTTP server on 127.0.0.1 in a thread,
which keeps every request it got and counts them per Idempotency-Key.

Paths: `/ok` answers 200 with JSON (`{"data": {"id": 42, …}}` and text that must never reach a
visitor), `/fail` 500 with a body, `/slow?seconds=N` sleeps, then 200, `/text` 200 with a body
that is not JSON, `/redirect?to=URL` 302 to URL.
"""

from __future__ import annotations

import pytest

import json
import ssl
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANSWER = {"data": {"id": 42, "name": "Ada", "vip": True}, "note": "RESPONSE-ONLY-TEXT"}
FAILURE_BODY = "PARTNER-STACK-TRACE at line 12"


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: str


@dataclass
class PartnerServer:
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, *, tls: tuple[str, str] | None = None) -> PartnerServer:
        """Serve on 127.0.0.1; with `tls` (certificate file, key file), https."""
        partner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def handle_any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                with partner.lock:
                    partner.received.append(Received(self.command, self.path, dict(self.headers), body))
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                if url.path == "/ok":
                    self.answer(200, json.dumps(ANSWER), "application/json")
                elif url.path == "/fail":
                    self.answer(500, FAILURE_BODY, "text/plain")
                elif url.path == "/slow":
                    time.sleep(float(query.get("seconds", "3")))
                    self.answer(200, json.dumps(ANSWER), "application/json")
                elif url.path == "/text":
                    self.answer(200, "<html>not json</html>", "text/html")
                elif url.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", query["to"])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    self.answer(404, "no such path", "text/plain")

            def answer(self, status: int, text: str, content_type: str) -> None:
                data = text.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the caller gave up (a timeout)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address) -> None:
                pass  # a caller that closed its connection early (a timeout, an answer it did not read)

        self.server = Server(("127.0.0.1", 0), Handler)
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if tls else "http"
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def calls(self, key: str | None = None) -> list[Received]:
        with self.lock:
            received = list(self.received)
        return [item for item in received if key is None or item.headers.get("Idempotency-Key") == key]

    def counts(self) -> Counter:
        return Counter(item.headers.get("Idempotency-Key") for item in self.calls())


# The form the partner's tests submit: its answer's id and status are stored in internal fields.
CRM_FIELDS = [{"name": "name"}, {"name": "customer_id", "type": "number", "internal": True},
              {"name": "status", "internal": True}]


@pytest.fixture
def partner():
    """A partner server on loopback for the test, stopped after it."""
    server = PartnerServer().start()
    yield server
    server.stop()
