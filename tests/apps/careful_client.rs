//! A careful chat client written in Rust, for the application-under-test
//! tests: bounded retries (3 attempts) on 429, 5xx and connection errors
//! only, exponential backoff from 300 ms with jitter, `Retry-After` honoured,
//! a per-request timeout from `APP_TIMEOUT_MS`, and logs that never print the
//! key. It reads `OPENAI_BASE_URL` and `OPENAI_API_KEY`, as shipgate sets them.

use std::time::Duration;

fn main() -> std::process::ExitCode {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run())
}

async fn run() -> std::process::ExitCode {
    let base = std::env::var("OPENAI_BASE_URL").unwrap_or_default();
    let key = std::env::var("OPENAI_API_KEY").unwrap_or_default();
    let timeout: u64 = std::env::var("APP_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(timeout))
        .build()
        .expect("client");
    let body = serde_json::json!({
        "model": "mock-gpt",
        "messages": [{"role": "user", "content": "Reply with READY."}],
        "max_tokens": 16
    });
    let idempotency = format!("careful-{}", std::process::id());
    let mut delay = Duration::from_millis(300);
    for attempt in 1..=3u32 {
        let sent = client
            .post(format!("{}/chat/completions", base.trim_end_matches('/')))
            .bearer_auth(&key)
            .header("idempotency-key", &idempotency)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await;
        let wait = match sent {
            Ok(r) if r.status().is_success() => match r.text().await {
                Ok(_) => {
                    println!("answered on attempt {attempt}");
                    return std::process::ExitCode::SUCCESS;
                }
                Err(_) => None,
            },
            Ok(r) => {
                let status = r.status().as_u16();
                if !(status == 429 || status >= 500) {
                    eprintln!("request failed: HTTP {status}, not retried");
                    return std::process::ExitCode::FAILURE;
                }
                r.headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .map(Duration::from_secs)
            }
            Err(e) => {
                eprintln!(
                    "attempt {attempt}: {}",
                    if e.is_timeout() {
                        "timed out"
                    } else {
                        "connection failed"
                    }
                );
                if e.is_timeout() {
                    // A stalled answer: do not pile more requests on.
                    return std::process::ExitCode::FAILURE;
                }
                None
            }
        };
        if attempt == 3 {
            break;
        }
        let jitter = Duration::from_millis(u64::from(std::process::id() % 50));
        tokio::time::sleep(wait.unwrap_or(delay) + jitter).await;
        delay *= 2;
    }
    eprintln!("request failed after 3 attempts");
    std::process::ExitCode::FAILURE
}
