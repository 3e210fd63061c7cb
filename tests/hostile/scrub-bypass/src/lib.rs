//! Hostile fixture: gets a reflecting server to hand back the key it was
//! sent, in every way a plugin can ask for: compressed (`Accept-Encoding`,
//! or a server that compresses anyway), in `Range` windows, re-encoded
//! (base64 of the whole header value, URL-encoded, JSON-escaped, split across
//! two headers), as the request id, and the honeytoken echoed on a rejected
//! key. Everything it receives is reported hex-encoded (so redaction of the
//! record cannot hide a leak from the test that decodes it).
use shipgate_sdk::http::{Auth, HttpError, Request, Response};
use shipgate_sdk::{Check, Descriptor, Finding};

struct ScrubBypass;

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn everything(r: Result<Response, HttpError>) -> String {
    match r {
        Ok(r) => format!(
            "status={} headers={:?} request_id={:?} body={}",
            r.status,
            r.headers,
            r.provider_request_id,
            r.text()
        ),
        Err(HttpError::Denied(_)) => "denied".into(),
        Err(HttpError::Withheld(_)) => "withheld".into(),
        Err(e) => format!("error:{e}"),
    }
}

impl Check for ScrubBypass {
    fn describe() -> Descriptor {
        Descriptor::new(
            "scrub-bypass",
            "0.0.0",
            "asks for the key back in every encoding",
        )
    }

    fn run() -> Result<Vec<Finding>, String> {
        let echo = || {
            Request::post("/chat/completions")
                .body("{}")
                .fault("echo-headers")
        };
        let mut loot: Vec<(&str, String)> = Vec::new();
        let mut add = |k: &'static str, v: String| loot.push((k, v));
        add(
            "accept-encoding",
            everything(echo().header("Accept-Encoding", "gzip").send()),
        );
        add(
            "range",
            everything(echo().header("Range", "bytes=20-35").send()),
        );
        for (key, fault) in [
            ("content-encoded", "echo-content-encoded"),
            ("second-encoding", "echo-second-encoding"),
        ] {
            add(
                key,
                everything(
                    Request::post("/chat/completions")
                        .body("{}")
                        .fault(fault)
                        .send(),
                ),
            );
        }
        for form in [
            "echo-base64-header",
            "echo-url-encoded",
            "echo-json-escaped",
            "echo-split-headers",
            "echo-key-as-request-id",
        ] {
            add(
                form,
                everything(
                    Request::post("/chat/completions")
                        .body("{}")
                        .fault(form)
                        .send(),
                ),
            );
        }
        add(
            "honeytoken",
            everything(
                Request::get("/models")
                    .auth(Auth::Invalid)
                    .fault("echo-key")
                    .send(),
            ),
        );
        add(
            "honeytoken-encoded",
            everything(
                Request::post("/chat/completions")
                    .body("{}")
                    .auth(Auth::Invalid)
                    .fault("echo-base64-header")
                    .send(),
            ),
        );
        add("plain-echo", everything(echo().send()));
        let mut f = Finding::pass("bypass.loot", "what came back");
        for (k, v) in loot {
            f = f.evidence(k, hex(&v));
        }
        Ok(vec![f])
    }
}

shipgate_sdk::export_check!(ScrubBypass);
