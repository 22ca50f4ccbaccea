//! Groups and per-group state.
//!
//! Farad numbers groups per call table; the SDK gives each live group a *slot* that stays put
//! across table resets, so [`PerGroup`] finds a group's state by index, not by hashing its id.

/// A group of points (after `groupBy`).
#[derive(Clone, Copy, Debug)]
pub struct Group<'a> {
    pub(crate) id: &'a str,
    pub(crate) tags: &'a [(String, String)],
    pub(crate) by_name: bool,
    pub(crate) index: u32,
    pub(crate) slot: u32,
    pub(crate) generation: u32,
}

impl<'a> Group<'a> {
    /// Kapacitor's group id (`host=a,region=eu`), `""` for an ungrouped stream.
    pub fn id(&self) -> &'a str {
        self.id
    }

    /// The tags grouped by, with their values.
    pub fn tags(&self) -> &'a [(String, String)] {
        self.tags
    }

    /// Whether the measurement is part of the group.
    pub fn by_name(&self) -> bool {
        self.by_name
    }
}

/// State kept per group, found by slot. Entries of groups Farad forgets must be removed in
/// [`Udf::forget`](crate::Udf::forget); a slot reused by another group never shows the old
/// state (entries carry the generation of their slot).
#[derive(Clone, Debug)]
pub struct PerGroup<T> {
    items: Vec<Option<(u32, String, T)>>,
    len: usize,
}

impl<T> Default for PerGroup<T> {
    fn default() -> Self {
        PerGroup {
            items: Vec::new(),
            len: 0,
        }
    }
}

impl<T> PerGroup<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// The group's state, made with `make` if it has none.
    pub fn get_or_insert_with(&mut self, g: &Group<'_>, make: impl FnOnce() -> T) -> &mut T {
        let slot = g.slot as usize;
        if slot >= self.items.len() {
            self.items.resize_with(slot + 1, || None);
        }
        let e = &mut self.items[slot];
        match e {
            Some((generation, _, _)) if *generation == g.generation => {}
            Some(_) => *e = Some((g.generation, g.id.to_owned(), make())),
            None => {
                self.len += 1;
                *e = Some((g.generation, g.id.to_owned(), make()));
            }
        }
        match e {
            Some((_, _, t)) => t,
            None => unreachable!(),
        }
    }

    /// The group's state, made with `Default` if it has none.
    pub fn get_or_default(&mut self, g: &Group<'_>) -> &mut T
    where
        T: Default,
    {
        self.get_or_insert_with(g, T::default)
    }

    pub fn get(&self, g: &Group<'_>) -> Option<&T> {
        match self.items.get(g.slot as usize)? {
            Some((generation, _, t)) if *generation == g.generation => Some(t),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, g: &Group<'_>) -> Option<&mut T> {
        match self.items.get_mut(g.slot as usize)? {
            Some((generation, _, t)) if *generation == g.generation => Some(t),
            _ => None,
        }
    }

    /// Drops a group's state.
    pub fn remove(&mut self, g: &Group<'_>) -> Option<T> {
        let e = self.items.get_mut(g.slot as usize)?;
        match e {
            Some((generation, _, _)) if *generation == g.generation => {
                self.len -= 1;
                e.take().map(|(_, _, t)| t)
            }
            _ => None,
        }
    }

    /// Every group's id and state (for snapshots).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &T)> {
        self.items
            .iter()
            .flatten()
            .map(|(_, id, t)| (id.as_str(), t))
    }

    /// Puts state back for the group with this id (for restoring snapshots).
    pub fn insert(&mut self, id: &str, state: T) {
        let (slot, generation) = crate::rt::slot_for(id);
        let slot = slot as usize;
        if slot >= self.items.len() {
            self.items.resize_with(slot + 1, || None);
        }
        if self.items[slot].is_none() {
            self.len += 1;
        }
        self.items[slot] = Some((generation, id.to_owned(), state));
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
