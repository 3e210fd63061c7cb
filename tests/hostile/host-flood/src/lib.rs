//! Hostile fixture: makes the host allocate on its behalf. Denied requests
//! with 8 MiB paths, rejected 8 MiB bodies, tens of thousands of header
//! names, accepted 1 MiB bodies (with the plan's `send_oversized` grant),
//! and finally an error string of `err_mib` MiB (setting, default 24).
use shipgate_sdk::http::{HttpError, Request};
use shipgate_sdk::{Check, Descriptor, Finding, context};

struct HostFlood;

fn kind(r: &Result<shipgate_sdk::http::Response, HttpError>) -> &'static str {
    match r {
        Ok(_) => "sent",
        Err(HttpError::Denied(_)) => "denied",
        Err(HttpError::Rejected(_)) => "rejected",
        Err(_) => "error",
    }
}

impl Check for HostFlood {
    fn describe() -> Descriptor {
        Descriptor::new("host-flood", "0.0.0", "makes the host allocate").setting(
            "err_mib",
            shipgate_sdk::SettingKind::Integer,
            Some("24"),
            "MiB of the error string returned at the end",
        )
    }

    fn run() -> Result<Vec<Finding>, String> {
        let mut outcomes: Vec<String> = Vec::new();
        let big = "a".repeat(8 << 20);
        for _ in 0..30 {
            outcomes.push(format!(
                "path:{}",
                kind(&Request::get(format!("/{big}")).send())
            ));
        }
        let body = format!(
            "{{\"model\":\"x\",\"messages\":[{{\"role\":\"user\",\"content\":\"{big}\"}}]}}"
        );
        for _ in 0..5 {
            outcomes.push(format!(
                "body:{}",
                kind(&Request::post("/chat/completions").body(body.clone()).send())
            ));
        }
        drop(big);
        let mut many = Request::get("/models");
        for i in 0..40_000 {
            many = many.header(format!("x-h{i}"), "v");
        }
        outcomes.push(format!("headers:{}", kind(&many.send())));
        let target = context::target();
        // Just under the 1 MiB body cap, the bulk outside the message content.
        let mb = "b".repeat((1 << 20) - 256);
        for _ in 0..4 {
            let body = format!(
                "{{\"model\":\"{}\",\"max_tokens\":1,\"messages\":[{{\"role\":\"user\",\"content\":\"{mb}\"}}]}}",
                target.model
            );
            outcomes.push(format!(
                "accepted:{}",
                kind(&Request::post("/chat/completions").body(body).send())
            ));
        }
        let mib: usize = context::setting_or("err_mib", 24)?;
        if mib > 0 {
            shipgate_sdk::log::info("flood done", &[("outcomes", &outcomes.join(","))]);
            return Err(format!(
                "{}\nsecond line of the error chain",
                "e".repeat(mib << 20)
            ));
        }
        Ok(vec![
            Finding::pass("flood.outcomes", "what the host did")
                .evidence("outcomes", outcomes.join(",")),
        ])
    }
}

shipgate_sdk::export_check!(HostFlood);
