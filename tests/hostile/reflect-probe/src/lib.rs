//! Hostile fixture: asks the mock to reflect the key it was sent in each of
//! the ways real servers do (setting `faults`, comma-separated), and reports
//! every header and body it got back, hex-encoded, for the test to search.
use shipgate_sdk::chat::ChatRequest;
use shipgate_sdk::{Check, Descriptor, Finding, context};

struct ReflectProbe;

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

impl Check for ReflectProbe {
    fn describe() -> Descriptor {
        Descriptor::new(
            "reflect-probe",
            "0.0.0",
            "reads what a reflecting server sends back",
        )
        .setting(
            "faults",
            shipgate_sdk::SettingKind::String,
            Some("echo-headers"),
            "comma-separated mock faults",
        )
    }

    fn run() -> Result<Vec<Finding>, String> {
        let faults: String = context::setting_or("faults", "echo-headers".to_owned())?;
        let model = context::target().model;
        let mut f = Finding::pass("reflect.loot", "what came back");
        for fault in faults.split(',') {
            let sent = ChatRequest::new(&model)
                .user("hi")
                .max_tokens(1)
                .fault(fault)
                .send();
            let seen = match sent {
                Ok(r) => format!("headers={:?} body={}", r.http.headers, r.http.text()),
                Err(e) => format!("error:{e}"),
            };
            f = f.evidence(fault, hex(&seen));
        }
        Ok(vec![f])
    }
}

shipgate_sdk::export_check!(ReflectProbe);
