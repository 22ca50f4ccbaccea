//! Points and the series they belong to.

use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

use smallvec::SmallVec;

use super::{Name, Value};

/// Tag pairs sorted by key. Values are owned text: unlike keys they are unbounded in number,
/// so they are not interned (a million short-lived series must be able to go away again).
pub type Tags = Box<[(Name, Box<str>)]>;

/// Field pairs sorted by key, inline for the common case of one or two fields.
pub type Fields = SmallVec<[(Name, Value); 2]>;

/// A measurement and its tag set: what InfluxDB calls a series key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Series {
    pub measurement: Name,
    pub tags: Tags,
}

impl Series {
    /// Builds a series, sorting the tags by key (duplicates keep the last value, as InfluxDB does).
    pub fn new(measurement: Name, mut tags: Vec<(Name, Box<str>)>) -> Series {
        tags.sort_by_key(|a| a.0);
        // After a stable sort, the last of equal keys is the last written: keep it.
        let mut dedup: Vec<(Name, Box<str>)> = Vec::with_capacity(tags.len());
        for (k, v) in tags {
            match dedup.last_mut() {
                Some(last) if last.0 == k => last.1 = v,
                _ => dedup.push((k, v)),
            }
        }
        Series {
            measurement,
            tags: dedup.into_boxed_slice(),
        }
    }

    /// The value of tag `key`, if present.
    pub fn tag(&self, key: Name) -> Option<&str> {
        self.tags.iter().find(|(k, _)| *k == key).map(|(_, v)| &**v)
    }

    /// A hash of the series' content, stable within a process.
    pub fn content_hash(&self) -> u64 {
        foldhash::fast::FixedState::with_seed(0x5eed).hash_one(self)
    }
}

/// One point of a stream: nanosecond time, its series, its fields.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub time: i64,
    pub series: Arc<Series>,
    pub fields: Fields,
}

impl Point {
    /// The measurement name.
    pub fn name(&self) -> Name {
        self.series.measurement
    }

    /// The value of field `key`, if present.
    pub fn field(&self, key: Name) -> Option<&Value> {
        self.fields.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The value of tag `key`, if present.
    pub fn tag(&self, key: Name) -> Option<&str> {
        self.series.tag(key)
    }

    /// Sets field `key`, keeping the fields sorted by key.
    pub fn set_field(&mut self, key: Name, value: Value) {
        match self.fields.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(i) => self.fields[i].1 = value,
            Err(i) => self.fields.insert(i, (key, value)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_sorts_and_dedups_tags() {
        let s = Series::new(
            Name::new("cpu"),
            vec![
                (Name::new("region"), "west".into()),
                (Name::new("host"), "a".into()),
                (Name::new("region"), "east".into()),
            ],
        );
        let tags: Vec<_> = s.tags.iter().map(|(k, v)| (k.as_str(), &**v)).collect();
        assert_eq!(tags, [("host", "a"), ("region", "east")]);
        assert_eq!(s.tag(Name::new("host")), Some("a"));
        assert_eq!(s.tag(Name::new("nope")), None);
    }

    #[test]
    fn point_is_small_and_set_field_keeps_order() {
        // One word of time, one Arc, and two inline fields: no heap for the fields themselves.
        assert!(
            std::mem::size_of::<Point>() <= 88,
            "{}",
            std::mem::size_of::<Point>()
        );
        let mut p = Point {
            time: 1,
            series: Arc::new(Series::new(Name::new("cpu"), vec![])),
            fields: Fields::new(),
        };
        p.set_field(Name::new("value"), Value::Float(1.0));
        p.set_field(Name::new("alpha"), Value::Int(2));
        p.set_field(Name::new("value"), Value::Float(3.0));
        let keys: Vec<_> = p.fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["alpha", "value"]);
        assert_eq!(p.field(Name::new("value")), Some(&Value::Float(3.0)));
        assert!(!p.fields.spilled());
    }
}
