"""A loopback HTTP target for the client's tests.

    /status/CODE   answers CODE, body "status CODE"
    /json          a JSON body
    /bytes         a body that is not UTF-8
    /latin1        text/plain; charset=iso-8859-1, "café" in latin-1
    /echo          the request as JSON: method, path, query, headers, body
    /sleep/MS      answers after MS milliseconds
"""
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _answer(self, code, body, ctype="text/plain; charset=utf-8", extra=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Target", "reqfleet-tests")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _route(self):
        u = urllib.parse.urlsplit(self.path)
        parts = u.path.strip("/").split("/")
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if parts[0] == "status":
            code = int(parts[1])
            self._answer(code, f"status {code}".encode())
        elif parts[0] == "json":
            self._answer(200, json.dumps({"hello": "fleet", "n": [1, 2, 3]}).encode(), "application/json")
        elif parts[0] == "bytes":
            self._answer(200, bytes(range(256)), "application/octet-stream")
        elif parts[0] == "latin1":
            self._answer(200, "café".encode("latin-1"), "text/plain; charset=iso-8859-1")
        elif parts[0] == "echo":
            self._answer(200, json.dumps({
                "method": self.command, "path": u.path, "query": urllib.parse.parse_qs(u.query),
                "headers": {k: v for k, v in self.headers.items()}, "body": body.decode("latin-1"),
            }).encode(), "application/json")
        elif parts[0] == "sleep":
            time.sleep(int(parts[1]) / 1000)
            self._answer(200, b"slept")
        else:
            self._answer(404, b"no such page")

    def _serve(self):
        try:
            self._route()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the worker gave up first (a read timeout)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve


class Target:
    def __init__(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
