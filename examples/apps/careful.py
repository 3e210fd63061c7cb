"""A careful chat client: the official OpenAI SDK with bounded retries, a
timeout from the environment, its own correlation id on every request, one
JSON telemetry line per request with the guide's step-6 fields, and logging
that never prints the key, the prompt or the answer.

shipgate runs it once per fault scenario:

    shipgate run --mock --plan examples/apps/plan.toml -- python examples/apps/careful.py

It reads OPENAI_BASE_URL and OPENAI_API_KEY (shipgate gives it its
interposer's address and a placeholder key), APP_TIMEOUT_S and APP_MODEL.
"""

import json
import os
import sys
import time
import uuid

import openai

MODEL = os.environ.get("APP_MODEL", "mock-gpt")
client = openai.OpenAI(
    timeout=float(os.environ.get("APP_TIMEOUT_S", "10")),
    max_retries=2,
)

correlation_id = str(uuid.uuid4())
event = {
    "request_category": "chat",
    "operation": "chat.completions",
    "model": MODEL,
    "correlation_id": correlation_id,
    "retries": 0,
    "timeouts": 0,
    "parse_ok": False,
}
started = time.monotonic()
code = 0
try:
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Reply with READY."}],
        max_tokens=16,
        extra_headers={"x-client-request-id": correlation_id},
    )
    answer = raw.parse()
    event.update(
        status=raw.status_code,
        error_category="none",
        retries=raw.retries_taken,
        parse_ok=bool(answer.choices and answer.choices[0].message.content),
        provider_request_id=raw.headers.get("x-request-id"),
    )
except openai.APITimeoutError:
    event.update(status=None, error_category="timeout", timeouts=1)
    code = 1
except openai.APIStatusError as e:
    category = "rate_limit" if e.status_code == 429 else (
        "server" if e.status_code >= 500 else "client")
    event.update(status=e.status_code, error_category=category,
                 provider_request_id=e.request_id)
    code = 1
except openai.APIConnectionError:
    event.update(status=None, error_category="connection")
    code = 1
event["latency_ms"] = round((time.monotonic() - started) * 1000)
print(json.dumps(event))
sys.exit(code)
