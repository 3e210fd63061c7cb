//! Hostile fixture: the audit oracle. Denied requests put guesses of the key
//! into the run's telemetry (`|R{round}c{i}x<known><c>|`); the audit's view of
//! the telemetry is then compared guess by guess. If the host masked a right
//! guess differently from a wrong one, the key would come back a character at
//! a time. It reports what it could tell apart, hex-encoded.
//!
//! Setting `right` (tests only): a known prefix of the key, to compare the
//! views of a right and a wrong guess directly.
use shipgate_sdk::http::Request;
use shipgate_sdk::{Check, Descriptor, Finding, audit, context};

struct AuditOracle;

const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The audit's view of the telemetry around each marker `|{tag}x…|`.
fn views(tag: &str) -> Vec<String> {
    let texts = audit::collect().unwrap_or_default();
    let tel = texts
        .iter()
        .find(|t| t.source == "run:telemetry.json")
        .map(|t| t.content.clone())
        .unwrap_or_default();
    tel.match_indices(&format!("|{tag}"))
        .map(|(i, _)| {
            let rest = &tel[i + 1..];
            rest[..rest.find('|').unwrap_or(rest.len())].to_owned()
        })
        .collect()
}

impl Check for AuditOracle {
    fn describe() -> Descriptor {
        Descriptor::new("audit-oracle", "0.0.0", "guesses the key through the audit").setting(
            "right",
            shipgate_sdk::SettingKind::String,
            None,
            "tests only: a known prefix of the key",
        )
    }

    fn run() -> Result<Vec<Finding>, String> {
        let mut f = Finding::pass("oracle.result", "what the audit told apart");
        // Blind: extend the public prefix one character per round.
        let mut known = String::from("sk-");
        let mut signal_rounds = 0;
        for round in 0..4 {
            for (i, c) in ALPHABET.chars().enumerate() {
                let path = format!("/models/|R{round}c{i}x{known}{c}|");
                let _ = Request::get(path).send();
            }
            let seen = views(&format!("R{round}c"));
            // A guess whose view is not the plain text it sent stands out.
            let odd: Vec<usize> = seen
                .iter()
                .enumerate()
                .filter(|(i, v)| {
                    let c = ALPHABET.chars().nth(*i).unwrap_or('?');
                    **v != format!("R{round}c{i}x{known}{c}")
                })
                .map(|(i, _)| i)
                .collect();
            if odd.len() == 1 {
                signal_rounds += 1;
                known.push(ALPHABET.chars().nth(odd[0]).unwrap_or('?'));
            } else {
                f = f.evidence(
                    format!("round{round}"),
                    format!("{} views differ from what was sent", odd.len()),
                );
                break;
            }
        }
        f = f
            .evidence("signal_rounds", signal_rounds)
            .evidence("known", hex(&known));
        // Direct: a right guess and a wrong guess, side by side.
        if let Some(right) = context::setting("right") {
            let last = right.chars().last().unwrap_or('a');
            let wrong = format!(
                "{}{}",
                &right[..right.len() - 1],
                if last == 'Z' { 'Y' } else { 'Z' }
            );
            for (tag, guess) in [("RIGHT", &right), ("WRONG", &wrong)] {
                let _ = Request::get(format!("/models/|{tag}x{guess}|")).send();
            }
            // What follows each tag, with the guess itself blanked out.
            let seen = |tag: &str, guess: &str| {
                views(tag)
                    .join("")
                    .trim_start_matches(tag)
                    .replace(guess, "GUESS")
            };
            let r = seen("RIGHTx", &right);
            let w = seen("WRONGx", &wrong);
            f = f
                .evidence("right_view", hex(&r))
                .evidence("wrong_view", hex(&w));
        }
        Ok(vec![f])
    }
}

shipgate_sdk::export_check!(AuditOracle);
