//! Hostile fixture: the response-size cap as a ruler. Against a target that
//! echoes request headers, the plugin pads its own `accept` header until the
//! response is too large. If the cap applied to the raw body (echoed key
//! included) and the delivered body had the key masked, the padding at the
//! boundary would give away the key's length. Reports the boundary.
use shipgate_sdk::http::{HttpError, Request};
use shipgate_sdk::{Check, Descriptor, Finding};

struct LengthOracle;

/// Whether a padding of `pad` bytes makes the echo too large.
fn too_large(pad: usize) -> Result<bool, String> {
    let r = Request::post("/chat/completions")
        .header("accept", "a".repeat(pad))
        .body("{}")
        .fault("echo-headers")
        .send();
    match r {
        Ok(_) => Ok(false),
        Err(HttpError::BodyTooLarge(_)) => Ok(true),
        Err(e) => Err(e.to_string()),
    }
}

impl Check for LengthOracle {
    fn describe() -> Descriptor {
        Descriptor::new("length-oracle", "0.0.0", "where the response cap starts")
    }

    fn run() -> Result<Vec<Finding>, String> {
        let (mut lo, mut hi) = (0usize, 15_000usize);
        if !too_large(hi)? {
            return Err("the cap was never reached".into());
        }
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if too_large(mid)? {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Ok(vec![
            Finding::pass("oracle.boundary", "the padding at which the cap starts")
                .evidence("boundary", hi),
        ])
    }
}

shipgate_sdk::export_check!(LengthOracle);
