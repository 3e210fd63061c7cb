"""A streaming client for the tests: reads a streamed chat completion with
urllib and prints the content. With `--careful` it exits 1 unless the stream
had a finish reason, `[DONE]` and only JSON chunks; without, it prints what
it got and exits 0 (a client that trusts whatever arrived)."""

import json
import os
import sys
import urllib.request

careful = "--careful" in sys.argv
body = json.dumps({"model": "mock-gpt", "max_tokens": 16, "stream": True,
                   "messages": [{"role": "user", "content": "Reply with READY."}]}).encode()
req = urllib.request.Request(
    os.environ["OPENAI_BASE_URL"].rstrip("/") + "/chat/completions", data=body,
    headers={"Authorization": "Bearer " + os.environ["OPENAI_API_KEY"],
             "Content-Type": "application/json", "x-client-request-id": "stream-%d" % os.getpid()})
content, finish, done, bad = "", None, False, 0
try:
    with urllib.request.urlopen(req, timeout=5) as r:
        for raw in r:
            line = raw.decode("utf-8", "replace").strip()
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                done = True
                continue
            try:
                chunk = json.loads(data)
            except ValueError:
                bad += 1
                continue
            for c in chunk.get("choices", []):
                content += (c.get("delta") or {}).get("content") or ""
                finish = c.get("finish_reason") or finish
except Exception as e:  # noqa: BLE001 - a dropped stream
    print("stream broke:", type(e).__name__, file=sys.stderr)
    if careful:
        sys.exit(1)
print("content length", len(content))
if careful and (finish is None or not done or bad):
    print("incomplete stream", file=sys.stderr)
    sys.exit(1)
