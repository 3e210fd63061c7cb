"""A service-style application for the tests: it serves /health and, on
POST /ask, makes one chat request through OPENAI_BASE_URL with bounded
retries and a timeout. Listens on 127.0.0.1:$PORT."""

import json
import os
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

BASE = os.environ["OPENAI_BASE_URL"].rstrip("/")
KEY = os.environ["OPENAI_API_KEY"]


def ask():
    body = json.dumps({"model": "mock-gpt", "max_tokens": 16,
                       "messages": [{"role": "user", "content": "Reply with READY."}]}).encode()
    delay = 0.3
    for attempt in range(3):
        req = urllib.request.Request(BASE + "/chat/completions", data=body, headers={
            "Authorization": "Bearer " + KEY, "Content-Type": "application/json",
            "Idempotency-Key": "svc-%d" % os.getpid()})
        try:
            with urllib.request.urlopen(req, timeout=1.5) as r:
                return r.status
        except urllib.error.HTTPError as e:
            if e.code != 429 and e.code < 500:
                return e.code
            wait = float(e.headers.get("Retry-After") or delay)
        except Exception:  # noqa: BLE001 - a timeout or a reset
            wait = delay
        time.sleep(wait)
        delay *= 2
    return 503


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()

    def do_POST(self):
        status = ask()
        self.send_response(200 if status == 200 else 502)
        self.end_headers()

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
