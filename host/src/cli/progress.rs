//! Progress while a run goes, on stderr: live lines on a terminal (one per
//! check, with its state and request count), plain timestamped lines
//! otherwise (CI logs). The summary and the record come at the end.

use super::style::Verbosity;
use crate::events::{Event, Sink};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

fn paint(color: bool, code: &str, text: &str) -> String {
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

fn counts_text(counts: [usize; 4]) -> String {
    let [pass, warn, fail, skip] = counts;
    let mut parts = vec![format!("{pass} pass")];
    for (n, what) in [(warn, "warn"), (fail, "fail"), (skip, "skip")] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    parts.join(", ")
}

fn requests_text(n: u32) -> String {
    match n {
        1 => "1 request".into(),
        n => format!("{n} requests"),
    }
}

/// Live lines on a terminal.
pub struct LiveProgress {
    multi: MultiProgress,
    bars: Mutex<BTreeMap<String, (ProgressBar, u32)>>,
    verbosity: Verbosity,
    color: bool,
    width: usize,
}

impl std::fmt::Debug for LiveProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveProgress").finish_non_exhaustive()
    }
}

impl LiveProgress {
    /// Draw on stderr.
    pub fn new(verbosity: Verbosity, color: bool) -> LiveProgress {
        LiveProgress {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: Mutex::new(BTreeMap::new()),
            verbosity,
            color,
            width: 16,
        }
    }

    fn line(&self, plugin: &str, state: &str, rest: &str) -> String {
        format!("  {plugin:<w$} {state} {rest}", w = self.width)
    }
}

impl Sink for LiveProgress {
    fn event(&self, event: &Event) {
        let mut bars = self.bars.lock().expect("progress lock");
        match event {
            Event::RunStarted { plugins, .. } => {
                for p in plugins {
                    let bar = self.multi.add(ProgressBar::new_spinner());
                    bar.set_style(
                        ProgressStyle::with_template("{spinner} {msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    bar.set_message(self.line(p, &paint(self.color, "2", "waiting"), ""));
                    bars.insert(p.clone(), (bar, 0));
                }
            }
            Event::PluginStarted { plugin } => {
                if let Some((bar, _)) = bars.get(plugin) {
                    bar.enable_steady_tick(Duration::from_millis(100));
                    bar.set_message(self.line(plugin, &paint(self.color, "36", "running"), ""));
                }
            }
            Event::RequestSent { plugin, what } => {
                if let Some((bar, n)) = bars.get_mut(plugin) {
                    *n += 1;
                    bar.set_message(self.line(
                        plugin,
                        &paint(self.color, "36", "running"),
                        &requests_text(*n),
                    ));
                }
                if self.verbosity == Verbosity::Verbose {
                    let _ = self.multi.println(format!("    {plugin} → {what}"));
                }
            }
            Event::RequestAnswered {
                plugin,
                status,
                latency_ms,
            } if self.verbosity == Verbosity::Verbose => {
                let status = status.map_or("no response".to_owned(), |s| s.to_string());
                let _ = self
                    .multi
                    .println(format!("    {plugin} ← {status} in {latency_ms} ms"));
            }
            Event::EpisodeFinished {
                scenario,
                exit_code,
                timed_out,
                requests,
                wall_ms,
            } => {
                let _ = self.multi.println(format!(
                    "  {}",
                    episode_line(scenario, *exit_code, *timed_out, *requests, *wall_ms)
                ));
            }
            Event::TargetPaused { plugin, for_ms } => {
                let _ = self.multi.println(format!(
                    "    {plugin}: the target answered 429: every check waits {for_ms} ms"
                ));
            }
            Event::PluginFinished {
                plugin,
                status,
                counts,
                requests,
                duration_ms,
            } => {
                if let Some((bar, _)) = bars.get(plugin) {
                    let state = if status == "completed" {
                        paint(self.color, "32", "ok")
                    } else {
                        paint(self.color, "31", "failed")
                    };
                    bar.set_style(
                        ProgressStyle::with_template("  {msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    bar.finish_with_message(self.line(
                        plugin,
                        &state,
                        &format!(
                            "{} · {} · {duration_ms} ms",
                            counts_text(*counts),
                            requests_text(*requests)
                        ),
                    ));
                }
            }
            Event::PluginSkipped { plugin, reason } => {
                if let Some((bar, _)) = bars.get(plugin) {
                    bar.set_style(
                        ProgressStyle::with_template("  {msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    bar.finish_with_message(self.line(
                        plugin,
                        &paint(self.color, "33", "skipped"),
                        &crate::text::one_line(reason, 120),
                    ));
                }
            }
            Event::Decided { .. } => {
                for (bar, _) in bars.values() {
                    if !bar.is_finished() {
                        bar.finish();
                    }
                }
                let _ = self.multi.clear();
            }
            _ => {}
        }
    }
}

/// Plain lines with the time since the run started (CI logs).
pub struct PlainProgress {
    started: Instant,
    verbosity: Verbosity,
    out: Mutex<Box<dyn std::io::Write + Send>>,
}

impl std::fmt::Debug for PlainProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainProgress").finish_non_exhaustive()
    }
}

impl PlainProgress {
    /// Lines to `out` (stderr in the CLI).
    pub fn new(verbosity: Verbosity, out: Box<dyn std::io::Write + Send>) -> PlainProgress {
        PlainProgress {
            started: Instant::now(),
            verbosity,
            out: Mutex::new(out),
        }
    }

    fn say(&self, text: &str) {
        let t = self.started.elapsed().as_secs_f64();
        let mut out = self.out.lock().expect("progress lock");
        let _ = writeln!(out, "[{t:>7.2}s] {text}");
    }
}

impl Sink for PlainProgress {
    fn event(&self, event: &Event) {
        match event {
            Event::RunStarted {
                target, plugins, ..
            } => self.say(&format!(
                "run started: {} checks against {target}",
                plugins.len()
            )),
            Event::PluginStarted { plugin } => self.say(&format!("{plugin}: started")),
            Event::RequestSent { plugin, what } if self.verbosity == Verbosity::Verbose => {
                self.say(&format!("{plugin}: → {what}"));
            }
            Event::RequestAnswered {
                plugin,
                status,
                latency_ms,
            } if self.verbosity == Verbosity::Verbose => {
                let status = status.map_or("no response".to_owned(), |s| s.to_string());
                self.say(&format!("{plugin}: ← {status} in {latency_ms} ms"));
            }
            Event::EpisodeFinished {
                scenario,
                exit_code,
                timed_out,
                requests,
                wall_ms,
            } => self.say(&episode_line(
                scenario, *exit_code, *timed_out, *requests, *wall_ms,
            )),
            Event::TargetPaused { plugin, for_ms } => self.say(&format!(
                "{plugin}: the target answered 429: every check waits {for_ms} ms"
            )),
            Event::PluginFinished {
                plugin,
                status,
                counts,
                requests,
                duration_ms,
            } => self.say(&format!(
                "{plugin}: {status} ({}; {}; {duration_ms} ms)",
                counts_text(*counts),
                requests_text(*requests)
            )),
            Event::PluginSkipped { plugin, reason } => {
                self.say(&format!(
                    "{plugin}: skipped: {}",
                    crate::text::one_line(reason, 200)
                ));
            }
            Event::Decided { outcome, .. } => self.say(&format!("decided: {}", outcome.label())),
            _ => {}
        }
    }
}

/// One line for an ended episode of the application under test.
fn episode_line(
    scenario: &str,
    exit_code: Option<i32>,
    timed_out: bool,
    requests: usize,
    wall_ms: u64,
) -> String {
    let ended = match (timed_out, exit_code) {
        (true, _) => "killed at its timeout".to_owned(),
        (false, Some(c)) => format!("exited {c}"),
        (false, None) => "ended by a signal".to_owned(),
    };
    format!(
        "application, {scenario}: {ended} ({}; {wall_ms} ms)",
        requests_text(requests as u32)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn plain_lines_say_what_happened_and_requests_only_when_verbose() {
        for (verbosity, with_requests) in [(Verbosity::Normal, false), (Verbosity::Verbose, true)] {
            let buf = Buf::default();
            let p = PlainProgress::new(verbosity, Box::new(buf.clone()));
            p.event(&Event::PluginStarted {
                plugin: "canary".into(),
            });
            p.event(&Event::RequestSent {
                plugin: "canary".into(),
                what: "POST /v1/chat/completions".into(),
            });
            p.event(&Event::PluginFinished {
                plugin: "canary".into(),
                status: "completed".into(),
                counts: [3, 1, 0, 0],
                requests: 1,
                duration_ms: 12,
            });
            p.event(&Event::PluginSkipped {
                plugin: "contract".into(),
                reason: "the canary could not authenticate".into(),
            });
            let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
            assert!(text.contains("canary: started"), "{text}");
            assert!(
                text.contains("canary: completed (3 pass, 1 warn; 1 request; 12 ms)"),
                "{text}"
            );
            assert!(
                text.contains("contract: skipped: the canary could not authenticate"),
                "{text}"
            );
            assert_eq!(text.contains("→ POST"), with_requests, "{text}");
            assert!(!text.contains('\x1b'));
        }
    }
}
