//! Text from outside: what a stored string may contain.
//!
//! PostgreSQL refuses the NUL character in `text` and `jsonb` (`invalid byte sequence for
//! encoding "UTF8": 0x00`), SQLite stores it and truncates it in some functions, and other
//! control characters are never meant in a name, a code or a description. So every string that
//! comes in is checked once, at the edge, the same way for both stores: tab, line feed and
//! carriage return are allowed (descriptions have lines), every other control character (C0,
//! DEL, C1) is refused.

/// A control character found in a text, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{field} contains the control character U+{code:04X} at character {position}; remove it (only tab and line breaks are allowed)"
)]
pub struct ControlChar {
    /// Where the text came from (a field name, a JSON pointer, a CSV column).
    pub field: String,
    /// The character's code point.
    pub code: u32,
    /// Zero-based position, in characters.
    pub position: usize,
}

/// Whether `c` may appear in stored text.
pub fn allowed(c: char) -> bool {
    !c.is_control() || matches!(c, '\t' | '\n' | '\r')
}

/// Checks one text.
pub fn check(field: &str, text: &str) -> Result<(), ControlChar> {
    // Fast path: the common case is clean ASCII or CJK text.
    if text.chars().all(allowed) {
        return Ok(());
    }
    let (position, c) = text
        .chars()
        .enumerate()
        .find(|(_, c)| !allowed(*c))
        .expect("a refused character exists");
    Err(ControlChar {
        field: field.to_owned(),
        code: u32::from(c),
        position,
    })
}

/// Checks every string of a JSON value, object keys included; `field` names the value, and the
/// error names the offending member as a JSON pointer below it.
pub fn check_json(field: &str, value: &serde_json::Value) -> Result<(), ControlChar> {
    use serde_json::Value;
    match value {
        Value::String(s) => check(field, s),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| check_json(&format!("{field}/{i}"), v)),
        Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            check(&format!("{field} (a key)"), k)?;
            check_json(&format!("{field}/{k}"), v)
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

/// Removes refused characters: for third-party data (OpenStreetMap tags) where one stray byte
/// in a shop name must not refuse a whole city's roads.
pub fn strip(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().all(allowed) {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(text.chars().filter(|c| allowed(*c)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_descriptions_with_line_breaks_pass_and_control_characters_do_not() {
        assert!(check("name", "二七区 德化街\t1号\r\n第二行").is_ok());
        let e = check("name", "a\u{0}b").unwrap_err();
        assert_eq!((e.code, e.position), (0, 1));
        assert!(check("name", "x\u{1b}[31m").is_err(), "escape");
        assert!(check("name", "x\u{7f}").is_err(), "DEL");
        assert!(check("name", "x\u{85}").is_err(), "C1 next line");
    }

    #[test]
    fn a_control_character_deep_in_json_is_named_by_its_pointer() {
        let v = serde_json::json!({"a": [{"b": "ok"}, {"c": "bad\u{0}"}]});
        let e = check_json("body", &v).unwrap_err();
        assert_eq!(e.field, "body/a/1/c");
        let k = serde_json::json!({"k\u{1}": 1});
        assert!(check_json("body", &k).is_err(), "keys are text too");
    }

    #[test]
    fn stripping_keeps_everything_else() {
        assert_eq!(strip("德化\u{0}街"), "德化街");
        assert!(matches!(strip("clean"), std::borrow::Cow::Borrowed(_)));
    }
}
