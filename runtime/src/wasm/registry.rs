//! UDF modules by name, each in a slot that running tasks watch for new versions.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;

use super::engine::{UdfEngine, UdfModule};
use crate::pipeline::UdfSignature;

/// The current version of one named module. Nodes keep the slot and compare versions before
/// each call: installing a new version hot-swaps it into every task that uses the name.
#[derive(Debug)]
pub struct UdfSlot {
    version: AtomicU64,
    module: RwLock<Arc<UdfModule>>,
}

impl UdfSlot {
    /// The version installed now (cheap: one atomic load).
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// The module installed now, with its version.
    pub fn current(&self) -> (u64, Arc<UdfModule>) {
        let m = self.module.read();
        (self.version(), m.clone())
    }
}

/// Every loaded module, by the name TICKscript calls it with (`@name()`).
#[derive(Debug)]
pub struct UdfRegistry {
    engine: UdfEngine,
    slots: RwLock<HashMap<String, Arc<UdfSlot>>>,
}

impl UdfRegistry {
    pub fn new(engine: UdfEngine) -> UdfRegistry {
        UdfRegistry {
            engine,
            slots: RwLock::new(HashMap::new()),
        }
    }

    pub fn engine(&self) -> &UdfEngine {
        &self.engine
    }

    /// Installs `module` as `version` of its name; tasks using the name switch to it at
    /// their next call.
    pub fn install(&self, module: UdfModule, version: u64) {
        let name = module.name.clone();
        let module = Arc::new(module);
        let mut slots = self.slots.write();
        match slots.get(&name) {
            Some(slot) => {
                *slot.module.write() = module;
                slot.version.store(version, Ordering::Release);
            }
            None => {
                slots.insert(
                    name,
                    Arc::new(UdfSlot {
                        version: AtomicU64::new(version),
                        module: RwLock::new(module),
                    }),
                );
            }
        }
    }

    /// Forgets `name` for new tasks (running ones keep their module). True if it was there.
    pub fn remove(&self, name: &str) -> bool {
        self.slots.write().remove(name).is_some()
    }

    pub fn get(&self, name: &str) -> Option<Arc<UdfSlot>> {
        self.slots.read().get(name).cloned()
    }

    /// What each module declares, for checking scripts.
    pub fn signatures(&self) -> BTreeMap<String, UdfSignature> {
        self.slots
            .read()
            .iter()
            .map(|(k, s)| (k.clone(), s.module.read().signature.clone()))
            .collect()
    }
}
