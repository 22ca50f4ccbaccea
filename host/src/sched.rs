//! Scheduling of the threads on an alert's way out: those that read HTTP requests (tokio's
//! workers) and those that send alerts (the output workers).
//!
//! On two busy cores a thread that wakes (a socket became readable, an alert was queued)
//! otherwise waits for the running thread's slice to end: up to a scheduler tick, 4 ms at
//! HZ=250, which is what an alert's latency under load was made of. By default these threads
//! ask for short time slices (EEVDF's custom slice, Linux 6.12+), so that they run soon after
//! waking; `[http] realtime-priority` gives them real-time priority instead (SCHED_FIFO 1),
//! so that nothing at normal priority delays them. Threads doing the bulk of the work keep
//! the default slice and priority.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

static REALTIME: AtomicBool = AtomicBool::new(false);

thread_local! {
    static SET: Cell<bool> = const { Cell::new(false) };
}

/// Whether latency threads ask for real-time priority; before they start.
pub fn configure(realtime: bool) {
    REALTIME.store(realtime, Relaxed);
}

/// Makes the calling thread a latency thread, once (later calls do nothing, so it may be
/// called on every wake-up). Best effort: without the right to real-time priority (root,
/// CAP_SYS_NICE or an RLIMIT_RTPRIO) short slices; older kernels ignore those.
pub fn latency_thread() {
    if SET.replace(true) {
        return;
    }
    if REALTIME.load(Relaxed) {
        if set(Policy::Fifo) {
            return;
        }
        static WARNED: AtomicBool = AtomicBool::new(false);
        if !WARNED.swap(true, Relaxed) {
            tracing::warn!(
                error = %std::io::Error::last_os_error(),
                "[http] realtime-priority: real-time priority refused (it needs root, \
                 CAP_SYS_NICE or an RLIMIT_RTPRIO of 1); short time slices instead"
            );
        }
    }
    set(Policy::ShortSlices);
}

enum Policy {
    Fifo,
    ShortSlices,
}

/// 0.1 ms, the shortest slice the kernel takes.
const SLICE_NS: u64 = 100_000;

#[cfg(target_os = "linux")]
fn set(policy: Policy) -> bool {
    #[repr(C)]
    struct SchedAttr {
        size: u32,
        policy: u32,
        flags: u64,
        nice: i32,
        priority: u32,
        runtime: u64,
        deadline: u64,
        period: u64,
        util_min: u32,
        util_max: u32,
    }
    // Threads and processes started from a latency thread (the blocking pool's, an `exec`
    // handler's program) start at normal priority and slices again.
    const SCHED_FLAG_RESET_ON_FORK: u64 = 1;
    let mut attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy: libc::SCHED_OTHER as u32,
        flags: SCHED_FLAG_RESET_ON_FORK,
        nice: 0,
        priority: 0,
        runtime: 0,
        deadline: 0,
        period: 0,
        util_min: 0,
        util_max: 0,
    };
    match policy {
        Policy::Fifo => {
            attr.policy = libc::SCHED_FIFO as u32;
            attr.priority = 1;
        }
        Policy::ShortSlices => {
            // SAFETY: reads the calling thread's nice value (0 = self); kept as it was.
            attr.nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
            attr.runtime = SLICE_NS;
        }
    }
    // SAFETY: sched_setattr(0 = this thread, a valid attr of the size it declares, no flags).
    unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) == 0 }
}

#[cfg(not(target_os = "linux"))]
fn set(_: Policy) -> bool {
    false
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The calling thread's scheduling policy (0 other, 1 FIFO).
    fn policy() -> i32 {
        // SAFETY: 0 is this thread.
        unsafe { libc::sched_getscheduler(0) }
    }

    #[test]
    fn short_slices_keep_normal_priority_and_fifo_is_real_time_where_allowed() {
        std::thread::spawn(|| {
            set(Policy::ShortSlices);
            assert_eq!(policy() & !libc::SCHED_RESET_ON_FORK, libc::SCHED_OTHER);
            if set(Policy::Fifo) {
                assert_eq!(policy() & !libc::SCHED_RESET_ON_FORK, libc::SCHED_FIFO);
                // A thread it starts runs at normal priority.
                let child = std::thread::spawn(policy).join().unwrap();
                assert_eq!(child, libc::SCHED_OTHER);
            } else {
                assert_eq!(policy() & !libc::SCHED_RESET_ON_FORK, libc::SCHED_OTHER);
            }
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_thread_is_made_a_latency_thread_once() {
        std::thread::spawn(|| {
            latency_thread();
            assert!(SET.get());
            assert_eq!(policy() & !libc::SCHED_RESET_ON_FORK, libc::SCHED_OTHER);
            latency_thread();
        })
        .join()
        .unwrap();
    }
}
