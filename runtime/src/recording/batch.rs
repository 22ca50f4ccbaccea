//! Batch recordings: a sequence of JSON batches, Kapacitor's `BufferedBatch` encoding
//! (`{"name", "tmax", "group", "byname", "tags", "points": [{"fields", "tags", "time"}]}`).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value as Json, json};

use super::RecordingError;
use crate::model::{Batch, BatchPoint, Fields, GroupKey, Name, Series, Value};

/// A batch time that was not recorded (Go's zero time).
pub const NO_TIME: i64 = i64::MIN;

#[derive(Deserialize)]
struct BatchJson {
    #[serde(default)]
    name: String,
    #[serde(default)]
    tmax: Option<String>,
    #[serde(default)]
    byname: bool,
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
    #[serde(default)]
    points: Option<Vec<PointJson>>,
}

#[derive(Deserialize)]
struct PointJson {
    #[serde(default)]
    fields: Option<Map<String, Json>>,
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
    time: String,
}

/// Reads the batches of one query. Numbers become floats, as they do in Kapacitor (its JSON
/// decoding has no integers); batches without points are skipped, as Kapacitor's replay does.
/// A batch's group is all of its tags (and its name with `byname`).
pub fn parse_batches(text: &[u8]) -> Result<Vec<Batch>, RecordingError> {
    let mut out = Vec::new();
    let stream = serde_json::Deserializer::from_slice(text).into_iter::<BatchJson>();
    for (i, b) in stream.enumerate() {
        let at = || format!("batch {}", i + 1);
        let b = b.map_err(|e| RecordingError {
            at: at(),
            reason: e.to_string(),
        })?;
        let points = b.points.unwrap_or_default();
        if points.is_empty() {
            continue;
        }
        let name = Name::new(&b.name);
        let tags = tag_vec(b.tags.unwrap_or_default());
        let group = GroupKey::from_parts(b.byname.then_some(name), tags.clone());
        let batch_series = Arc::new(Series::new(name, tags));
        let tmax = match b.tmax.as_deref() {
            Some(t) if !t.starts_with("0001-01-01") => {
                crate::time::parse_rfc3339(t).ok_or_else(|| RecordingError {
                    at: at(),
                    reason: format!("invalid tmax {t:?}"),
                })?
            }
            _ => NO_TIME,
        };
        let mut batch = Batch::new(name, tmax, group, b.byname);
        for (j, p) in points.into_iter().enumerate() {
            let time = crate::time::parse_rfc3339(&p.time).ok_or_else(|| RecordingError {
                at: format!("{}, point {}", at(), j + 1),
                reason: format!("invalid time {:?}", p.time),
            })?;
            let series = match p.tags {
                Some(t) if !t.is_empty() => Arc::new(Series::new(name, tag_vec(t))),
                _ => batch_series.clone(),
            };
            let mut fields = Fields::new();
            for (k, v) in p.fields.unwrap_or_default() {
                let v = match v {
                    Json::Number(n) => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
                    Json::String(s) => Value::Str(s.into()),
                    Json::Bool(b) => Value::Bool(b),
                    _ => continue,
                };
                fields.push((Name::new(&k), v));
            }
            fields.sort_by_key(|f| f.0);
            batch.points.push(BatchPoint {
                time,
                series,
                fields,
            });
        }
        out.push(batch);
    }
    Ok(out)
}

fn tag_vec(tags: BTreeMap<String, String>) -> Vec<(Name, Box<str>)> {
    let mut v: Vec<(Name, Box<str>)> = tags
        .into_iter()
        .map(|(k, v)| (Name::new(&k), v.into()))
        .collect();
    v.sort_by_key(|t| t.0);
    v
}

/// One batch in the recording's JSON.
pub fn batch_to_json(b: &Batch) -> Json {
    let tags = |t: &[(Name, Box<str>)]| -> Map<String, Json> {
        t.iter()
            .map(|(k, v)| (k.as_str().to_owned(), Json::from(&**v)))
            .collect()
    };
    let points: Vec<Json> = b
        .points
        .iter()
        .map(|p| {
            let fields: Map<String, Json> = p
                .fields
                .iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::Float(f) => json!(f),
                        Value::Int(i) => json!(i),
                        Value::UInt(u) => json!(u),
                        Value::Str(s) => json!(&**s),
                        Value::Bool(b) => json!(b),
                    };
                    (k.as_str().to_owned(), v)
                })
                .collect();
            json!({
                "fields": fields,
                "tags": tags(&p.series.tags),
                "time": crate::time::format_rfc3339_nanos(p.time),
            })
        })
        .collect();
    let mut doc = json!({
        "name": b.name.as_str(),
        "tags": tags(&b.tags),
        "points": points,
    });
    if b.tmax != NO_TIME {
        doc["tmax"] = json!(crate::time::format_rfc3339_nanos(b.tmax));
    }
    if b.by_name {
        doc["byname"] = json!(true);
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATA: &str = r#"{"name":"cpu","tags":{"host":"a"},"points":[
        {"fields":{"value":1000},"time":"2015-10-18T00:00:00Z"},
        {"fields":{"value":1001,"s":"x"},"tags":{"host":"a","cpu":"0"},"time":"2015-10-18T00:00:02Z"}]}
        {"name":"cpu","tmax":"0001-01-01T00:00:00Z","points":[]}
        {"name":"cpu","tags":{"host":"b"},"byname":true,"tmax":"2015-10-18T00:01:00Z",
         "points":[{"fields":{"value":7.5},"time":"2015-10-18T00:00:04Z"}]}"#;

    #[test]
    fn reads_kapacitor_batches() {
        let bs = parse_batches(DATA.as_bytes()).unwrap();
        assert_eq!(bs.len(), 2, "the empty batch is skipped");
        assert_eq!(bs[0].tmax, NO_TIME);
        assert_eq!(bs[0].points[0].fields[0].1, Value::Float(1000.0));
        assert_eq!(bs[0].points[1].series.tags.len(), 2);
        assert_eq!(bs[0].group.tags().len(), 1);
        assert!(bs[1].by_name);
        assert_eq!(
            crate::time::format_rfc3339_nanos(bs[1].tmax),
            "2015-10-18T00:01:00Z"
        );
        let again = bs
            .iter()
            .map(|b| batch_to_json(b).to_string())
            .collect::<Vec<_>>()
            .join("\n");
        let bs2 = parse_batches(again.as_bytes()).unwrap();
        assert_eq!(bs2.len(), 2);
        assert_eq!(bs2[1].tmax, bs[1].tmax);
        assert_eq!(bs2[0].points, bs[0].points);
    }

    #[test]
    fn rebases_as_kapacitor_replays() {
        let mut bs = parse_batches(DATA.as_bytes()).unwrap();
        let zero = 31_536_000_000_000_000; // 1971-01-01
        let release = super::super::rebase_batches(&mut bs, zero, false);
        assert_eq!(bs[0].points[0].time, zero);
        assert_eq!(bs[0].tmax, zero + 2_000_000_000, "the last point's time");
        assert_eq!(release, vec![zero + 2_000_000_000, zero + 4_000_000_000]);
        // A recorded tmax is not rebased, and here it is later than the rebased points.
        assert_eq!(
            crate::time::format_rfc3339_nanos(bs[1].tmax),
            "2015-10-18T00:01:00Z"
        );
    }

    #[test]
    fn says_which_batch_is_broken() {
        let e = parse_batches(
            br#"{"name":"a","points":[{"time":"2015-10-18T00:00:00Z"}]} {"name": 3}"#,
        )
        .unwrap_err();
        assert_eq!(e.at, "batch 2");
        let e = parse_batches(br#"{"name":"a","points":[{"time":"yesterday"}]}"#).unwrap_err();
        assert!(e.to_string().contains("point 1"), "{e}");
    }
}
