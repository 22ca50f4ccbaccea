//! Interned names: measurements, tag keys, field keys, databases and retention policies.
//!
//! A [`Name`] is a pointer to a string that lives for the whole process, so comparing or hashing
//! one is a pointer operation and copying one never allocates. Names are a bounded vocabulary in
//! practice (a schema's keys); tag *values*, which are not, live in [`super::Series`] instead.

use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::LazyLock;

use parking_lot::RwLock;

/// An interned string. Equality and hashing use the address, which interning makes unique.
/// One word wide: it points at the interned text's (leaked) slice header.
#[derive(Clone, Copy)]
pub struct Name(&'static &'static str);

static INTERNER: LazyLock<RwLock<HashMap<&'static str, Name, foldhash::fast::RandomState>>> =
    LazyLock::new(|| RwLock::new(HashMap::default()));

impl Name {
    /// Interns `s`, allocating only the first time a given string is seen.
    pub fn new(s: &str) -> Name {
        if let Some(&found) = INTERNER.read().get(s) {
            return found;
        }
        let mut set = INTERNER.write();
        if let Some(&found) = set.get(s) {
            return found;
        }
        let text: &'static str = Box::leak(s.to_owned().into_boxed_str());
        let leaked: &'static &'static str = Box::leak(Box::new(text));
        set.insert(text, Name(leaked));
        Name(leaked)
    }

    /// The interned text.
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}
impl Eq for Name {}

impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(std::ptr::from_ref(self.0) as usize);
    }
}

/// Names order by their text, so sorted tag and field lists come out as Kapacitor sorts them.
impl Ord for Name {
    fn cmp(&self, other: &Name) -> std::cmp::Ordering {
        if self == other {
            std::cmp::Ordering::Equal
        } else {
            self.as_str().cmp(other.as_str())
        }
    }
}
impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Name) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}
impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Name {
        Name::new(s)
    }
}

impl serde::Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Name {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Name, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(Name::new(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_identity() {
        let a = Name::new("cpu");
        let b = Name::new(&String::from("cpu"));
        assert_eq!(a, b);
        assert!(std::ptr::eq(a.as_str(), b.as_str()));
        assert_ne!(a, Name::new("mem"));
    }

    #[test]
    fn orders_by_text() {
        let mut v = [Name::new("zeta"), Name::new("alpha"), Name::new("mid")];
        v.sort();
        let texts: Vec<_> = v.iter().map(|n| n.as_str()).collect();
        assert_eq!(texts, ["alpha", "mid", "zeta"]);
    }
}
