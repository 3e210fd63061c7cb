//! Values in words, for finding details: never Rust's `Debug` output.

/// A value that may be missing: `"stop"` (quoted), or `(absent)`.
///
/// ```
/// assert_eq!(shipgate_sdk::text::shown(Some("stop")), "\"stop\"");
/// assert_eq!(shipgate_sdk::text::shown(None), "(absent)");
/// ```
pub fn shown(value: Option<&str>) -> String {
    match value {
        Some(v) => format!("{v:?}"),
        None => "(absent)".to_owned(),
    }
}

/// Items joined with commas, or `(none)`.
///
/// ```
/// assert_eq!(shipgate_sdk::text::list(&[400, 413]), "400, 413");
/// assert_eq!(shipgate_sdk::text::list::<u16>(&[]), "(none)");
/// ```
pub fn list<T: std::fmt::Display>(items: &[T]) -> String {
    if items.is_empty() {
        return "(none)".to_owned();
    }
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A count with its noun, singular or plural: `1 request`, `2 requests`.
///
/// ```
/// assert_eq!(shipgate_sdk::text::count(1, "leak"), "1 leak");
/// assert_eq!(shipgate_sdk::text::count(3, "leak"), "3 leaks");
/// ```
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
