//! Threads for large writes.
//!
//! Pushing a 5,000-point write through a task takes milliseconds. Run on a tokio worker,
//! it keeps every other connection on that worker waiting, a single-point write that
//! raises an alert included; with two workers both busy so, an alert waited up to a whole
//! large write. Large bodies are parsed and delivered here instead, on their own threads
//! with the default time slices, and the workers (short slices, see `crate::sched`) stay
//! free to read and run small writes at once.

use std::sync::Mutex;
use std::sync::mpsc::{Receiver, Sender, channel};

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of threads taking jobs in order.
pub struct Bulk {
    jobs: Sender<Job>,
}

/// A body at least this long (about 700 points of 48 bytes) is a large write.
pub const LARGE_BODY: usize = 32 * 1024;

impl Bulk {
    /// `threads` threads (at least one) named `farad-bulk-<i>`.
    pub fn start(threads: usize) -> std::io::Result<Bulk> {
        let (jobs, rx) = channel::<Job>();
        let rx = std::sync::Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("farad-bulk-{i}"))
                .spawn(move || work(&rx))?;
        }
        Ok(Bulk { jobs })
    }

    /// Runs `job` on one of the threads; its result when done, or why there is none.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(job());
        });
        self.jobs
            .send(job)
            .map_err(|_| "the write threads are gone".to_owned())?;
        rx.await
            .map_err(|_| "the write failed: it panicked (see the daemon's log)".to_owned())
    }
}

fn work(rx: &Mutex<Receiver<Job>>) {
    loop {
        let job = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        match job {
            // A panicking job drops its result's sender: the writer sees the failure, the
            // thread lives on.
            Ok(job) => drop(std::panic::catch_unwind(std::panic::AssertUnwindSafe(job))),
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_the_threads() {
        let bulk = Bulk::start(2).unwrap();
        let name = bulk
            .run(|| std::thread::current().name().unwrap_or("").to_owned())
            .await;
        let name = name.unwrap();
        assert!(name.starts_with("farad-bulk-"), "{name}");
        let sums = futures_util::future::join_all((0..8u64).map(|i| bulk.run(move || i * 2))).await;
        let sums: Vec<u64> = sums.into_iter().map(Result::unwrap).collect();
        assert_eq!(sums, (0..8u64).map(|i| i * 2).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_thread_outlives_a_panicking_job() {
        let bulk = Bulk::start(1).unwrap();
        let failed: Result<(), String> = bulk.run(|| panic!("a bad job")).await;
        assert!(failed.unwrap_err().contains("panicked"));
        assert_eq!(bulk.run(|| 7).await, Ok(7));
    }
}
