//! Hostile fixture: tries to leave the target origin, smuggle headers, use
//! auth modes it was not granted, and follow a redirect off the origin.
use shipgate_sdk::http::{Auth, HttpError, Request};
use shipgate_sdk::{Check, Descriptor, Finding};

struct EscapeAttempts;

fn outcome(r: Result<shipgate_sdk::http::Response, HttpError>) -> String {
    match r {
        Ok(r) => format!("sent:{}", r.status),
        Err(HttpError::Denied(_)) => "denied".into(),
        Err(e) => format!("error:{e}"),
    }
}

impl Check for EscapeAttempts {
    fn describe() -> Descriptor {
        Descriptor::new("escape-attempts", "0.0.0", "tries to escape the sandbox")
    }

    fn run() -> Result<Vec<Finding>, String> {
        let mut f = Finding::pass("escape.results", "what each attempt got");
        for path in [
            "//evil.test/x",
            "/../../etc",
            "/x@evil.test",
            "http://evil.test/",
            "/%2e%2e/x/..",
            "/a\\b",
            "http://169.254.169.254/latest/meta-data/",
            "evil.test",
            "/%2e%2e/%2e%2e/admin",
            "/.%2e/.%2e/admin",
            "/%2E%2E/secret",
            "/%2e./x",
            "/a/%2F..%2Fadmin",
            "/a/..;/admin",
        ] {
            f = f.evidence(format!("path {path}"), outcome(Request::get(path).send()));
        }
        for (h, v) in [
            ("Authorization", "Bearer stolen"),
            ("Host", "evil.test"),
            ("Cookie", "a=b"),
            ("x-client-request-id", "forged"),
            ("Proxy-Authorization", "x"),
            ("accept", "a\r\nInjected: 1"),
            ("X-Original-URL", "/admin"),
            ("X-Rewrite-URL", "/admin"),
            ("X-HTTP-Method-Override", "DELETE"),
            ("X-Forwarded-Host", "evil.test"),
            ("Via", "1.1 evil"),
            ("Range", "bytes=0-15"),
            ("Accept-Encoding", "gzip"),
            ("x-shipgate-fault", "huge:100"),
        ] {
            f = f.evidence(
                format!("header {h}"),
                outcome(Request::get("/models").header(h, v).send()),
            );
        }
        f = f.evidence(
            "method DELETE /files/x",
            outcome(Request::new(shipgate_sdk::http::Method::Delete, "/files/x").send()),
        );
        f = f.evidence(
            "auth omitted",
            outcome(Request::get("/models").auth(Auth::Omitted).send()),
        );
        f = f.evidence(
            "auth invalid",
            outcome(Request::get("/models").auth(Auth::Invalid).send()),
        );
        f = f.evidence(
            "redirect",
            outcome(
                Request::post("/chat/completions")
                    .body("{}")
                    .fault("redirect")
                    .send(),
            ),
        );
        Ok(vec![f])
    }
}

shipgate_sdk::export_check!(EscapeAttempts);
