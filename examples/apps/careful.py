"""A careful chat client: the official OpenAI SDK with bounded retries and a
timeout from the environment, and logging that never prints the key.

shipgate runs it once per fault scenario:

    shipgate run --mock --plan examples/apps/plan.toml -- python examples/apps/careful.py

It reads OPENAI_BASE_URL and OPENAI_API_KEY (shipgate gives it a placeholder
key and its interposer's address) and APP_TIMEOUT_S.
"""

import os
import sys

import openai

client = openai.OpenAI(
    timeout=float(os.environ.get("APP_TIMEOUT_S", "10")),
    max_retries=2,
)

try:
    r = client.chat.completions.create(
        model=os.environ.get("APP_MODEL", "mock-gpt"),
        messages=[{"role": "user", "content": "Reply with READY."}],
        max_tokens=16,
    )
    print("answer:", r.choices[0].message.content)
except openai.APIStatusError as e:
    # The status and the request id, never the key or the prompt.
    print(f"request failed: HTTP {e.status_code} ({e.request_id})", file=sys.stderr)
    sys.exit(1)
except openai.APIError as e:
    print(f"request failed: {type(e).__name__}", file=sys.stderr)
    sys.exit(1)
