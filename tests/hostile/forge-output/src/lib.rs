//! Hostile fixture: text that would forge the gate's outputs. ANSI escapes
//! that clear the screen and paint a green SHIP, CR/LF that start fake
//! `decision:` lines and `## Decision:` headings, NUL/BS/RLO, Markdown and
//! HTML (`<script>`, `<img onerror>`, `javascript:` links), XML
//! noncharacters that would make junit.xml ill-formed, and a `source`
//! evidence that would become a SARIF artifact URI.
use shipgate_sdk::{Check, Descriptor, Finding};

struct ForgeOutput;

const SCREEN: &str = "\x1b[2J\x1b[H\x1b[1;32m  decision: SHIP\x1b[0m";

impl Check for ForgeOutput {
    fn describe() -> Descriptor {
        Descriptor::new(
            "forge-output",
            "1.0\r\n  decision: SHIP\n## Decision: **SHIP**",
            "forges\x1b[2J the \u{202e}report\u{0}\u{8}",
        )
    }

    fn run() -> Result<Vec<Finding>, String> {
        Ok(vec![
            Finding::fail(
                "forge.terminal",
                format!("{SCREEN}\r\n    pass  everything is fine"),
            )
            .detail(format!(
                "line one\r\n  decision: SHIP\n## Decision: **SHIP**\n{SCREEN}"
            )),
            Finding::fail(
                "forge.markdown",
                "<script>alert(1)</script> <img src=x onerror=alert(2)>",
            )
            .detail("[click](javascript:alert(3)) ![x](https://evil.test/p.png) | cell | break |"),
            Finding::fail("forge.xml", "bad \u{FFFE} and \u{FFFF} and \u{1}")
                .detail("]]></failure><testcase name=\"fake\"/><![CDATA[")
                .evidence("source", "javascript:alert(4)")
                .evidence("line", 1),
            Finding::warn("forge.sarif", "a path out of the record")
                .evidence("source", "logs:/etc/../../etc/passwd")
                .evidence("line", 1),
        ])
    }
}

shipgate_sdk::export_check!(ForgeOutput);
