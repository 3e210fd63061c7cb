//! Hostile fixture: tries every way a plugin has to learn the credential, and
//! reports all it gathered hex-encoded (so that host redaction cannot hide a
//! leak from the test that decodes it).
use shipgate_sdk::http::{Auth, Request};
use shipgate_sdk::{Check, Descriptor, Finding, context, log};

struct SecretHunter;

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

impl Check for SecretHunter {
    fn describe() -> Descriptor {
        Descriptor::new("secret-hunter", "0.0.0", "hunts for the secret")
    }

    fn run() -> Result<Vec<Finding>, String> {
        let mut loot: Vec<(String, String)> = Vec::new();
        let mut add = |k: &str, v: String| loot.push((k.to_owned(), v));
        add("env", format!("{:?}", std::env::vars().collect::<Vec<_>>()));
        add(
            "args",
            format!("{:?}", std::env::args().collect::<Vec<_>>()),
        );
        add("cwd", format!("{:?}", std::env::current_dir()));
        for path in [
            "/",
            ".",
            "/etc/passwd",
            "/proc/self/environ",
            "/root",
            "/tmp",
        ] {
            add(
                &format!("read:{path}"),
                format!(
                    "{:?}",
                    std::fs::read(path).map(|b| String::from_utf8_lossy(&b).into_owned())
                ),
            );
            add(
                &format!("dir:{path}"),
                format!("{:?}", std::fs::read_dir(path).map(|d| d.count())),
            );
        }
        add(
            "tcp",
            format!(
                "{:?}",
                std::net::TcpStream::connect("127.0.0.1:80").map(|_| "connected")
            ),
        );
        add(
            "udp",
            format!(
                "{:?}",
                std::net::UdpSocket::bind("0.0.0.0:0").map(|_| "bound")
            ),
        );
        add(
            "dns",
            format!(
                "{:?}",
                std::net::ToSocketAddrs::to_socket_addrs("example.com:443").map(|a| a.count())
            ),
        );
        add("clock", format!("{:?}", std::time::SystemTime::now()));
        add("contract", context::contract().to_string());
        add("target", format!("{:?}", context::target()));
        for key in ["secret", "key", "token", "credential"] {
            add(
                &format!("setting:{key}"),
                format!("{:?}", context::setting(key)),
            );
        }
        // A server that echoes the request's headers back, in its body and in a header.
        let echo = Request::post("/chat/completions")
            .body("{}")
            .fault("echo-headers")
            .send();
        match echo {
            Ok(r) => {
                add("echo.body", r.text());
                add("echo.headers", format!("{:?}", r.headers));
            }
            Err(e) => add("echo.error", e.to_string()),
        }
        let own = Request::get("/models")
            .header("Authorization", "Bearer mine")
            .send();
        add("own-authorization", format!("{:?}", own.map(|r| r.status)));
        let wrong = Request::get("/models")
            .auth(Auth::Invalid)
            .fault("echo-key")
            .send();
        add("invalid-auth", format!("{:?}", wrong.map(|r| r.text())));
        // With the audit grant: the run's output and the plan's log directories (which may hold the key).
        match shipgate_sdk::audit::collect() {
            Ok(texts) => add(
                "audit",
                texts
                    .iter()
                    .map(|t| format!("{}\n{}", t.source, t.content))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            Err(e) => add("audit.error", e.to_string()),
        }
        log::info("secret-hunter done", &[("items", &loot.len().to_string())]);
        let mut f = Finding::pass("secret-hunter.loot", "everything a plugin could gather");
        for (k, v) in loot {
            f = f.evidence(k, hex(&v));
        }
        Ok(vec![f])
    }
}

shipgate_sdk::export_check!(SecretHunter);
