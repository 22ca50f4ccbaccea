//! Per-group node state that remembers when each group was last seen, so that idle groups can
//! be forgotten (Kapacitor keeps every group forever; a task fed short-lived series would grow
//! without bound).

use crate::model::{GroupKey, GroupMap};

/// A node's state per group, stamped with the host's wall-clock time of the write that last
/// touched it.
pub struct Groups<T> {
    map: GroupMap<(T, i64)>,
}

impl<T> Default for Groups<T> {
    fn default() -> Self {
        Groups {
            map: GroupMap::default(),
        }
    }
}

impl<T> Groups<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// The group's state, made by `make` when the group is new.
    pub fn get_or_insert_with(&mut self, key: &GroupKey, make: impl FnOnce() -> T) -> &mut T {
        let now = crate::expr::now();
        // One probe; the key is cloned (an Arc bump) only when the group is new.
        let e = self.map.entry_ref(key).or_insert_with(|| (make(), now));
        e.1 = now;
        &mut e.0
    }

    pub fn get_mut(&mut self, key: &GroupKey) -> Option<&mut T> {
        let now = crate::expr::now();
        self.map.get_mut(key).map(|e| {
            e.1 = now;
            &mut e.0
        })
    }

    pub fn get(&self, key: &GroupKey) -> Option<&T> {
        self.map.get(key).map(|e| &e.0)
    }

    pub fn insert(&mut self, key: GroupKey, state: T) -> Option<T> {
        self.map
            .insert(key, (state, crate::expr::now()))
            .map(|e| e.0)
    }

    pub fn remove(&mut self, key: &GroupKey) -> Option<T> {
        self.map.remove(key).map(|e| e.0)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn keys(&self) -> impl Iterator<Item = &GroupKey> {
        self.map.keys()
    }

    /// Every group, without marking it as seen (timers walk them all).
    pub fn iter_mut_untouched(&mut self) -> impl Iterator<Item = (&GroupKey, &mut T)> {
        self.map.iter_mut().map(|(k, e)| (k, &mut e.0))
    }

    /// Approximate heap bytes: the table, plus `extra` for what each state owns.
    pub fn bytes(&self, extra: impl Fn(&T) -> usize) -> usize {
        self.map.capacity() * (std::mem::size_of::<(GroupKey, (T, i64))>() + 1)
            + self.map.values().map(|(t, _)| extra(t)).sum::<usize>()
    }

    /// Forgets the groups not touched since `cutoff`; returns how many went.
    pub fn expire(&mut self, cutoff: i64) -> usize {
        self.expire_with(cutoff, |_, _| {})
    }

    /// As [`Groups::expire`], showing each group that goes to `gone` first.
    pub fn expire_with(&mut self, cutoff: i64, mut gone: impl FnMut(&GroupKey, T)) -> usize {
        let before = self.map.len();
        let old: Vec<GroupKey> = self
            .map
            .iter()
            .filter(|(_, e)| e.1 < cutoff)
            .map(|(k, _)| k.clone())
            .collect();
        for k in old {
            if let Some((t, _)) = self.map.remove(&k) {
                gone(&k, t);
            }
        }
        if self.map.is_empty() {
            // Give back the table's memory, not just its entries.
            self.map = GroupMap::default();
        } else if self.map.capacity() > 4 * self.map.len() + 64 {
            self.map.shrink_to_fit();
        }
        before - self.map.len()
    }
}

/// What every node's group state offers the task, whatever it keeps per group.
pub trait GroupTable {
    fn remove_group(&mut self, key: &GroupKey);
    fn expire(&mut self, cutoff: i64) -> usize;
    fn len(&self) -> usize;
    /// Approximate heap bytes of the table itself.
    fn table_bytes(&self) -> usize;
}

impl<T> GroupTable for Groups<T> {
    fn remove_group(&mut self, key: &GroupKey) {
        self.remove(key);
    }

    fn expire(&mut self, cutoff: i64) -> usize {
        Groups::expire(self, cutoff)
    }

    fn len(&self) -> usize {
        Groups::len(self)
    }

    fn table_bytes(&self) -> usize {
        self.bytes(|_| 0)
    }
}
