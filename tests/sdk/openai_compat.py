"""The official OpenAI Python SDK against `shipgate mock-server`.

Proves the mock answers the SDK the way a real OpenAI-compatible server does:
completions, streaming with usage, models, the SDK's error classes, and the
SDK's own retry honouring `retry-after-ms`. Loopback only; every server it
starts is stopped at the end.

usage: python openai_compat.py PATH/TO/shipgate
"""

import os
import socket
import subprocess
import sys
import time

import openai

KEY = "sk-sdk-compat-key-0123456789abcdefghij"
results = []


def check(name, fn):
    try:
        fn()
        results.append((name, None))
        print(f"ok   {name}")
    except Exception as e:  # noqa: BLE001 - report every failure, keep going
        results.append((name, e))
        print(f"FAIL {name}: {type(e).__name__}: {e}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_mock(shipgate, *faults):
    port = free_port()
    args = [shipgate, "mock-server", "--port", str(port)]
    for f in faults:
        args += ["--fault", f]
    proc = subprocess.Popen(args, env={**os.environ, "SHIPGATE_MOCK_KEY": KEY}, stdout=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc, f"http://127.0.0.1:{port}/v1"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("mock-server did not start")


def main(shipgate):
    mocks = []
    try:
        proc, base = start_mock(shipgate)
        mocks.append(proc)
        client = openai.OpenAI(base_url=base, api_key=KEY, max_retries=0, timeout=10)
        prompt = [{"role": "user", "content": "Return the word READY and nothing else."}]

        def completion():
            raw = client.chat.completions.with_raw_response.create(model="mock-gpt", messages=prompt, temperature=0)
            r = raw.parse()
            assert r.choices[0].message.content == "READY", r
            assert r.choices[0].finish_reason == "stop"
            assert r.object == "chat.completion" and r.id.startswith("chatcmpl-")
            assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
            assert raw.headers.get("x-request-id", "").startswith("req_")

        def streaming():
            stream = client.chat.completions.create(
                model="mock-gpt", messages=prompt, stream=True, stream_options={"include_usage": True}
            )
            text, finish, usage = "", None, None
            for chunk in stream:
                if chunk.choices:
                    text += chunk.choices[0].delta.content or ""
                    finish = chunk.choices[0].finish_reason or finish
                if chunk.usage:
                    usage = chunk.usage
            assert text == "READY" and finish == "stop" and usage and usage.completion_tokens == 1, (text, finish, usage)

        def max_tokens_length():
            r = client.chat.completions.create(
                model="mock-gpt", messages=[{"role": "user", "content": "Say something long."}], max_tokens=2
            )
            assert r.choices[0].finish_reason == "length" and r.usage.completion_tokens == 2, r

        def models():
            assert "mock-gpt" in [m.id for m in client.models.list()]

        def model_retrieve():
            assert client.models.retrieve("mock-gpt").id == "mock-gpt"
            try:
                client.models.retrieve("no-such-model")
            except openai.NotFoundError as e:
                assert e.code == "model_not_found", e
                return
            raise AssertionError("no NotFoundError")

        def n_choices():
            r = client.chat.completions.create(model="mock-gpt", messages=prompt, n=2, seed=7)
            assert [c.index for c in r.choices] == [0, 1], r

        def json_object():
            import json
            r = client.chat.completions.create(
                model="mock-gpt", messages=prompt, response_format={"type": "json_object"})
            assert json.loads(r.choices[0].message.content)["answer"] == "READY", r

        def tools():
            r = client.chat.completions.create(model="mock-gpt", messages=prompt, tools=[{
                "type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}])
            call = r.choices[0].message.tool_calls[0]
            assert call.function.name == "lookup" and r.choices[0].finish_reason == "tool_calls", r

        def bad_key():
            bad = openai.OpenAI(base_url=base, api_key="sk-wrong-key-000000000000", max_retries=0)
            try:
                bad.chat.completions.create(model="mock-gpt", messages=prompt)
            except openai.AuthenticationError as e:
                assert e.status_code == 401 and e.code == "invalid_api_key", e
                return
            raise AssertionError("no AuthenticationError")

        def unknown_model():
            try:
                client.chat.completions.create(model="no-such-model", messages=prompt)
            except openai.NotFoundError as e:
                assert e.status_code == 404 and e.code == "model_not_found", e
                return
            raise AssertionError("no NotFoundError")

        def bad_request():
            try:
                client.chat.completions.create(model="mock-gpt", messages=[])
            except openai.BadRequestError as e:
                assert e.status_code == 400 and e.param == "messages", e
                return
            raise AssertionError("no BadRequestError")

        for name, fn in [
            ("completion", completion),
            ("streaming with usage", streaming),
            ("max_tokens gives finish_reason length", max_tokens_length),
            ("models.list", models),
            ("models.retrieve", model_retrieve),
            ("n = 2 gives two choices (seed accepted)", n_choices),
            ("response_format json_object answers JSON", json_object),
            ("tools give a tool call", tools),
            ("bad key is AuthenticationError 401", bad_key),
            ("unknown model is NotFoundError 404", unknown_model),
            ("empty messages is BadRequestError 400", bad_request),
        ]:
            check(name, fn)

        # The SDK's own retry: 429 with retry-after-ms, then 503, then success.
        proc, base2 = start_mock(shipgate, "rate-limit-ms:300", "status:503")
        mocks.append(proc)

        def sdk_retries():
            retrying = openai.OpenAI(base_url=base2, api_key=KEY, max_retries=2, timeout=10)
            t0 = time.monotonic()
            r = retrying.chat.completions.create(model="mock-gpt", messages=prompt)
            elapsed = time.monotonic() - t0
            assert r.choices[0].message.content == "READY"
            assert elapsed >= 0.3, f"retried before retry-after-ms elapsed ({elapsed:.3f}s)"

        check("SDK retries 429 (retry-after-ms) and 503, then succeeds", sdk_retries)
    finally:
        for p in mocks:
            p.terminate()
            p.wait(timeout=10)
    failed = sum(1 for _, e in results if e)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
