//! Go's `json.Marshal` of a Kapacitor result, byte for byte: the vendor gets it as a string,
//! so key order, number format and escapes are part of the value.

use serde_json::Value;

/// `json.Marshal(models.Result)` of the event's `data`: rows keep Go's field order (`name`,
/// `tags`, `columns`, `values`) and omit empty fields.
pub fn result_string(data: &Value) -> String {
    let mut out = Vec::new();
    farad_gojson::write_result(&mut out, data);
    String::from_utf8(out).expect("JSON is UTF-8")
}
