//! Go's JSON for template data, as Kapacitor's `json` and `jsonCompact` template functions
//! write it (`template.rs` makes them): it knows Kapacitor's template structs. The plain
//! encoder is `farad-gojson`'s.

pub use farad_gojson::*;

/// A Go struct that template data stands for: its fields as templates name them, as its
/// JSON names them, and whether (`omitempty`) a map may hold only some of them.
struct Shape {
    fields: &'static [&'static str],
    json: &'static [&'static str],
    partial: bool,
}

const DETAILS: [&str; 11] = [
    "Name",
    "TaskName",
    "Group",
    "Tags",
    "ServerInfo",
    "ID",
    "Fields",
    "Level",
    "Time",
    "Duration",
    "Message",
];
const ALERT_DATA: [&str; 9] = [
    "ID",
    "Message",
    "Details",
    "Time",
    "Duration",
    "Level",
    "Data",
    "PreviousLevel",
    "Recoverable",
];
const ROW: [&str; 4] = ["name", "tags", "columns", "values"];

/// Kapacitor's template data structs: an alert's details data (and its message data, the
/// same without `Message`), its `ServerInfo`, `alert.Data` (post and Kafka alert
/// templates), `models.Result` and `models.Row`.
const SHAPES: [Shape; 6] = [
    Shape {
        fields: &DETAILS,
        json: &DETAILS,
        partial: false,
    },
    Shape {
        fields: DETAILS.split_at(10).0,
        json: DETAILS.split_at(10).0,
        partial: false,
    },
    Shape {
        fields: &["Hostname", "ClusterID", "ServerID"],
        json: &["Hostname", "ClusterID", "ServerID"],
        partial: false,
    },
    Shape {
        fields: &ALERT_DATA,
        json: &[
            "id",
            "message",
            "details",
            "time",
            "duration",
            "level",
            "data",
            "previousLevel",
            "recoverable",
        ],
        partial: false,
    },
    Shape {
        fields: &["Series"],
        json: &["series"],
        partial: false,
    },
    Shape {
        fields: &ROW,
        json: &ROW,
        partial: true,
    },
];

/// Template data as Go's encoder writes it (Kapacitor's `json` template function). A map
/// with exactly the fields of one of Kapacitor's structs is written as that struct: fields
/// in declaration order, under their JSON names, `Duration` in nanoseconds. Other maps are
/// Go maps, sorted.
pub fn write_template_value(out: &mut Vec<u8>, v: &gotmpl::Value) {
    use gotmpl::Value as T;
    match v {
        T::Nil => out.extend_from_slice(b"null"),
        T::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        T::Int(i) => write_int(out, *i),
        T::Uint(u) => write_uint(out, *u),
        T::Float(f) => write_f64(out, *f),
        T::String(s) => write_str(out, s),
        T::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_template_value(out, item);
            }
            out.push(b']');
        }
        T::Map(m) => {
            let shape = SHAPES.iter().find(|s| {
                let present = s.fields.iter().filter(|k| m.contains_key(**k)).count();
                present == m.len() && (present == s.fields.len() || (s.partial && present > 0))
            });
            out.push(b'{');
            let mut first = true;
            // Template data holds `Time` as Go prints it and `Duration` as a Go duration
            // string; Go's encoder writes RFC 3339 and nanoseconds.
            let mut field = |out: &mut Vec<u8>, name: &str, v: &T, struct_field: &str| {
                if !std::mem::take(&mut first) {
                    out.push(b',');
                }
                write_str(out, name);
                out.push(b':');
                match (struct_field, v) {
                    ("Duration", T::String(d)) => write_int(
                        out,
                        crate::duration::parse_go_duration(d).unwrap_or_default(),
                    ),
                    ("Time", T::String(t)) => match crate::time::parse_rfc3339(t) {
                        Some(ns) => {
                            out.push(b'"');
                            crate::time::write_rfc3339_nanos(out, ns);
                            out.push(b'"');
                        }
                        None => write_template_value(out, v),
                    },
                    _ => write_template_value(out, v),
                }
            };
            match shape {
                Some(s) => {
                    for (k, name) in s.fields.iter().zip(s.json) {
                        if let Some(v) = m.get(*k) {
                            field(out, name, v, k);
                        }
                    }
                }
                None => {
                    for (k, v) in m.iter() {
                        field(out, k, v, "");
                    }
                }
            }
            out.push(b'}');
        }
        other => write_str(out, &other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_structs_keep_go_field_order() {
        use gotmpl::Value as T;
        let map = |pairs: Vec<(&str, T)>| {
            T::from(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect::<std::collections::BTreeMap<String, T>>(),
            )
        };
        let info = map(vec![
            ("Hostname", T::from("h")),
            ("ClusterID", T::from("c")),
            ("ServerID", T::from("s")),
        ]);
        let data = map(vec![
            ("ID", T::from("id")),
            ("Message", T::from("m")),
            ("Details", T::from("")),
            ("Time", T::from("1971-01-01 00:00:10.5 +0000 UTC")),
            ("Duration", T::from("1m30s")),
            ("Level", T::from("OK")),
            ("Data", map(vec![("Series", T::Nil)])),
            ("PreviousLevel", T::from("CRITICAL")),
            ("Recoverable", T::Bool(true)),
            ("Info", info),
        ]);
        let mut out = Vec::new();
        write_template_value(&mut out, &data);
        // Not alert.Data (it has an extra field): a Go map, sorted; ServerInfo inside is a struct.
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with(r#"{"Data":{"series":null},"Details":"""#),
            "{text}"
        );
        assert!(
            text.contains(r#""Info":{"Hostname":"h","ClusterID":"c","ServerID":"s"}"#),
            "{text}"
        );
        let T::Map(m) = &data else { unreachable!() };
        let mut m = (**m).clone();
        m.remove("Info");
        let mut out = Vec::new();
        write_template_value(&mut out, &T::Map(std::sync::Arc::new(m)));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"id":"id","message":"m","details":"","time":"1971-01-01T00:00:10.5Z","duration":90000000000,"level":"OK","data":{"series":null},"previousLevel":"CRITICAL","recoverable":true}"#
        );
    }
}
