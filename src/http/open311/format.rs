//! The two wire formats of Open311 GeoReport v2: JSON and XML, chosen by the `.json` / `.xml`
//! suffix of the path, as the spec writes its URLs (`services.json`, `requests/12.xml`).
//!
//! Both are rendered from one `serde_json::Value`, so the two can never disagree on a field. The
//! XML is written by hand: the spec's documents are flat (a root, one element per item, leaf
//! fields, a few nested lists), and no crate is needed to escape five characters.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// The content types clients compare byte for byte (some check the whole string).
pub const JSON_TYPE: &str = "application/json; charset=utf-8";
/// See [`JSON_TYPE`]; the spec's examples use `text/xml`.
pub const XML_TYPE: &str = "text/xml; charset=utf-8";

/// The requested format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.json`.
    Json,
    /// `.xml`.
    Xml,
}

impl Format {
    /// Splits `name.json` / `name.xml` into the name and the format; `None` for any other
    /// suffix or none (the caller answers 404, since such a resource does not exist).
    pub fn split(file: &str) -> Option<(&str, Format)> {
        let (stem, ext) = file.rsplit_once('.')?;
        let format = match ext {
            "json" => Format::Json,
            "xml" => Format::Xml,
            _ => return None,
        };
        Some((stem, format))
    }

    /// The format an answer to an unparsable path is given in: XML only when the path says so,
    /// JSON otherwise.
    pub fn guess(file: &str) -> Format {
        if file.ends_with(".xml") {
            Format::Xml
        } else {
            Format::Json
        }
    }
}

/// A document ready to send: the root element's name (XML), and for a list the name of each
/// item's element.
pub struct Document {
    /// HTTP status.
    pub status: StatusCode,
    /// The format asked for.
    pub format: Format,
    /// XML root element, e.g. `services`.
    pub root: &'static str,
    /// XML element of each item of a top-level array, e.g. `service`.
    pub item: &'static str,
    /// The content.
    pub value: Value,
}

impl IntoResponse for Document {
    fn into_response(self) -> Response {
        let (body, content_type) = match self.format {
            Format::Json => (self.value.to_string(), JSON_TYPE),
            Format::Xml => (to_xml(self.root, self.item, &self.value), XML_TYPE),
        };
        let mut res = (self.status, body).into_response();
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        res
    }
}

/// The XML document of `value` under `root`; a top-level array's elements are `item`, a nested
/// array's are named by [`singular`] of its field (`attributes` → `attribute`).
pub fn to_xml(root: &str, item: &str, value: &Value) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
    match value {
        Value::Array(items) => {
            out.push('<');
            out.push_str(root);
            out.push('>');
            for v in items {
                element(&mut out, item, v);
            }
            out.push_str("</");
            out.push_str(root);
            out.push('>');
        }
        v => element(&mut out, root, v),
    }
    out
}

/// The element name of one entry of a nested list.
fn singular(list: &str) -> &str {
    match list {
        "endpoints" => "endpoint",
        "formats" => "format",
        "attributes" => "attribute",
        "values" => "value",
        "errors" => "error",
        "keywords" => "keyword",
        _ => "item",
    }
}

fn element(out: &mut String, name: &str, value: &Value) {
    out.push('<');
    out.push_str(name);
    match value {
        // An absent field is an empty element, as the spec's examples show them.
        Value::Null => {
            out.push_str("/>");
            return;
        }
        _ => out.push('>'),
    }
    match value {
        Value::Null => {}
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => escape_into(out, s),
        Value::Array(items) => {
            let child = singular(name);
            for v in items {
                element(out, child, v);
            }
        }
        Value::Object(fields) => {
            for (k, v) in fields {
                element(out, k, v);
            }
        }
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// Escapes text for an element's content, and drops the characters XML 1.0 cannot carry at all
/// (C0 controls but tab, newline and carriage return): a stored description may hold them, and
/// one such character would make the whole document unreadable to a strict parser.
pub fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_suffix_decides_the_format_and_anything_else_is_no_resource() {
        assert_eq!(
            Format::split("services.json"),
            Some(("services", Format::Json))
        );
        assert_eq!(Format::split("a.b.xml"), Some(("a.b", Format::Xml)));
        assert_eq!(Format::split("services"), None);
        assert_eq!(Format::split("services.html"), None);
    }

    #[test]
    fn text_is_escaped_and_control_characters_are_dropped() {
        let xml = to_xml(
            "service_requests",
            "request",
            &json!([{"description": "<a href='x'>&\"\u{1}", "lat": 34.5, "media_url": null}]),
        );
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><service_requests><request>\
             <description>&lt;a href=&apos;x&apos;&gt;&amp;&quot;</description><lat>34.5</lat>\
             <media_url/></request></service_requests>"
        );
    }

    #[test]
    fn a_nested_list_names_its_items_in_the_singular() {
        let xml = to_xml(
            "errors",
            "error",
            &json!([{"code": 404, "description": "无"}]),
        );
        assert!(xml.ends_with(
            "<errors><error><code>404</code><description>无</description></error></errors>"
        ));
        let xml = to_xml("d", "x", &json!({"formats": ["text/xml"]}));
        assert!(xml.ends_with("<d><formats><format>text/xml</format></formats></d>"));
    }
}
