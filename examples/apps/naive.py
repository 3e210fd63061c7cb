"""A naive chat client, for comparison: it retries everything at once, has
no timeout, ignores Retry-After, and prints its key when something fails.
Never ship a client like this; shipgate holds it with named verdicts:

    shipgate run --mock -- python examples/apps/naive.py
"""

import json
import os
import urllib.error
import urllib.request

base = os.environ["OPENAI_BASE_URL"].rstrip("/")
key = os.environ["OPENAI_API_KEY"]
body = json.dumps(
    {"model": "mock-gpt", "messages": [{"role": "user", "content": "Reply with READY."}]}
).encode()

for attempt in range(6):
    req = urllib.request.Request(
        base + "/chat/completions",
        data=body,
        headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req) as resp:  # no timeout
            print("answer:", json.load(resp)["choices"][0]["message"]["content"])
            break
    except Exception as e:  # noqa: BLE001 - retries everything, immediately
        print(f"attempt {attempt + 1} failed with key {key}: {e}")
