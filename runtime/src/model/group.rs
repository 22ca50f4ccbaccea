//! Group keys: which group a point belongs to after `groupBy`.

use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

use super::{Name, Series};

#[derive(Debug, PartialEq, Eq, Hash)]
struct Dims {
    /// Set when grouping by measurement (`groupBy(...).byMeasurement()`).
    measurement: Option<Name>,
    /// The grouped-by tags and their values, in the order given to `groupBy`.
    tags: Box<[(Name, Box<str>)]>,
}

/// A group: the measurement (when grouped by it) and the values of the grouped-by tags.
///
/// Cloning is an `Arc` bump; equality first compares a precomputed hash. The empty key is the
/// "nil group" of an ungrouped stream.
#[derive(Clone)]
pub struct GroupKey {
    hash: u64,
    dims: Option<Arc<Dims>>,
}

impl GroupKey {
    /// The nil group: every point of an ungrouped stream.
    pub const NIL: GroupKey = GroupKey {
        hash: 0,
        dims: None,
    };

    /// The group of `series` when grouping by `by` tags (missing tags count as empty values,
    /// as in Kapacitor) and, optionally, by measurement.
    pub fn of(series: &Series, by: &[Name], by_measurement: bool) -> GroupKey {
        if by.is_empty() && !by_measurement {
            return GroupKey::NIL;
        }
        let tags = by
            .iter()
            .map(|&k| (k, Box::<str>::from(series.tag(k).unwrap_or(""))))
            .collect();
        GroupKey::from_parts(by_measurement.then_some(series.measurement), tags)
    }

    /// A key from explicit parts: the measurement (when grouping by it) and tag values.
    pub fn from_parts(measurement: Option<Name>, tags: Vec<(Name, Box<str>)>) -> GroupKey {
        if tags.is_empty() && measurement.is_none() {
            return GroupKey::NIL;
        }
        let dims = Dims {
            measurement,
            tags: tags.into_boxed_slice(),
        };
        GroupKey {
            hash: foldhash::fast::FixedState::with_seed(0x9e37).hash_one(&dims) | 1,
            dims: Some(Arc::new(dims)),
        }
    }

    /// True for the nil group.
    pub fn is_nil(&self) -> bool {
        self.dims.is_none()
    }

    /// The grouped-by tags and their values.
    pub fn tags(&self) -> &[(Name, Box<str>)] {
        self.dims.as_ref().map_or(&[], |d| &d.tags)
    }

    /// Kapacitor's textual group id (`name\n` when by measurement, then `k=v,k=v`), as shown in
    /// alert data and task JSON.
    pub fn id(&self) -> String {
        self.to_string()
    }
}

impl PartialEq for GroupKey {
    fn eq(&self, other: &GroupKey) -> bool {
        self.hash == other.hash
            && match (&self.dims, &other.dims) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b) || a == b,
                (None, None) => true,
                _ => false,
            }
    }
}
impl Eq for GroupKey {}

/// Hashes a [`GroupKey`] by the hash it already carries: maps keyed by groups pay no hashing
/// per lookup (the default SipHash would rehash that word on every point).
#[derive(Clone, Copy, Default)]
pub struct GroupHasher(u64);

impl Hasher for GroupHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only reached by keys other than GroupKey: fold the bytes in.
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
}

/// The `BuildHasher` of maps keyed by [`GroupKey`].
pub type BuildGroupHasher = std::hash::BuildHasherDefault<GroupHasher>;

/// A map keyed by group.
pub type GroupMap<V> = hashbrown::HashMap<GroupKey, V, BuildGroupHasher>;

/// What `GroupMap::entry_ref` clones into the map when the group is new.
impl From<&GroupKey> for GroupKey {
    fn from(k: &GroupKey) -> GroupKey {
        k.clone()
    }
}

impl Hash for GroupKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl fmt::Display for GroupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(d) = &self.dims else { return Ok(()) };
        if let Some(m) = d.measurement {
            if d.tags.is_empty() {
                return f.write_str(m.as_str());
            }
            writeln!(f, "{m}")?;
        }
        for (i, (k, v)) in d.tags.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for GroupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GroupKey({:?})", self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series() -> Series {
        Series::new(
            Name::new("cpu"),
            vec![
                (Name::new("host"), "a".into()),
                (Name::new("dc"), "x".into()),
            ],
        )
    }

    #[test]
    fn kapacitor_group_ids() {
        let s = series();
        assert!(GroupKey::of(&s, &[], false).is_nil());
        assert_eq!(GroupKey::of(&s, &[], true).id(), "cpu");
        let by = [Name::new("host"), Name::new("dc")];
        assert_eq!(GroupKey::of(&s, &by, false).id(), "host=a,dc=x");
        assert_eq!(GroupKey::of(&s, &by, true).id(), "cpu\nhost=a,dc=x");
        assert_eq!(
            GroupKey::of(&s, &[Name::new("missing")], false).id(),
            "missing="
        );
    }

    #[test]
    fn equal_content_equal_keys() {
        let by = [Name::new("host")];
        let a = GroupKey::of(&series(), &by, false);
        let b = GroupKey::of(&series(), &by, false);
        assert_eq!(a, b);
        assert_ne!(a, GroupKey::NIL);
        assert_ne!(a, GroupKey::of(&series(), &by, true));
    }
}
