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
