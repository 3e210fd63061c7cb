//! A built-in OpenAI-compatible mock server, with fault injection.
//!
//! `POST {base}/chat/completions` and `GET {base}/models` with Bearer auth,
//! answering the way the OpenAI API does: success bodies with `id`, `object`,
//! `created`, `model`, `choices[].message`, `finish_reason` and `usage`;
//! error bodies `{"error": {"message", "type", "param", "code"}}` with 401 for
//! bad auth, 400 for bad requests and 404 for unknown models; an
//! `x-request-id` header on every answer; SSE when `stream` is true.
//!
//! Faults ([`Fault`]) are injected per request by the `x-shipgate-fault`
//! header, in order from a script, or at a rate. The server binds 127.0.0.1
//! only.

mod fault;
mod openai;

pub use fault::{EchoForm, Fault, MAX_FAULT_DELAY_MS, StreamFault, When, parse_behaviour};

use crate::capability::http::target::PREFLIGHT_HEADER;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// Header a client may send to pick a fault for one request.
pub const FAULT_HEADER: &str = "x-shipgate-fault";

/// How the mock behaves.
#[derive(Clone)]
pub struct MockConfig {
    /// The API key it accepts.
    pub key: String,
    /// Model ids it knows.
    pub models: Vec<String>,
    /// Faults applied to the next requests, in order.
    pub script: Vec<Fault>,
    /// A fault applied at random to this fraction of requests (0..=1).
    pub rate: Option<(f64, Fault)>,
    /// Standing behaviours: the fault for every request of a kind (a gateway
    /// that answers every bad key with 400, say), whatever the order.
    pub behaviours: Vec<(When, Fault)>,
    /// Largest prompt it accepts, in characters (over it: 400 `context_length_exceeded`).
    pub context_limit_chars: usize,
    /// Added before every API answer, as a provider far away would (0: none;
    /// capped like the `delay` fault).
    pub latency_ms: u64,
}

impl std::fmt::Debug for MockConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockConfig")
            .field("key", &"[REDACTED]")
            .field("models", &self.models)
            .field("script", &self.script)
            .field("rate", &self.rate)
            .finish()
    }
}

impl MockConfig {
    /// A well-behaved mock accepting `key` and the model `mock-gpt`.
    pub fn new(key: impl Into<String>) -> Self {
        MockConfig {
            key: key.into(),
            models: vec!["mock-gpt".into()],
            script: Vec::new(),
            rate: None,
            behaviours: Vec::new(),
            context_limit_chars: 128 * 1024,
            latency_ms: 0,
        }
    }

    /// Add `ms` before every API answer.
    pub fn with_latency_ms(mut self, ms: u64) -> Self {
        self.latency_ms = ms;
        self
    }

    /// Faults for the next requests, in order.
    pub fn with_script(mut self, script: Vec<Fault>) -> Self {
        self.script = script;
        self
    }

    /// Answer every request of a kind with a fault.
    pub fn when(mut self, when: When, fault: Fault) -> Self {
        self.behaviours.push((when, fault));
        self
    }
}

/// What the mock saw of one request (kept in memory for tests; never printed whole).
#[derive(Debug, Clone)]
pub struct SeenRequest {
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Headers, lower-case names, in order.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl SeenRequest {
    /// Whether this is the host's pre-flight request.
    pub fn is_preflight(&self) -> bool {
        self.method == "HEAD" && self.header(PREFLIGHT_HEADER) == Some("1")
    }

    /// The first header with this name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub(crate) struct MockState {
    config: MockConfig,
    script: Mutex<VecDeque<Fault>>,
    seen: Mutex<Vec<SeenRequest>>,
}

/// A running mock server. Dropping it shuts it down.
pub struct MockServer {
    addr: SocketAddr,
    state: Arc<MockState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer")
            .field("addr", &self.addr)
            .finish()
    }
}

impl MockServer {
    /// Start on `127.0.0.1:port` (0 picks a free port).
    ///
    /// # Errors
    ///
    /// The bind error.
    pub async fn start(config: MockConfig, port: u16) -> std::io::Result<MockServer> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(MockState {
            script: Mutex::new(config.script.iter().cloned().collect()),
            config,
            seen: Mutex::new(Vec::new()),
        });
        let app = openai::router(state.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(MockServer {
            addr,
            state,
            shutdown: Some(tx),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The OpenAI-style base URL, `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Every request seen so far, but the host's pre-flight (see
    /// [`preflights`](Self::preflights)).
    pub fn requests(&self) -> Vec<SeenRequest> {
        let seen = self.state.seen.lock().expect("seen lock");
        seen.iter().filter(|r| !r.is_preflight()).cloned().collect()
    }

    /// How many pre-flight requests (`HEAD` of the base URL, marked with
    /// [`PREFLIGHT_HEADER`]) the mock has seen.
    pub fn preflights(&self) -> usize {
        let seen = self.state.seen.lock().expect("seen lock");
        seen.iter().filter(|r| r.is_preflight()).count()
    }

    /// Append faults to the script.
    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        self.state
            .script
            .lock()
            .expect("script lock")
            .extend(faults);
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
