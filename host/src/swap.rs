//! A value replaced whole while readers keep the one they took: how services reconfigured
//! over the config API change under running tasks.

use std::sync::Arc;

use parking_lot::RwLock;

pub struct Swap<T>(RwLock<Arc<T>>);

impl<T> Swap<T> {
    pub fn new(value: T) -> Swap<T> {
        Swap(RwLock::new(Arc::new(value)))
    }

    /// The current value; a later [`Swap::set`] does not change it.
    pub fn get(&self) -> Arc<T> {
        self.0.read().clone()
    }

    pub fn set(&self, value: T) {
        *self.0.write() = Arc::new(value);
    }
}
