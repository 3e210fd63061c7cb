//! Record and replay: every exchange a check makes, as plain JSON lines.
//!
//! `run --cassettes DIR` records each attempt's request (method, path, auth
//! mode, fault, headers, body) and what came back (status, headers, body,
//! latency, a stream's timing, or the error) into `DIR/<plugin>.jsonl`, with
//! the contract (`DIR/contract.toml`) and what was recorded against
//! (`DIR/cassettes.json`). `run --replay DIR` answers every request from
//! those files instead of the network: a plugin set runs in CI with no key
//! and no network, and gets the findings of the recorded run.
//!
//! # Security
//!
//! What is recorded is what the guest saw, after the host's scrub: the
//! response is recorded after every full form of the run's secrets was
//! masked, and the request is the guest's own (a guest never holds a
//! credential; the host adds `Authorization` after this point, so it is never
//! recorded). Request header values other than `content-type`, `accept` and
//! `idempotency-key` (headers the contract documents or the plan grants may
//! carry account ids) are removed, as is any `set-cookie`. Every line is
//! scrubbed once more before it reaches the disk, and the files are written
//! atomically at the end of the run. Values the host makes per run (the
//! correlation id, the unapproved model id) are written as placeholders and
//! filled in with the replaying run's own.
//!
//! # Matching
//!
//! A request is answered by the first unused recording with the same plugin,
//! method, path, auth mode, fault and canonical body (JSON with sorted keys):
//! identical requests replay in their recorded order, so a missing-auth and
//! an invalid-auth probe, or a 503, 503, 200 sequence, come back as recorded.
//! A request with no match is rejected (nothing is sent) and named after the run.

use super::send::{Exchange, StreamInfo};
use crate::bindings::shipgate::plugin::http::{AuthMode, HttpError};
use crate::secret::SecretSet;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The cassette format this host writes and reads.
pub const CASSETTE_FORMAT: u32 = 1;

/// The metadata file of a cassette directory.
pub const META_FILE: &str = "cassettes.json";

/// The contract a cassette directory was recorded against.
pub const CONTRACT_FILE: &str = "contract.toml";

const CORRELATION: &str = "{{correlation_id}}";
const UNAPPROVED: &str = "{{unapproved_model}}";

/// Request headers whose values are kept in a cassette.
const KEPT_HEADERS: &[&str] = &["content-type", "accept", "idempotency-key"];

/// Most bytes of recordings one replay directory may hold, all files
/// together (a default run records about 30 KB; a hand-edited directory is
/// bounded here, and so is the memory its JSON takes: at worst about 100
/// times the bytes, for JSON made of empty objects).
const MAX_REPLAY_BYTES: u64 = 4 * 1024 * 1024;

/// Whether a run records, replays or neither; cheap to clone.
#[derive(Debug, Clone, Default)]
pub enum Tape {
    /// Requests go to the network; nothing is recorded.
    #[default]
    Off,
    /// Requests go to the network and every exchange is recorded.
    Record(Arc<Recorder>),
    /// Requests are answered from recordings; nothing is sent.
    Replay(Arc<Player>),
}

impl Tape {
    /// Whether requests are answered from recordings.
    pub fn is_replay(&self) -> bool {
        matches!(self, Tape::Replay(_))
    }
}

/// What a cassette directory was recorded against.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// [`CASSETTE_FORMAT`].
    pub format: u32,
    /// The shipgate version that recorded it.
    pub shipgate: String,
    /// When, RFC 3339.
    pub recorded_at: String,
    /// The contract's base URL.
    pub base_url: String,
    /// Whether that was the built-in mock (fault injection allowed).
    pub target_is_mock: bool,
    /// The run id of the recorded run.
    pub run_id: String,
    /// The cassette files it wrote (a new recording replaces only these).
    pub files: Vec<String>,
}

/// How a replayed run names its contract (the record's `contract_source`):
/// the contract, and the cassettes it was answered from.
pub fn replay_source(contract: &Path, dir: &Path, meta: &Meta) -> String {
    format!(
        "{} (replayed from {}, recorded {} by run {})",
        contract.display(),
        dir.display(),
        meta.recorded_at,
        meta.run_id
    )
}

/// The cassettes a run was replayed from, read back from its
/// `contract_source` ([`replay_source`]); None for a live run.
pub fn replayed_from(contract_source: &str) -> Option<&str> {
    let (_, rest) = contract_source.rsplit_once(" (replayed from ")?;
    rest.strip_suffix(')')
}

/// Most bytes of a cassette directory's metadata file.
const MAX_META_BYTES: u64 = 64 * 1024;

/// The metadata of a cassette directory, when `dir` holds one.
///
/// # Errors
///
/// [`CassetteError`] when the file is there but is not shipgate's.
pub fn read_meta(dir: &Path) -> Result<Meta, CassetteError> {
    let path = dir.join(META_FILE);
    let text = read_plain(&path, MAX_META_BYTES)?;
    let meta: Meta = serde_json::from_str(&text).map_err(|e| CassetteError::Line {
        path: path.display().to_string(),
        line: e.line(),
        reason: e.to_string(),
    })?;
    if meta.format != CASSETTE_FORMAT {
        return Err(CassetteError::Format {
            path: path.display().to_string(),
            found: meta.format,
        });
    }
    // Printed on the terminal: plain, short values only.
    for (key, value) in [
        ("shipgate", &meta.shipgate),
        ("recorded_at", &meta.recorded_at),
        ("run_id", &meta.run_id),
        ("base_url", &meta.base_url),
    ] {
        let plain = value.len() <= 256 && value.chars().all(|c| c.is_ascii_graphic());
        if !plain {
            return Err(CassetteError::Read {
                path: path.display().to_string(),
                reason: format!(
                    "`{key}` is not a short printable value (at most 256 visible ASCII characters)"
                ),
            });
        }
    }
    Ok(meta)
}

/// The contract a cassette directory was recorded against.
///
/// # Errors
///
/// [`CassetteError`] when it is not a regular file there (or is too large).
pub fn read_contract(dir: &Path) -> Result<String, CassetteError> {
    read_plain(&dir.join(CONTRACT_FILE), 1024 * 1024)
}

/// A regular file of the cassette directory, not through a symlink (a
/// hostile directory cannot point shipgate at a file elsewhere), at most
/// `max` bytes, as text.
fn read_plain(path: &Path, max: u64) -> Result<String, CassetteError> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let err = |reason: String| CassetteError::Read {
        path: path.display().to_string(),
        reason,
    };
    // Opened without following a final symlink, then checked on the open
    // file itself: nothing can be swapped in between.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags((rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(code) if code == rustix::io::Errno::LOOP.raw_os_error() => err(
                "not a regular file (a cassette directory holds no links, directories or devices)"
                    .into(),
            ),
            _ => err(e.to_string()),
        })?;
    let meta = file.metadata().map_err(|e| err(e.to_string()))?;
    if !meta.is_file() {
        return Err(err(
            "not a regular file (a cassette directory holds no links, directories or devices)"
                .into(),
        ));
    }
    if std::os::unix::fs::MetadataExt::nlink(&meta) > 1 {
        return Err(err(
            "a hard link to another file (a cassette directory holds its own files only)".into(),
        ));
    }
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| err(e.to_string()))?;
    if bytes.len() as u64 > max {
        return Err(err(format!("over the {max}-byte limit for cassettes")));
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// One recorded attempt.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    /// Its order among the plugin's attempts.
    seq: u32,
    request: Req,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    response: Option<Resp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<Failure>,
    latency_ms: u64,
    /// Whether what came back held part of a secret (host-side only).
    #[serde(skip)]
    tainted: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Req {
    method: String,
    path: String,
    auth: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fault: Option<String>,
    headers: Vec<(String, String)>,
    #[serde(flatten)]
    body: Body,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    #[serde(flatten)]
    body: Body,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stream: Option<StreamRec>,
}

/// A body: JSON (requests only: matched canonically), text, or bytes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Body {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body_json: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body_base64: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamRec {
    first_byte_ms: Option<u32>,
    chunks: u32,
    bytes: u64,
    boundaries: Vec<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    interrupted: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Failure {
    kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
}

/// The per-run values written as placeholders.
#[derive(Debug, Clone)]
pub struct RunValues<'a> {
    /// This attempt's correlation id.
    pub correlation_id: &'a str,
    /// The run's unapproved model id.
    pub unapproved_model: &'a str,
}

impl RunValues<'_> {
    fn with_placeholders(&self, s: &str) -> String {
        let s = if self.correlation_id.is_empty() {
            s.to_owned()
        } else {
            s.replace(self.correlation_id, CORRELATION)
        };
        s.replace(self.unapproved_model, UNAPPROVED)
    }

    fn filled_in(&self, s: &str) -> String {
        s.replace(CORRELATION, self.correlation_id)
            .replace(UNAPPROVED, self.unapproved_model)
    }
}

fn auth_name(a: AuthMode) -> &'static str {
    match a {
        AuthMode::Configured => "configured",
        AuthMode::Omitted => "omitted",
        AuthMode::Invalid => "invalid",
    }
}

/// JSON with every object's keys sorted, whatever the map type.
fn canonical(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", Value::String((*k).clone()), canonical(&m[*k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

impl Body {
    fn of_request(bytes: &[u8], values: &RunValues<'_>) -> Body {
        match std::str::from_utf8(bytes) {
            Ok(text) => {
                let text = values.with_placeholders(text);
                match serde_json::from_str::<serde_json::Value>(&text) {
                    Ok(v) if !text.trim().is_empty() => Body {
                        body_json: Some(v),
                        ..Body::default()
                    },
                    _ => Body {
                        body: Some(text),
                        ..Body::default()
                    },
                }
            }
            Err(_) => Body {
                body_base64: Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
                ..Body::default()
            },
        }
    }

    fn of_response(bytes: &[u8], values: &RunValues<'_>) -> Body {
        match std::str::from_utf8(bytes) {
            Ok(text) => Body {
                body: Some(values.with_placeholders(text)),
                ..Body::default()
            },
            Err(_) => Body {
                body_base64: Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
                ..Body::default()
            },
        }
    }

    /// The text requests are matched on.
    fn match_text(&self) -> String {
        match (&self.body_json, &self.body, &self.body_base64) {
            (Some(v), _, _) => canonical(v),
            (None, Some(t), _) => t.clone(),
            (None, None, Some(b)) => format!("base64:{b}"),
            (None, None, None) => String::new(),
        }
    }

    fn bytes(&self, values: &RunValues<'_>) -> Vec<u8> {
        match (&self.body, &self.body_base64) {
            (Some(t), _) => values.filled_in(t).into_bytes(),
            (None, Some(b)) => base64::engine::general_purpose::STANDARD
                .decode(b)
                .unwrap_or_default(),
            (None, None) => self
                .body_json
                .as_ref()
                .map(|v| values.filled_in(&v.to_string()).into_bytes())
                .unwrap_or_default(),
        }
    }
}

/// What identifies a request for matching.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    plugin: String,
    method: String,
    path: String,
    auth: String,
    fault: Option<String>,
    body: String,
}

impl Key {
    fn of(plugin: &str, req: &Req) -> Key {
        Key {
            plugin: plugin.to_owned(),
            method: req.method.clone(),
            path: req.path.clone(),
            auth: req.auth.clone(),
            fault: req.fault.clone(),
            body: req.body.match_text(),
        }
    }
}

/// One attempt as the send path sees it.
#[derive(Debug)]
pub struct Asked<'a> {
    /// The plugin.
    pub plugin: &'a str,
    /// Method.
    pub method: &'a reqwest::Method,
    /// The URL (its path and query are recorded).
    pub url: &'a reqwest::Url,
    /// Auth mode.
    pub auth: AuthMode,
    /// Fault asked of the mock.
    pub fault: Option<&'a str>,
    /// The guest's headers.
    pub headers: &'a [(String, String)],
    /// The body as sent.
    pub body: &'a [u8],
    /// The per-run values.
    pub values: RunValues<'a>,
}

impl Asked<'_> {
    fn request(&self) -> Req {
        let path = match self.url.query() {
            Some(q) => format!("{}?{q}", self.url.path()),
            None => self.url.path().to_owned(),
        };
        Req {
            method: self.method.as_str().to_owned(),
            path: self.values.with_placeholders(&path),
            auth: auth_name(self.auth).to_owned(),
            fault: self.fault.map(str::to_owned),
            headers: self
                .headers
                .iter()
                .map(|(k, v)| {
                    let k = k.to_ascii_lowercase();
                    let v = if KEPT_HEADERS.contains(&k.as_str()) {
                        v.clone()
                    } else {
                        "[removed]".to_owned()
                    };
                    (k, v)
                })
                .collect(),
            body: Body::of_request(self.body, &self.values),
        }
    }
}

/// The outcome of one attempt, as the send path produces it.
pub type Outcome = Result<(Exchange, Option<StreamInfo>), HttpError>;

/// Records every attempt of a run; writes the directory when the run ends.
#[derive(Debug)]
pub struct Recorder {
    dir: PathBuf,
    previous: Vec<String>,
    entries: Mutex<BTreeMap<String, Vec<Entry>>>,
}

impl Recorder {
    /// A recorder that will write into `dir` (created when saved): a new or
    /// empty directory, or a cassette directory, whose recordings it replaces.
    ///
    /// # Errors
    ///
    /// A message naming `dir` when it holds anything else.
    pub fn new(dir: &Path) -> Result<Recorder, String> {
        let holds_files = std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some());
        if dir.exists() && !dir.is_dir() {
            return Err(format!("{}: not a directory", dir.display()));
        }
        let previous = if holds_files {
            read_meta(dir)
                .map_err(|e| {
                    format!(
                        "{} holds files but is not a shipgate cassette directory ({e}); give a new or empty directory",
                        dir.display()
                    )
                })?
                .files
        } else {
            Vec::new()
        };
        Ok(Recorder {
            dir: dir.to_owned(),
            previous,
            entries: Mutex::default(),
        })
    }

    /// Where it writes.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Record one attempt; `secrets` finds part of a secret in what came
    /// back, in any form it knows (a recording that holds one is never written).
    pub fn record(
        &self,
        asked: &Asked<'_>,
        outcome: &Outcome,
        latency: Duration,
        secrets: &SecretSet,
    ) {
        let tainted = match outcome {
            Ok(((_, headers, body), _)) => secrets.answer_holds_fragment(headers, body),
            Err(_) => false,
        };
        let v = &asked.values;
        let (response, error) = match outcome {
            Ok(((status, headers, body), stream)) => (
                Some(Resp {
                    status: *status,
                    headers: headers
                        .iter()
                        .filter(|(k, _)| !k.eq_ignore_ascii_case("set-cookie"))
                        .map(|(k, val)| (k.clone(), v.with_placeholders(val)))
                        .collect(),
                    body: Body::of_response(body, v),
                    stream: stream.as_ref().map(|s| StreamRec {
                        first_byte_ms: s.first_byte_ms,
                        chunks: s.chunks,
                        bytes: s.bytes,
                        boundaries: s.boundaries.clone(),
                        interrupted: s.interrupted.clone(),
                    }),
                }),
                None,
            ),
            Err(e) => (None, Some(failure_of(e, v))),
        };
        let mut entries = self.entries.lock().expect("cassette lock");
        let list = entries.entry(asked.plugin.to_owned()).or_default();
        let seq = u32::try_from(list.len()).unwrap_or(u32::MAX) + 1;
        list.push(Entry {
            seq,
            request: asked.request(),
            response,
            error,
            latency_ms: u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
            tainted,
        });
    }

    /// Write the directory: one `<plugin>.jsonl` per plugin, the contract
    /// and the metadata, each scrubbed of the run's secrets and written
    /// atomically.
    ///
    /// # Errors
    ///
    /// An I/O failure, naming the file.
    pub fn save(
        &self,
        meta: &Meta,
        contract_toml: &str,
        secrets: &SecretSet,
    ) -> anyhow::Result<()> {
        use anyhow::Context as _;
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let write = |name: &str, text: String| -> anyhow::Result<()> {
            let (clean, _) = secrets.scrub(text.into_bytes());
            let path = self.dir.join(name);
            crate::report::record::write_atomic(&path, &clean)
                .with_context(|| format!("writing {}", path.display()))
        };
        let entries = self.entries.lock().expect("cassette lock");
        let mut texts = Vec::new();
        for (plugin, list) in entries.iter() {
            let mut text = String::new();
            for e in list {
                let line = serde_json::to_string(e)?;
                // Fail closed: part of a key (cut, or in a form the scrub
                // cannot mask) never reaches a file meant to be committed;
                // the raw answer was checked when recorded (a base64 or
                // UTF-16 body hides it from a check of the line).
                if e.tainted || secrets.holds_fragment(line.as_bytes()).is_some() {
                    anyhow::bail!(
                        "no cassette was written: the answer to {plugin}'s request {} holds part of one of the run's secrets (the target echoed it in a form that cannot be masked); see the run's secret findings",
                        e.seq
                    );
                }
                text.push_str(&line);
                text.push('\n');
            }
            let name = format!("{plugin}.jsonl");
            anyhow::ensure!(
                is_cassette_name(&name),
                "no cassette was written: plugin name {plugin:?} cannot be a file name"
            );
            texts.push((name, text));
        }
        let meta = Meta {
            files: texts.iter().map(|(name, _)| name.clone()).collect(),
            ..meta.clone()
        };
        for (name, text) in texts {
            write(&name, text)?;
        }
        write(CONTRACT_FILE, contract_toml.to_owned())?;
        write(META_FILE, serde_json::to_string_pretty(&meta)? + "\n")?;
        // The previous recording's files that this one did not write (and
        // nothing else: the directory may hold the user's own files).
        for stale in self.previous.iter().filter(|f| !meta.files.contains(f)) {
            let path = self.dir.join(stale);
            if is_cassette_name(stale) && path.is_file() {
                std::fs::remove_file(&path)
                    .with_context(|| format!("removing {}", path.display()))?;
            }
        }
        Ok(())
    }
}

/// A cassette file's name: a plugin name (letters, digits, `.`, `_`, `-`)
/// and `.jsonl`, nothing that leaves the directory.
fn is_cassette_name(name: &str) -> bool {
    name.strip_suffix(".jsonl").is_some_and(|stem| {
        !stem.is_empty()
            && !stem.starts_with('.')
            && stem
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    })
}

fn failure_of(e: &HttpError, v: &RunValues<'_>) -> Failure {
    let (kind, message, size) = match e {
        HttpError::Timeout(ms) => ("timeout", String::new(), Some(u64::from(*ms))),
        HttpError::Connect(m) => ("connect", m.clone(), None),
        HttpError::Withheld(m) => ("withheld", m.clone(), None),
        HttpError::BodyTooLarge(n) => ("body-too-large", String::new(), Some(*n)),
        HttpError::Denied(m) => ("denied", m.clone(), None),
        HttpError::Rejected(m) => ("rejected", m.clone(), None),
    };
    Failure {
        kind: kind.to_owned(),
        message: v.with_placeholders(&message),
        size,
    }
}

impl Failure {
    fn error(&self, v: &RunValues<'_>) -> HttpError {
        let m = v.filled_in(&self.message);
        match self.kind.as_str() {
            "timeout" => HttpError::Timeout(self.size.unwrap_or(0) as u32),
            "connect" => HttpError::Connect(m),
            "withheld" => HttpError::Withheld(m),
            "body-too-large" => HttpError::BodyTooLarge(self.size.unwrap_or(0)),
            "denied" => HttpError::Denied(m),
            _ => HttpError::Rejected(m),
        }
    }
}

/// Answers requests from a cassette directory.
#[derive(Debug)]
pub struct Player {
    dir: PathBuf,
    meta: Meta,
    queues: Mutex<HashMap<Key, VecDeque<Entry>>>,
    misses: Mutex<Vec<String>>,
}

/// Why a cassette directory cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub enum CassetteError {
    /// A file could not be read.
    #[error("{path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A line is not a recording.
    #[error("{path}:{line}: not a shipgate cassette line: {reason}")]
    Line {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// The parser's message.
        reason: String,
    },
    /// Recorded by an incompatible format.
    #[error(
        "{path}: cassette format {found}, this shipgate reads format {CASSETTE_FORMAT}: record the cassettes again"
    )]
    Format {
        /// The metadata file.
        path: String,
        /// Its format.
        found: u32,
    },
}

impl Player {
    /// Load a cassette directory: its metadata and every `*.jsonl`.
    ///
    /// # Errors
    ///
    /// [`CassetteError`] naming the file (and line).
    pub fn load(dir: &Path) -> Result<Player, CassetteError> {
        let meta = read_meta(dir)?;
        let mut budget = MAX_REPLAY_BYTES;
        let mut queues: HashMap<Key, VecDeque<Entry>> = HashMap::new();
        for name in &meta.files {
            let path = dir.join(name);
            if !is_cassette_name(name) {
                return Err(CassetteError::Read {
                    path: dir.join(META_FILE).display().to_string(),
                    reason: format!("lists {name:?}, which is not a cassette file name"),
                });
            }
            let plugin = name.trim_end_matches(".jsonl").to_owned();
            let text = read_plain(&path, budget)?;
            budget = budget.saturating_sub(text.len() as u64);
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let entry: Entry = serde_json::from_str(line).map_err(|e| CassetteError::Line {
                    path: path.display().to_string(),
                    line: i + 1,
                    reason: e.to_string(),
                })?;
                queues
                    .entry(Key::of(&plugin, &entry.request))
                    .or_default()
                    .push_back(entry);
            }
        }
        Ok(Player {
            dir: dir.to_owned(),
            meta,
            queues: Mutex::new(queues),
            misses: Mutex::default(),
        })
    }

    /// What the directory was recorded against.
    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// Where it was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The recorded answer to `asked` and its recorded latency; a request
    /// with no recording left is rejected (and remembered for [`Player::misses`]).
    pub fn answer(&self, asked: &Asked<'_>) -> (Outcome, Duration) {
        let req = asked.request();
        let key = Key::of(asked.plugin, &req);
        let entry = self
            .queues
            .lock()
            .expect("cassette lock")
            .get_mut(&key)
            .and_then(VecDeque::pop_front);
        let Some(entry) = entry else {
            let what = format!(
                "{} {} {} (auth {}{})",
                asked.plugin,
                req.method,
                req.path,
                req.auth,
                req.fault
                    .as_deref()
                    .map(|f| format!(", fault {f}"))
                    .unwrap_or_default()
            );
            let mut misses = self.misses.lock().expect("cassette lock");
            if misses.len() < 100 {
                misses.push(what.clone());
            }
            return (
                Err(HttpError::Rejected(format!(
                    "replay: no recorded exchange for {what} in {}; nothing was sent (record the cassettes again with --cassettes)",
                    self.dir.display()
                ))),
                Duration::ZERO,
            );
        };
        let v = &asked.values;
        let latency = Duration::from_millis(entry.latency_ms);
        let outcome = match (entry.response, entry.error) {
            (Some(r), _) => Ok((
                (
                    r.status,
                    r.headers
                        .into_iter()
                        .map(|(k, val)| (k, v.filled_in(&val)))
                        .collect(),
                    r.body.bytes(v),
                ),
                r.stream.map(|s| StreamInfo {
                    boundaries: s.boundaries,
                    first_byte_ms: s.first_byte_ms,
                    chunks: s.chunks,
                    bytes: s.bytes,
                    interrupted: s.interrupted,
                }),
            )),
            (None, Some(f)) => Err(f.error(v)),
            (None, None) => Err(HttpError::Connect("recorded without an outcome".into())),
        };
        (outcome, latency)
    }

    /// Requests that had no recording, named (at most 100).
    pub fn misses(&self) -> Vec<String> {
        self.misses.lock().expect("cassette lock").clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked<'a>(
        url: &'a reqwest::Url,
        auth: AuthMode,
        body: &'a [u8],
        values: RunValues<'a>,
    ) -> Asked<'a> {
        Asked {
            plugin: "probe",
            method: &reqwest::Method::POST,
            url,
            auth,
            fault: None,
            headers: &[],
            body,
            values,
        }
    }

    #[test]
    fn identical_requests_replay_in_order_and_auth_modes_apart() {
        let dir = tempfile::tempdir().unwrap();
        let url = reqwest::Url::parse("http://127.0.0.1:9/v1/chat/completions").unwrap();
        let rec = Recorder::new(dir.path()).unwrap();
        let run1 = RunValues {
            correlation_id: "corr-1",
            unapproved_model: "shipgate-unapproved-model-aaa",
        };
        let ok = |status: u16, body: &str| -> Outcome {
            Ok(((status, vec![], body.as_bytes().to_vec()), None))
        };
        let body = br#"{"model":"shipgate-unapproved-model-aaa","b":1}"#;
        for (auth, outcome) in [
            (AuthMode::Configured, ok(503, "a")),
            (AuthMode::Configured, ok(503, "b")),
            (
                AuthMode::Configured,
                ok(200, "model shipgate-unapproved-model-aaa, corr-1"),
            ),
            (AuthMode::Omitted, ok(401, "missing")),
            (AuthMode::Invalid, Err(HttpError::Timeout(5))),
        ] {
            rec.record(
                &asked(&url, auth, body, run1.clone()),
                &outcome,
                Duration::from_millis(7),
                &SecretSet::new(&[], "Bearer"),
            );
        }
        let meta = Meta {
            format: CASSETTE_FORMAT,
            shipgate: "test".into(),
            recorded_at: "now".into(),
            base_url: "http://127.0.0.1:9/v1".into(),
            target_is_mock: true,
            run_id: "r".into(),
            files: Vec::new(),
        };
        let secrets = SecretSet::new(&[], "Bearer");
        rec.save(&meta, "schema = 1\n", &secrets).unwrap();
        let text = std::fs::read_to_string(dir.path().join("probe.jsonl")).unwrap();
        assert!(
            !text.contains("unapproved-model-aaa") && !text.contains("corr-1"),
            "{text}"
        );

        let player = Player::load(dir.path()).unwrap();
        let run2 = RunValues {
            correlation_id: "corr-2",
            unapproved_model: "shipgate-unapproved-model-bbb",
        };
        // Keys reordered: the canonical body matches.
        let body2 = br#"{"b":1,"model":"shipgate-unapproved-model-bbb"}"#;
        let status = |auth| match player.answer(&asked(&url, auth, body2, run2.clone())).0 {
            Ok(((s, _, b), _)) => (s, String::from_utf8(b).unwrap()),
            Err(e) => (0, format!("{e:?}")),
        };
        assert_eq!(
            status(AuthMode::Invalid),
            (0, "HttpError::Timeout(5)".into())
        );
        assert_eq!(status(AuthMode::Omitted), (401, "missing".into()));
        assert_eq!(status(AuthMode::Configured).0, 503);
        assert_eq!(status(AuthMode::Configured).0, 503);
        assert_eq!(
            status(AuthMode::Configured),
            (200, "model shipgate-unapproved-model-bbb, corr-2".into())
        );
        let (miss, _) = status(AuthMode::Configured);
        assert_eq!(miss, 0);
        assert_eq!(
            player.misses(),
            vec!["probe POST /v1/chat/completions (auth configured)"]
        );
    }

    #[test]
    fn a_replayed_source_is_read_back() {
        let meta = Meta {
            format: CASSETTE_FORMAT,
            shipgate: "0".into(),
            recorded_at: "2026-12-01T00:00:00Z".into(),
            base_url: "u".into(),
            target_is_mock: false,
            run_id: "r1".into(),
            files: Vec::new(),
        };
        let s = replay_source(Path::new("c.toml"), Path::new("tapes"), &meta);
        assert_eq!(
            replayed_from(&s),
            Some("tapes, recorded 2026-12-01T00:00:00Z by run r1")
        );
        assert_eq!(replayed_from("built-in mock contract"), None);
    }

    #[test]
    fn metadata_that_would_paint_the_terminal_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(META_FILE),
            r#"{"format":1,"shipgate":"x","recorded_at":"\u001b[2J decided: SHIP","base_url":"x","target_is_mock":false,"run_id":"x","files":[]}"#,
        )
        .unwrap();
        let e = Player::load(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("`recorded_at` is not a short printable value"),
            "{e}"
        );
        // A hard link to a file elsewhere is not the directory's own.
        let outside = dir.path().join("outside.txt");
        std::fs::write(&outside, "{}").unwrap();
        std::fs::remove_file(dir.path().join(META_FILE)).unwrap();
        std::fs::hard_link(&outside, dir.path().join(META_FILE)).unwrap();
        let e = Player::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("hard link"), "{e}");
    }

    #[test]
    fn a_bad_line_names_its_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(META_FILE),
            r#"{"format":1,"shipgate":"x","recorded_at":"x","base_url":"x","target_is_mock":false,"run_id":"x","files":["canary.jsonl"]}"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("canary.jsonl"), "\n{not json}\n").unwrap();
        let e = Player::load(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("canary.jsonl:2: not a shipgate cassette line"),
            "{e}"
        );
    }
}
