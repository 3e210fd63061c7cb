//! One stream of run events, many sinks (as cargo-nextest reports a test run):
//! the live progress on a terminal, plain timestamped lines in CI, and
//! anything an embedder adds. Sinks see events as they happen; the record and
//! its reports are written from the finished run.
//!
//! Every string in an event is already inert and redacted: plugin names come
//! from the plan, paths and reasons from the host's own (bounded, redacted)
//! telemetry.

use crate::decision::Outcome;
use std::sync::Arc;

/// Something that happened in a run.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The run started: its id, the target and the plugins in plan order.
    RunStarted {
        /// The run id.
        run_id: String,
        /// The target's base URL.
        target: String,
        /// Plugin names, in plan order.
        plugins: Vec<String>,
    },
    /// A plugin started.
    PluginStarted {
        /// Its name.
        plugin: String,
    },
    /// A request left the machine (one attempt).
    RequestSent {
        /// The plugin.
        plugin: String,
        /// Method and path (no query).
        what: String,
    },
    /// A request was answered (or failed).
    RequestAnswered {
        /// The plugin.
        plugin: String,
        /// HTTP status, when there was one.
        status: Option<u16>,
        /// Milliseconds from sending to the end of the body.
        latency_ms: u64,
    },
    /// The target answered 429 with `retry-after`: every plugin's requests
    /// wait (a 429 a check asked for as a fault scenario is its own, and
    /// pauses nothing).
    TargetPaused {
        /// The plugin whose request was answered so.
        plugin: String,
        /// For how long, ms.
        for_ms: u64,
    },
    /// An episode of the application under test ended.
    EpisodeFinished {
        /// The scenario.
        scenario: String,
        /// The application's exit code (`None`: killed or signalled).
        exit_code: Option<i32>,
        /// Whether its timeout killed it.
        timed_out: bool,
        /// Requests it made.
        requests: usize,
        /// Wall time, ms.
        wall_ms: u64,
    },
    /// A plugin finished.
    PluginFinished {
        /// Its name.
        plugin: String,
        /// `completed`, `failed: …`.
        status: String,
        /// Findings by verdict: pass, warn, fail, skip.
        counts: [usize; 4],
        /// Requests it sent.
        requests: u32,
        /// Wall time, ms.
        duration_ms: u64,
    },
    /// A plugin was not run.
    PluginSkipped {
        /// Its name.
        plugin: String,
        /// Why.
        reason: String,
    },
    /// The decision.
    Decided {
        /// Ship, Ship behind flag or Hold.
        outcome: Outcome,
        /// The first reason, in words.
        headline: String,
    },
}

/// Something that wants to know about a run as it goes.
pub trait Sink: Send + Sync {
    /// Called once per event, in order, from the run's tasks; must not block.
    fn event(&self, event: &Event);
}

/// The sinks of one run (cheap to clone).
#[derive(Clone, Default)]
pub struct Events {
    sinks: Arc<Vec<Arc<dyn Sink>>>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("sinks", &self.sinks.len())
            .finish()
    }
}

impl Events {
    /// No sinks: events go nowhere.
    pub fn none() -> Events {
        Events::default()
    }

    /// These sinks.
    pub fn to(sinks: Vec<Arc<dyn Sink>>) -> Events {
        Events {
            sinks: Arc::new(sinks),
        }
    }

    /// Tell every sink.
    pub fn emit(&self, event: Event) {
        for s in self.sinks.iter() {
            s.event(&event);
        }
    }
}

/// A sink that keeps every event (for tests and embedders).
#[derive(Debug, Default)]
pub struct Collect(pub std::sync::Mutex<Vec<Event>>);

impl Sink for Collect {
    fn event(&self, event: &Event) {
        self.0.lock().expect("events lock").push(event.clone());
    }
}
