//! What [`export_udf!`](crate::export_udf) calls: the guest's state and the world's exports.
//!
//! A component instance is single-threaded; its state lives in thread-locals.

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;

use crate::bindings::farad::udf::types as wit;
use crate::emit::Emitter;
use crate::groups::Group;
use crate::options::Options;
use crate::point::{BatchRef, PointRef};
use crate::{LogLevel, Udf};

/// The series and groups Farad has sent.
#[derive(Default)]
pub struct Tables {
    pub(crate) series: Vec<wit::Series>,
    groups: Vec<(wit::Group, u32, u32)>,
}

impl Tables {
    pub(crate) fn group(&self, i: usize) -> Group<'_> {
        let (g, slot, generation) = &self.groups[i];
        Group {
            id: &g.id,
            tags: &g.tags,
            by_name: g.by_name,
            index: i as u32,
            slot: *slot,
            generation: *generation,
        }
    }
}

/// Stable slots for live groups (see [`crate::PerGroup`]).
#[derive(Default)]
struct Slots {
    by_id: HashMap<String, u32>,
    generations: Vec<u32>,
    free: Vec<u32>,
}

impl Slots {
    fn slot_for(&mut self, id: &str) -> (u32, u32) {
        if let Some(&s) = self.by_id.get(id) {
            return (s, self.generations[s as usize]);
        }
        let s = match self.free.pop() {
            Some(s) => {
                self.generations[s as usize] += 1;
                s
            }
            None => {
                self.generations.push(0);
                (self.generations.len() - 1) as u32
            }
        };
        self.by_id.insert(id.to_owned(), s);
        (s, self.generations[s as usize])
    }

    fn free(&mut self, id: &str) -> Option<(u32, u32)> {
        let s = self.by_id.remove(id)?;
        self.free.push(s);
        Some((s, self.generations[s as usize]))
    }
}

struct Guest {
    udf: Box<dyn Any>,
    tables: Tables,
    emitter: Emitter,
}

thread_local! {
    static GUEST: RefCell<Option<Guest>> = const { RefCell::new(None) };
    static SLOTS: RefCell<Slots> = RefCell::new(Slots::default());
}

pub(crate) fn slot_for(id: &str) -> (u32, u32) {
    SLOTS.with(|s| s.borrow_mut().slot_for(id))
}

fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // A panic traps the instance; logging it first tells Farad why.
        std::panic::set_hook(Box::new(|info| {
            crate::log(LogLevel::Error, &format!("panic: {info}"));
        }));
    });
}

pub fn info<U: Udf>() -> wit::Info {
    install_panic_hook();
    U::info().inner
}

pub fn init<U: Udf>(options: Vec<wit::OptionValue>) -> Result<(), String> {
    install_panic_hook();
    let udf = U::new(&Options { values: options }).map_err(|e| e.0)?;
    GUEST.with(|g| {
        *g.borrow_mut() = Some(Guest {
            udf: Box::new(udf),
            tables: Tables::default(),
            emitter: Emitter::default(),
        })
    });
    Ok(())
}

fn with_guest<U: Udf, R>(
    f: impl FnOnce(&mut U, &mut Tables, &mut Emitter) -> R,
) -> Result<R, String> {
    GUEST.with(|g| {
        let mut g = g.borrow_mut();
        let g = g.as_mut().ok_or("the UDF was not initialised")?;
        let udf = g
            .udf
            .downcast_mut::<U>()
            .ok_or("the UDF's state has another type")?;
        Ok(f(udf, &mut g.tables, &mut g.emitter))
    })
}

/// Runs one call: updates the tables, hands rows to the UDF, collects its output.
pub fn process<U: Udf>(input: wit::Input) -> Result<wit::Output, String> {
    with_guest::<U, _>(|udf, tables, emitter| {
        if input.reset {
            tables.series.clear();
            tables.groups.clear();
            emitter.reset();
        }
        tables.series.extend(input.new_series);
        SLOTS.with(|s| {
            let mut s = s.borrow_mut();
            for g in input.new_groups {
                let (slot, generation) = s.slot_for(&g.id);
                tables.groups.push((g, slot, generation));
            }
        });
        for id in &input.forget {
            if let Some((slot, generation)) = SLOTS.with(|s| s.borrow_mut().free(id)) {
                udf.forget(&Group {
                    id,
                    tags: &[],
                    by_name: false,
                    index: u32::MAX,
                    slot,
                    generation,
                });
            }
        }
        let rows = &input.rows;
        let tables = &*tables;
        let result = if rows.batches.is_empty() {
            (0..rows.times.len())
                .try_for_each(|row| udf.point(&PointRef { rows, tables, row }, emitter))
        } else {
            rows.batches
                .iter()
                .try_for_each(|span| udf.batch(&BatchRef { rows, tables, span }, emitter))
        };
        let out = emitter.finish();
        result.map(|()| out).map_err(|e| e.0)
    })?
}

pub fn snapshot<U: Udf>() -> Vec<u8> {
    with_guest::<U, _>(|udf, _, _| udf.snapshot()).unwrap_or_default()
}

pub fn restore<U: Udf>(state: Vec<u8>) -> Result<(), String> {
    with_guest::<U, _>(|udf, _, _| udf.restore(&state).map_err(|e| e.0))?
}
