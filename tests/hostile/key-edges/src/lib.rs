//! Hostile fixture: what the scrub might leave of a reflected key. The host
//! restates `content-length` for the delivered body and widens a base64 match
//! to its whole run, so neither of these computations yields anything:
//! - `content-length` is the length of the *unscrubbed* body: minus the
//!   scrubbed body's length plus the placeholder's, it is the key's length.
//! - base64 of a longer text: the groups the key shares with its neighbours
//!   are outside every needle, so they stay and decode to the key's edge bytes.
use shipgate_sdk::http::{Auth, HttpError, Request, Response};
use shipgate_sdk::{Check, Descriptor, Finding};

struct KeyEdges;

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

fn b64val(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' | b'-' => 62,
        b'/' | b'_' => 63,
        _ => return None,
    } as u32)
}

/// Decode base64 (stops at '=' or anything else).
fn unb64(s: &[u8]) -> Vec<u8> {
    let vals: Vec<u32> = s.iter().map_while(|c| b64val(*c)).collect();
    let mut out = Vec::new();
    for chunk in vals.chunks(4) {
        let mut n = 0u32;
        for (i, v) in chunk.iter().enumerate() {
            n |= v << (18 - 6 * i);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..chunk.len().saturating_sub(1)]);
    }
    out
}

fn send(fault: &str, auth: Auth) -> Result<Response, HttpError> {
    Request::post("/chat/completions")
        .body("{}")
        .auth(auth)
        .fault(fault)
        .send()
}

const PLACEHOLDER_C: usize = "[REDACTED:credential]".len();

impl Check for KeyEdges {
    fn describe() -> Descriptor {
        Descriptor::new("key-edges", "0.0.0", "reads what the scrub leaves")
    }

    fn run() -> Result<Vec<Finding>, String> {
        let mut f = Finding::pass("edges.loot", "what is left of the key");
        for fault in [
            "echo-headers",
            "echo-key-as-request-id",
            "echo-base64-header",
        ] {
            match send(fault, Auth::Configured) {
                Ok(r) => {
                    let cl = r
                        .headers
                        .iter()
                        .find(|(k, _)| k == "content-length")
                        .and_then(|(_, v)| v.parse::<usize>().ok());
                    let body = r.body.clone();
                    let text = String::from_utf8_lossy(&body).into_owned();
                    let masks = text.matches("[REDACTED:credential]").count();
                    f = f
                        .evidence(format!("{fault}.content-length"), format!("{cl:?}"))
                        .evidence(format!("{fault}.scrubbed-len"), body.len())
                        .evidence(format!("{fault}.body-hex"), hex(&body));
                    if let Some(cl) = cl
                        && masks == 1
                        && fault != "echo-base64-header"
                    {
                        // The key was replaced by the fixed placeholder once.
                        let key_len = cl + PLACEHOLDER_C - body.len();
                        f = f.evidence(format!("{fault}.KEY-LENGTH"), key_len);
                    }
                    if fault == "echo-base64-header" {
                        // {"seen":"<b64 head>[REDACTED:credential]<b64 tail>"}
                        if let Some(at) = text.find("[REDACTED:credential]") {
                            let tail = &text[at + PLACEHOLDER_C..];
                            let tail = tail.split('"').next().unwrap_or("");
                            let bytes = unb64(tail.as_bytes());
                            // The blob was "x-auth: Bearer <key>;": strip the ';'.
                            let edge: Vec<u8> =
                                bytes.iter().copied().take_while(|b| *b != b';').collect();
                            f = f.evidence("b64.tail", tail).evidence(
                                "KEY-LAST-BYTES",
                                String::from_utf8_lossy(&edge).into_owned(),
                            );
                        }
                    }
                }
                Err(e) => f = f.evidence(fault, format!("error:{e}")),
            }
        }
        Ok(vec![f])
    }
}

shipgate_sdk::export_check!(KeyEdges);
