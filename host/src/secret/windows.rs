//! Fragments of a secret: fixed-width windows of its encodings, found with a
//! rolling hash whose memory accesses do not depend on the secret.
//!
//! # Why not the DFA
//!
//! An Aho-Corasick DFA over every window of a key has thousands of states, and
//! which rows of its table a scan touches depends on how much the text looks
//! like the key: a text drawn from the key's own characters walks rows a
//! disjoint text never reaches, and the cache shows it (the `timing` benchmark
//! measured 5% on 1 MiB). Here every position costs the same: one rolling-hash
//! update per width, one load from a small table at an index that is a keyed
//! hash of the text (uniform whatever the text resembles), and, only when
//! that slot is taken, a comparison of all `width` bytes without early exit.
//! How often a slot is taken depends on the table's load, not on the text's
//! likeness to the key, because the hash key is random per run.

use super::SecretKind;
use std::ops::Range;

/// ASCII case folding by table: constant work per byte.
static FOLD: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = (i as u8).to_ascii_lowercase();
        i += 1;
    }
    t
};

/// Widths the scan supports (it keeps this many recent prefix hashes).
pub const RING: usize = 64;

/// One needle of a window table (at most [`RING`] - 1 bytes; longer ones are
/// not matched).
#[derive(Debug, Clone)]
pub struct Window {
    /// Its bytes, case-folded.
    pub bytes: Vec<u8>,
    /// Which secret.
    pub kind: SecretKind,
    /// A base64 window (a match is widened to its base64 run).
    pub base64: bool,
}

/// Every window of one width, in an open-addressing table.
struct Table {
    width: usize,
    /// `base^width`, to take the outgoing byte off the rolling hash.
    pow: u64,
    /// Slot of a hash: `(hash * mix) >> shift`.
    shift: u32,
    /// 0 when empty, else the index of an entry plus one.
    slots: Vec<u16>,
    /// (full hash, window) per entry.
    entries: Vec<(u64, Window)>,
}

/// Windows of several widths with one random hash key.
pub struct WindowSet {
    base: u64,
    mix: u64,
    tables: Vec<Table>,
}

impl std::fmt::Debug for WindowSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowSet")
            .field(
                "widths",
                &self.tables.iter().map(|t| t.width).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// A window found in a text: where, and what it was.
#[derive(Debug, Clone, Copy)]
pub struct WindowMatch<'a> {
    /// Byte range in the text.
    pub start: usize,
    /// One past its end.
    pub end: usize,
    /// The window.
    pub window: &'a Window,
}

impl WindowSet {
    /// A set over `windows` (any widths; duplicates after folding are dropped).
    pub fn new(windows: Vec<Window>) -> WindowSet {
        use rand::Rng as _;
        let mut rng = rand::rng();
        let base = rng.random::<u64>() | 1;
        let mix = rng.random::<u64>() | 1;
        let mut widths: Vec<usize> = windows.iter().map(|w| w.bytes.len()).collect();
        widths.sort_unstable();
        widths.dedup();
        let tables = widths
            .into_iter()
            .filter(|w| (1..RING).contains(w))
            .map(|width| {
                let mut entries: Vec<(u64, Window)> = Vec::new();
                for w in windows.iter().filter(|w| w.bytes.len() == width) {
                    let mut w = w.clone();
                    w.bytes = w.bytes.iter().map(|b| FOLD[*b as usize]).collect();
                    if !entries.iter().any(|(_, e)| e.bytes == w.bytes) {
                        entries.push((hash(base, &w.bytes), w));
                    }
                }
                // Load at most 1/32: a taken slot (a branch) is rare, probe
                // runs are short, and the table stays small (u16 slots).
                let bits = (entries.len().max(1) * 32)
                    .next_power_of_two()
                    .trailing_zeros()
                    .max(8);
                let mut slots = vec![0u16; 1 << bits];
                let shift = 64 - bits;
                for (i, (h, _)) in entries.iter().enumerate() {
                    let mut s = slot(*h, mix, shift);
                    while slots[s] != 0 {
                        s = (s + 1) & (slots.len() - 1);
                    }
                    // At most a few thousand windows: three secrets of at most
                    // MAX_SECRET_BYTES, six base64 encodings each.
                    slots[s] = u16::try_from(i + 1).expect("fewer than 65 535 windows per width");
                }
                Table {
                    width,
                    pow: pow(base, width),
                    shift,
                    slots,
                    entries,
                }
            })
            .collect();
        WindowSet { base, mix, tables }
    }

    /// Whether there is no window at all.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// Every window found in `text`; `found` is called once per match, in
    /// order of the match's end.
    ///
    /// One hash chain: `p` is the hash of the text so far, and a window of
    /// width `w` ending here hashes to `p - p[w bytes ago] * base^w`, read
    /// from a ring of recent prefixes, so the widths cost no extra chain.
    pub fn scan<'a>(&'a self, text: &[u8], mut found: impl FnMut(WindowMatch<'a>)) {
        let mut ring = [0u64; RING];
        let mut p = 0u64;
        for (i, &b) in text.iter().enumerate() {
            p = p
                .wrapping_mul(self.base)
                .wrapping_add(u64::from(FOLD[usize::from(b)]));
            let end = i + 1;
            ring[end % RING] = p;
            for t in &self.tables {
                if end < t.width {
                    continue;
                }
                let h = p.wrapping_sub(ring[(end - t.width) % RING].wrapping_mul(t.pow));
                let mut s = slot(h, self.mix, t.shift);
                // Enforce: a full comparison, without early exit, for every taken slot.
                while let Some(&e) = t.slots.get(s).filter(|e| **e != 0) {
                    let (eh, w) = &t.entries[usize::from(e) - 1];
                    if *eh == h && same_folded(&text[end - t.width..end], &w.bytes) {
                        found(WindowMatch {
                            start: end - t.width,
                            end,
                            window: w,
                        });
                    }
                    s = (s + 1) & (t.slots.len() - 1);
                }
            }
        }
    }

    /// Matches as disjoint ranges (a run of overlapping windows is one range).
    pub fn ranges(&self, text: &[u8]) -> Vec<(Range<usize>, SecretKind, bool)> {
        let mut all: Vec<(Range<usize>, SecretKind, bool)> = Vec::new();
        self.scan(text, |m| {
            all.push((m.start..m.end, m.window.kind, m.window.base64))
        });
        all.sort_by_key(|(r, _, _)| r.start);
        let mut out: Vec<(Range<usize>, SecretKind, bool)> = Vec::new();
        for (r, kind, b64) in all {
            match out.last_mut() {
                Some((last, _, lb)) if r.start <= last.end => {
                    last.end = last.end.max(r.end);
                    *lb |= b64;
                }
                _ => out.push((r, kind, b64)),
            }
        }
        out
    }
}

fn slot(h: u64, mix: u64, shift: u32) -> usize {
    (h.wrapping_mul(mix) >> shift) as usize
}

fn hash(base: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |h, b| {
        h.wrapping_mul(base).wrapping_add(u64::from(*b))
    })
}

fn pow(base: u64, n: usize) -> u64 {
    (0..n).fold(1u64, |p, _| p.wrapping_mul(base))
}

/// `text` (folded here) equals `folded`, compared in full.
fn same_folded(text: &[u8], folded: &[u8]) -> bool {
    text.iter()
        .zip(folded)
        .fold(0u8, |acc, (a, b)| acc | (FOLD[*a as usize] ^ b))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(needles: &[&str]) -> WindowSet {
        WindowSet::new(
            needles
                .iter()
                .map(|n| Window {
                    bytes: n.as_bytes().to_vec(),
                    kind: SecretKind::Credential,
                    base64: false,
                })
                .collect(),
        )
    }

    #[test]
    fn finds_every_window_in_any_case_and_merges_runs() {
        let s = set(&["abcdefghijkl", "bcdefghijklm", "0123456789abcdef"]);
        let text = b"xxABCDEFGHIJKLMyy 0123456789ABCDEF";
        let r: Vec<Range<usize>> = s.ranges(text).into_iter().map(|(r, _, _)| r).collect();
        assert_eq!(r, vec![2..15, 18..34]);
        assert!(s.ranges(b"abcdefghijk").is_empty());
        assert!(s.ranges(b"").is_empty());
    }

    #[test]
    fn agrees_with_a_naive_search() {
        let key = "Zx8Qp2Lm9Vt4Rw7Kc1Hd3Fg5Jb6Nn0Yy2T";
        let windows: Vec<&str> = (0..=key.len() - 12).map(|i| &key[i..i + 12]).collect();
        let s = set(&windows);
        let text = format!(
            "..{}..{}..{}",
            &key[3..17],
            &key[20..].to_lowercase(),
            &key[..11]
        );
        let got: Vec<Range<usize>> = s
            .ranges(text.as_bytes())
            .into_iter()
            .map(|(r, _, _)| r)
            .collect();
        let lower = text.to_lowercase();
        let naive: Vec<usize> = (0..=text.len() - 12)
            .filter(|i| {
                windows
                    .iter()
                    .any(|w| w.to_lowercase() == lower[*i..*i + 12])
            })
            .collect();
        let covered: Vec<usize> = got.iter().flat_map(|r| r.clone()).collect();
        for i in naive {
            assert!((i..i + 12).all(|j| covered.contains(&j)), "{i}");
        }
        assert_eq!(got, vec![2..16, 18..32]);
    }
}
