//! The application under test: shipgate runs the team's own client once per
//! *episode*, stands between it and the target (an [`interposer`]), injects
//! one [`scenario`]'s faults into the client's real traffic, and keeps what
//! happened for the checks granted `traffic` to judge.
//!
//! # Security
//!
//! - The application never holds the real key: it gets a per-run
//!   placeholder, which only the interposer accepts, and the interposer
//!   swaps it for the real credential when it forwards.
//! - It runs with a cleared environment (only `PATH`, the base URL, the
//!   placeholder key and the plan's `env`), no standard input, in its own
//!   process group, killed (the whole group) when its episode times out, when
//!   the run is interrupted, or when shipgate returns; nothing of it survives
//!   the run.
//! - Its output is kept bounded ([`MAX_OUTPUT_BYTES`]) and scrubbed of every
//!   full form of the run's secrets; whether the raw output held the
//!   placeholder or the real key is decided by the host alone
//!   ([`credential_findings`]).

pub mod interposer;
pub mod scenario;

use crate::findings::{Finding, FindingKind, Verdict};
use crate::report::episodes::{ApplicationRun, Episode, MAX_OUTPUT_BYTES};
use crate::secret::SecretSet;
use interposer::{Interposer, Upstream};
use scenario::Scenario;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt as _;

pub use crate::plan::ApplicationConfig;

/// Extra time past the plan's `request_timeout_ms` that a stall lasts: a
/// client whose timeout is the plan's gives up well before the stall ends.
pub const STALL_SLACK_MS: u64 = 2_000;

/// What an episode set needs besides the plan's `[application]`.
#[derive(Debug)]
pub struct Episodes<'a> {
    /// The application.
    pub config: &'a ApplicationConfig,
    /// Where to run it (the plan's directory).
    pub dir: PathBuf,
    /// Where its requests go.
    pub upstream: Upstream,
    /// The run's secrets (the placeholder among them).
    pub secrets: Arc<SecretSet>,
    /// The placeholder key the application gets.
    pub placeholder: crate::redact::Secret,
    /// The plan's client timeout, ms (a stall lasts longer).
    pub request_timeout_ms: u64,
    /// Where progress goes.
    pub events: crate::events::Events,
}

/// What the raw (unscrubbed) output held, for the host's own finding.
#[derive(Debug, Default)]
pub struct RawOutputs(Vec<(String, Vec<u8>)>);

impl Episodes<'_> {
    /// Run every scenario of the plan, one episode each, in order; stop early
    /// (the episodes so far) when `cancel` completes.
    pub async fn run(
        &self,
        cancel: impl std::future::Future<Output = ()>,
    ) -> (ApplicationRun, RawOutputs) {
        let mut run = ApplicationRun {
            command: self
                .argv()
                .iter()
                .map(|a| {
                    let (a, _) = self.secrets.scrub(a.clone().into_bytes());
                    crate::text::one_line(&String::from_utf8_lossy(&a), 512)
                })
                .collect(),
            episodes: Vec::new(),
        };
        let mut raw = RawOutputs::default();
        tokio::pin!(cancel);
        for scenario in &self.config.scenarios {
            let episode = self.episode(*scenario);
            tokio::select! {
                biased;
                () = &mut cancel => break,
                (e, out, err) = episode => {
                    self.events.emit(crate::events::Event::EpisodeFinished {
                        scenario: e.scenario.clone(),
                        exit_code: e.exit_code,
                        timed_out: e.timed_out,
                        requests: e.exchanges.len(),
                        wall_ms: e.wall_ms,
                    });
                    raw.0.push((format!("{} stdout", e.scenario), out));
                    raw.0.push((format!("{} stderr", e.scenario), err));
                    run.episodes.push(e);
                }
            }
        }
        (run, raw)
    }

    async fn episode(&self, scenario: Scenario) -> (Episode, Vec<u8>, Vec<u8>) {
        let stall_ms = self.request_timeout_ms.saturating_add(STALL_SLACK_MS);
        let mut episode = Episode {
            scenario: scenario.name().into(),
            clears_at: scenario.clears_at(),
            stall_ms: (scenario == Scenario::Stall).then_some(stall_ms),
            ..Episode::default()
        };
        let interposer = match Interposer::start(
            scenario,
            self.placeholder.expose().to_owned(),
            self.upstream.clone(),
            self.secrets.clone(),
            stall_ms,
        )
        .await
        {
            Ok(i) => i,
            Err(e) => {
                episode.stderr = format!("shipgate could not start the interposer: {e}");
                return (episode, Vec::new(), Vec::new());
            }
        };
        let started = Instant::now();
        let marker = crate::capability::http::credentials::random_token(24)
            .expose()
            .to_owned();
        let (out, err) = match self.spawn(&interposer.base_url(), &marker) {
            Ok(child) => {
                let timeout = Duration::from_millis(self.config.timeout_ms);
                let work = self.config.trigger.clone().map(|t| {
                    let ready = self.config.ready_url.clone();
                    Box::pin(serve_once(ready, t)) as Work
                });
                let s = supervise(child, timeout, work, &marker).await;
                episode.exit_code = s.code;
                episode.timed_out = s.timed_out;
                episode.trigger_status = s.trigger_status;
                episode.service_error = s.service_error;
                (s.out, s.err)
            }
            Err(e) => (
                Vec::new(),
                format!("shipgate could not start `{}`: {e}", self.program()).into_bytes(),
            ),
        };
        episode.wall_ms = started.elapsed().as_millis() as u64;
        let (exchanges, dropped) = interposer.finish().await;
        episode.exchanges = exchanges;
        episode.exchanges_dropped = dropped;
        let keep = |bytes: &[u8]| {
            let cut = bytes.len() > MAX_OUTPUT_BYTES;
            let (s, _) = self
                .secrets
                .scrub(bytes[..bytes.len().min(MAX_OUTPUT_BYTES)].to_vec());
            (String::from_utf8_lossy(&s).into_owned(), cut)
        };
        let (stdout, a) = keep(&out);
        let (stderr, b) = keep(&err);
        episode.stdout = stdout;
        episode.stderr = stderr;
        episode.output_truncated = a || b;
        (episode, out, err)
    }

    /// The program that runs: the command, or the service's start command.
    fn program(&self) -> &str {
        self.argv().first().map_or("", String::as_str)
    }

    fn argv(&self) -> &[String] {
        if self.config.start.is_empty() {
            &self.config.command
        } else {
            &self.config.start
        }
    }

    fn spawn(&self, base_url: &str, marker: &str) -> std::io::Result<tokio::process::Child> {
        let Some((program, args)) = self.argv().split_first() else {
            return Err(std::io::Error::other("the command is empty"));
        };
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args)
            .current_dir(&self.dir)
            .env_clear()
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            // Its own group, so a timeout kills everything it started.
            .process_group(0);
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        let env: &BTreeMap<String, String> = &self.config.env;
        cmd.envs(env)
            .env(&self.config.base_url_env, base_url)
            .env(&self.config.api_key_env, self.placeholder.expose())
            // Marks everything it starts, so what left its process group
            // (a daemon that called setsid) is found at the end.
            .env(EPISODE_MARKER, marker);
        cmd.spawn()
    }
}

/// A service's one piece of work: the trigger's status, or why not.
type Work = std::pin::Pin<Box<dyn std::future::Future<Output = Result<u16, String>> + Send>>;

/// How an episode's process ended.
struct Supervised {
    code: Option<i32>,
    timed_out: bool,
    trigger_status: Option<u16>,
    service_error: Option<String>,
    out: Vec<u8>,
    err: Vec<u8>,
}

/// Most time between readiness polls of a service.
const READY_POLL: Duration = Duration::from_millis(100);

/// Wait until `ready` answers 2xx (when given), then send the trigger.
async fn serve_once(ready: Option<String>, trigger: crate::plan::Trigger) -> Result<u16, String> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    if let Some(url) = ready {
        // Bounded by the episode's timeout, around this future.
        loop {
            let up = client
                .get(&url)
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if up {
                break;
            }
            tokio::time::sleep(READY_POLL).await;
        }
    }
    let method = if trigger.method == "GET" {
        reqwest::Method::GET
    } else {
        reqwest::Method::POST
    };
    let r = client
        .request(method, &trigger.url)
        .header("content-type", trigger.content_type)
        .body(trigger.body)
        .send()
        .await
        .map_err(|e| {
            format!(
                "the trigger request failed: {}",
                crate::text::one_line(&e.to_string(), 200)
            )
        })?;
    let status = r.status().as_u16();
    let _ = r.bytes().await;
    Ok(status)
}

/// Wait for the application (at most `timeout`): until it exits, or for a
/// service until its one piece of work is done; read its output with a cap;
/// kill its whole process group at the end.
async fn supervise(
    mut child: tokio::process::Child,
    timeout: Duration,
    work: Option<Work>,
    marker: &str,
) -> Supervised {
    // Whatever it started goes with it: now, or when this future is dropped
    // (the run was interrupted).
    let group = GroupGuard(
        child
            .id()
            .and_then(|p| rustix::process::Pid::from_raw(p as i32)),
        format!("{EPISODE_MARKER}={marker}"),
    );
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let read = |pipe: Option<tokio::process::ChildStdout>| async move { read_capped(pipe).await };
    let read_err =
        |pipe: Option<tokio::process::ChildStderr>| async move { read_capped(pipe).await };
    let out_task = tokio::spawn(read(stdout.take()));
    let err_task = tokio::spawn(read_err(stderr.take()));
    let mut s = Supervised {
        code: None,
        timed_out: false,
        trigger_status: None,
        service_error: None,
        out: Vec::new(),
        err: Vec::new(),
    };
    match work {
        None => match tokio::time::timeout(timeout, child.wait()).await {
            Ok(Ok(status)) => s.code = status.code(),
            Ok(Err(_)) => {}
            Err(_) => s.timed_out = true,
        },
        Some(work) => {
            let served = tokio::time::timeout(timeout, async {
                tokio::select! {
                    exited = child.wait() => Err(format!(
                        "the service exited ({}) before its work was done",
                        exited.ok().and_then(|e| e.code()).map_or_else(|| "by a signal".to_owned(), |c| format!("code {c}"))
                    )),
                    done = work => done,
                }
            })
            .await;
            match served {
                Ok(Ok(status)) => s.trigger_status = Some(status),
                Ok(Err(why)) => s.service_error = Some(why),
                Err(_) => {
                    s.timed_out = true;
                    s.service_error = Some(
                        "not ready, or the work not done, within the episode's timeout".into(),
                    );
                }
            }
        }
    }
    drop(group);
    let _ = child.kill().await;
    let out = tokio::time::timeout(Duration::from_secs(2), out_task)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let err = tokio::time::timeout(Duration::from_secs(2), err_task)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    s.out = out;
    s.err = err;
    s
}

/// The variable that marks an episode's processes (its value is random per
/// episode).
pub const EPISODE_MARKER: &str = "SHIPGATE_EPISODE";

/// Kills a process group when dropped, and then every process that still
/// carries the episode's marker in its environment (one that left the group
/// with `setsid`; one that also replaced its environment is not found).
struct GroupGuard(Option<rustix::process::Pid>, String);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
        // Freeze every marked process (a stopped one forks no more), look
        // again until no new one appears, then kill them all: a daemon that
        // keeps forking and exiting cannot stay ahead.
        // A stop is delivered after `kill` returns, so the search ends only
        // after two quiet looks a moment apart; and what still slipped
        // through (a fork completing as its parent stopped) is killed after.
        let pause = || std::thread::sleep(Duration::from_millis(10));
        let mut frozen: Vec<rustix::process::Pid> = Vec::new();
        let mut quiet = 0;
        for _ in 0..50 {
            let new: Vec<_> = marked_processes(self.1.as_bytes())
                .into_iter()
                .filter(|p| !frozen.contains(p))
                .collect();
            if new.is_empty() {
                quiet += 1;
                if quiet == 2 {
                    break;
                }
                pause();
                continue;
            }
            quiet = 0;
            for pid in new {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::STOP);
                frozen.push(pid);
            }
        }
        for pid in frozen {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
        for _ in 0..5 {
            let left = marked_processes(self.1.as_bytes());
            if left.is_empty() {
                break;
            }
            for pid in left {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
            pause();
        }
    }
}

/// Processes (of this user: others' environments are unreadable) whose
/// environment holds `entry` (`NAME=value`) whole; not this process.
fn marked_processes(entry: &[u8]) -> Vec<rustix::process::Pid> {
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == entry))
        })
        .filter_map(|pid| rustix::process::Pid::from_raw(pid as i32))
        .collect()
}

/// Read a pipe to its end, keeping at most one byte past the cap (so a cut
/// is known) and draining the rest so the application never blocks on it.
async fn read_capped<R: tokio::io::AsyncRead + Unpin>(pipe: Option<R>) -> Vec<u8> {
    let Some(mut pipe) = pipe else {
        return Vec::new();
    };
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = (MAX_OUTPUT_BYTES + 1).saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
    kept
}

/// The host's own finding about the application: whether its output held the
/// run's placeholder key or real credential, in any form the host knows
/// (matched here, after the episodes, never by a guest).
pub fn credential_findings(raw: &RawOutputs, secrets: &SecretSet) -> Vec<Finding> {
    let mut leaks = Vec::new();
    for (source, bytes) in &raw.0 {
        for hit in secrets.scan(bytes) {
            leaks.push(format!(
                "{source}: the {} ({})",
                hit.kind.label(),
                hit.form.name()
            ));
        }
    }
    leaks.dedup();
    let mut f = Finding::host(
        "application",
        FindingKind::Check,
        "credential-logged",
        "the application does not print or log its credential",
        if leaks.is_empty() {
            format!(
                "{} output streams scanned for every form of the key it was given and the real key: none found",
                raw.0.len()
            )
        } else {
            format!(
                "the application printed its credential: {}; treat the key as exposed and redact it in the application's logging",
                leaks.iter().take(8).cloned().collect::<Vec<_>>().join("; ")
            )
        },
    );
    f.verdict = if leaks.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    f.subject = crate::checklist::Subject::Application;
    f.covers = vec![crate::checklist::LOGS_REDACTED.to_owned()];
    vec![f]
}
