//! Alert inhibition (`.inhibit(category, tags...)`): while a group of an inhibiting alert node
//! is not OK, events of `category` whose tags equal the group's on the named tags are not
//! sent, in any task. The registry is shared by every task of a server.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::RwLock;

/// One inhibiting group: its category, the tag values events must share, and whether it is
/// currently active (its group is not OK).
#[derive(Debug)]
pub struct Inhibitor {
    category: String,
    tags: Vec<(String, String)>,
    active: AtomicBool,
}

impl Inhibitor {
    fn matches(&self, tags: &dyn Fn(&str) -> Option<String>) -> bool {
        self.tags
            .iter()
            .all(|(k, v)| tags(k).as_deref().unwrap_or("") == v)
    }
}

/// Every registered inhibitor, by category.
#[derive(Debug, Default)]
pub struct Inhibitors {
    by_category: RwLock<HashMap<String, Vec<Arc<Inhibitor>>>>,
    /// Lets events skip the lock when no node inhibits anything.
    count: AtomicUsize,
}

impl Inhibitors {
    /// Registers an inhibitor; it is removed when the returned handle is dropped (its group is
    /// forgotten or its task stops).
    pub fn add(self: &Arc<Self>, category: &str, tags: Vec<(String, String)>) -> InhibitorHandle {
        let i = Arc::new(Inhibitor {
            category: category.to_owned(),
            tags,
            active: AtomicBool::new(false),
        });
        self.by_category
            .write()
            .entry(category.to_owned())
            .or_default()
            .push(i.clone());
        self.count.fetch_add(1, Ordering::Relaxed);
        InhibitorHandle {
            registry: Arc::downgrade(self),
            inhibitor: i,
        }
    }

    /// Whether an active inhibitor covers an event of `category` with these tags.
    pub fn is_inhibited(&self, category: &str, tags: &dyn Fn(&str) -> Option<String>) -> bool {
        if self.count.load(Ordering::Relaxed) == 0 {
            return false;
        }
        self.by_category.read().get(category).is_some_and(|list| {
            list.iter()
                .any(|i| i.active.load(Ordering::Relaxed) && i.matches(tags))
        })
    }
}

/// A registered inhibitor, owned by its alert group.
#[derive(Debug)]
pub struct InhibitorHandle {
    registry: Weak<Inhibitors>,
    inhibitor: Arc<Inhibitor>,
}

impl InhibitorHandle {
    pub fn set(&self, active: bool) {
        self.inhibitor.active.store(active, Ordering::Relaxed);
    }
}

impl Drop for InhibitorHandle {
    fn drop(&mut self) {
        let Some(reg) = self.registry.upgrade() else {
            return;
        };
        let mut map = reg.by_category.write();
        if let Some(list) = map.get_mut(&self.inhibitor.category) {
            if let Some(pos) = list.iter().position(|i| Arc::ptr_eq(i, &self.inhibitor)) {
                list.swap_remove(pos);
                reg.count.fetch_sub(1, Ordering::Relaxed);
            }
            if list.is_empty() {
                map.remove(&self.inhibitor.category);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags<'a>(t: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| t.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn an_active_inhibitor_covers_its_category_and_equal_tags() {
        let reg = Arc::new(Inhibitors::default());
        let h = reg.add("system", vec![("host".into(), "a".into())]);
        let a = [("host", "a"), ("cpu", "0")];
        assert!(!reg.is_inhibited("system", &tags(&a)), "inactive");
        h.set(true);
        assert!(reg.is_inhibited("system", &tags(&a)));
        assert!(!reg.is_inhibited("other", &tags(&a)));
        assert!(!reg.is_inhibited("system", &tags(&[("host", "b")])));
        assert!(!reg.is_inhibited("system", &tags(&[])));
        drop(h);
        assert!(!reg.is_inhibited("system", &tags(&a)));
        assert_eq!(reg.count.load(Ordering::Relaxed), 0);
        assert!(reg.by_category.read().is_empty());
    }
}
