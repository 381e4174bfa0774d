"""A loopback HTTP server for the download tests: routes -> bytes, with faults on demand. No internet."""

from __future__ import annotations

import http.server
import threading
import time
from dataclasses import dataclass, field

import pytest


@dataclass
class Route:
    body: bytes
    status: int = 200
    declared_length: int | None = None  # a Content-Length larger than the body simulates a cut connection
    delay: float = 0.0  # seconds to stall after the first half (timeouts, lock waiting)


@dataclass
class Server:
    base: str
    routes: dict = field(default_factory=dict)
    hits: dict = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.base + path

    def serve(self, path: str, body: bytes, **faults) -> str:
        """Serve ``body`` at ``path`` (faults: status, declared_length, delay); returns its URL."""
        self.routes[path] = Route(body, **faults)
        return self.url(path)


@pytest.fixture
def server():
    state = Server("")
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep pytest's output clean
            pass

        def do_GET(self):  # noqa: N802 - http.server's name
            with lock:
                state.hits[self.path] = state.hits.get(self.path, 0) + 1
            route = state.routes.get(self.path)
            if route is None:
                self.send_error(404)
                return
            if route.status != 200:
                self.send_error(route.status)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(route.declared_length or len(route.body)))
            self.end_headers()
            half = len(route.body) // 2
            try:
                self.wfile.write(route.body[:half])
                self.wfile.flush()
                time.sleep(route.delay)
                self.wfile.write(route.body[half:])
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)
            self.close_connection = True

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def closed_port_url():
    """A loopback URL nobody listens on: connecting fails at once, like a machine without network."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"
