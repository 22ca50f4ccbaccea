//! The daemon allocates with mimalloc (set in `main.rs`): points and events are freed by
//! other threads than the ones that made them, which glibc's malloc paid for with a lock per
//! free. mimalloc returns freed memory lazily, when a thread next allocates; an idle daemon
//! would keep what expired groups freed, so the timer asks it to every tick.

/// Hands freed pages back to the OS (cheap when there are none).
pub fn release_free_memory() {
    // SAFETY: takes no pointers; may be called from any thread at any time.
    unsafe { libmimalloc_sys::mi_collect(true) };
}
