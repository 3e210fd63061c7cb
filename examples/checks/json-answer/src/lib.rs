//! A shipgate check: when a request asks for `response_format` `json_object`,
//! the answer parses as a JSON object.
use shipgate_sdk::serde_json::{self, Value, json};
use shipgate_sdk::{Check, Descriptor, Finding, Verdict, chat::ChatRequest, checklist, context};

/// The judgement, as a pure function: the answer's content (`Err`: the
/// request failed, with why) becomes a finding.
pub fn judge(answer: Result<Option<String>, String>) -> Finding {
    let f = Finding::pass("json-answer.parses", "a json_object answer parses as JSON")
        .covers([checklist::RESPONSE_PARSER_TESTED]);
    match answer {
        Ok(Some(text)) => match serde_json::from_str::<Value>(&text) {
            Ok(v) if v.is_object() => f.detail("the content is a JSON object"),
            Ok(_) => f
                .verdict(Verdict::Fail)
                .detail("the content is JSON, but not an object"),
            Err(e) => f
                .verdict(Verdict::Fail)
                .detail(format!("the content is not JSON: {e}")),
        },
        Ok(None) => f.verdict(Verdict::Fail).detail("the answer has no content"),
        Err(why) => f.verdict(Verdict::Fail).detail(why),
    }
}

struct JsonAnswer;

impl Check for JsonAnswer {
    fn describe() -> Descriptor {
        Descriptor::new(
            "json-answer",
            env!("CARGO_PKG_VERSION"),
            "a json_object answer parses as JSON",
        )
        .covers([checklist::RESPONSE_PARSER_TESTED])
        .findings(["json-answer.parses"])
    }

    fn run() -> Result<Vec<Finding>, String> {
        let reply = ChatRequest::new(&context::target().model)
            .system("You answer in JSON.")
            .user("Return a JSON object with the key \"status\" set to \"ok\".")
            .field("response_format", json!({"type": "json_object"}))
            .max_tokens(context::limits().output_token_ceiling)
            .operation("json-answer")
            .send();
        Ok(vec![judge(
            reply.map(|r| r.content()).map_err(|e| e.to_string()),
        )])
    }
}

shipgate_sdk::export_check!(JsonAnswer);

#[cfg(test)]
mod tests {
    use super::*;
    use shipgate_sdk::testing::{Harness, Reply};

    #[test]
    fn only_a_json_object_passes() {
        assert_eq!(
            judge(Ok(Some(r#"{"status":"ok"}"#.into()))).verdict,
            Verdict::Pass
        );
        assert_eq!(judge(Ok(Some("[1, 2]".into()))).verdict, Verdict::Fail);
        assert_eq!(
            judge(Ok(Some("Sure! {\"status\":\"ok\"}".into()))).verdict,
            Verdict::Fail
        );
        assert_eq!(judge(Ok(None)).verdict, Verdict::Fail);
        assert_eq!(judge(Err("timed out".into())).verdict, Verdict::Fail);
    }

    /// The whole check against a scripted host: no wasm, no network.
    #[test]
    fn the_check_asks_for_json_and_judges_the_answer() {
        let out = Harness::new()
            .reply(Reply::chat(r#"{"status":"ok"}"#))
            .run::<JsonAnswer>();
        assert_eq!(out.verdict("json-answer.parses"), Verdict::Pass);
        assert_eq!(
            out.requests[0].json()["response_format"]["type"],
            "json_object"
        );

        let out = Harness::new()
            .reply(Reply::chat("Sure! Here it is."))
            .run::<JsonAnswer>();
        assert_eq!(out.verdict("json-answer.parses"), Verdict::Fail);

        let out = Harness::new()
            .reply(Reply::error(
                400,
                "invalid_request_error",
                "response_format is not supported",
            ))
            .run::<JsonAnswer>();
        assert_eq!(out.verdict("json-answer.parses"), Verdict::Fail);
    }
}
