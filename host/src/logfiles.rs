//! The `log` handler's files: kept open, appended to by the thread that publishes the event
//! (no hand-off to another thread per event) into a buffer, and written out wherever alert
//! state is made durable — before a write is acknowledged, and on every timer tick — so an
//! acknowledged event's line is in the file even after a `kill -9`. Appends never make a
//! system call: the writes happen at those sync points, outside the task that raised the
//! events. A file that was moved or deleted (log rotation) is reopened at its path.
//!
//! Farad never reads these files back, so every [`DROP_EVERY`] bytes it tells the kernel
//! to write them out and drop what is written from the page cache (`POSIX_FADV_DONTNEED`):
//! a log growing at hundreds of MB/s would otherwise push out other programs' cached
//! pages, and the kernel would copy each line into a page never used before, which costs
//! several times more than into one just freed (2.5x the kernel CPU measured writing 3 GB
//! on a VM that hands freed memory back to its host).

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::sync::Arc;

use parking_lot::Mutex;

/// What a file may hold unwritten between sync points before an append writes it itself
/// (events from timers or replays, between ticks).
const MAX_PENDING: usize = 16 << 20;

/// Bytes written to a file between two page-cache drops. Each drop starts the writeback of
/// what is dirty and drops what is already written, so pages stay cached for one or two
/// periods (a `tail -f` reads them from memory).
const DROP_EVERY: u64 = 8 << 20;

#[derive(Default)]
pub struct LogFiles {
    /// Looked up once per event: a fast hash for the path.
    files: Mutex<HashMap<String, Arc<LogFile>, foldhash::fast::RandomState>>,
}

#[derive(Default)]
struct LogFile {
    /// Lines not yet written, and the mode to create the file with.
    pending: Mutex<(Vec<u8>, u32)>,
    /// Taken while writing (writers take it before the pending lines, so lines reach the
    /// file in the order they were appended): the open file, and the buffer written last
    /// time, emptied, for the next lines (a buffer that keeps its pages is not grown and
    /// copied again from nothing at every sync point).
    out: Mutex<Writer>,
}

#[derive(Default)]
struct Writer {
    open: Option<Open>,
    spare: Vec<u8>,
}

struct Open {
    file: File,
    /// Device and inode when opened: another at the path means the file was rotated.
    id: (u64, u64),
    /// Bytes written since the page cache was last dropped.
    undropped: u64,
}

impl LogFiles {
    /// Appends `data` to the file at `path`, created with `mode` if missing.
    pub fn append(&self, path: &str, mode: u32, data: &[u8]) -> Result<(), String> {
        self.append_with(path, mode, &mut |out| out.extend_from_slice(data))
    }

    /// Appends what `write` writes to the file at `path`, created with `mode` if missing:
    /// straight into the file's pending lines, with no buffer of the caller's own.
    pub fn append_with(
        &self,
        path: &str,
        mode: u32,
        write: &mut dyn FnMut(&mut Vec<u8>),
    ) -> Result<(), String> {
        let file = {
            let mut files = self.files.lock();
            match files.get(path) {
                Some(f) => f.clone(),
                None => files.entry(path.to_owned()).or_default().clone(),
            }
        };
        let full = {
            let mut pending = file.pending.lock();
            write(&mut pending.0);
            pending.1 = mode;
            pending.0.len() > MAX_PENDING
        };
        if full {
            return file.write(path);
        }
        Ok(())
    }

    /// Whether no file has lines waiting: then [`LogFiles::flush`] has nothing to write. False
    /// when that cannot be told at once.
    pub fn idle(&self) -> bool {
        self.files.try_lock().is_some_and(|files| {
            files
                .values()
                .all(|f| f.pending.try_lock().is_some_and(|p| p.0.is_empty()))
        })
    }

    /// Writes every file's pending lines; files rotated away are closed, to be reopened by
    /// the next write.
    pub fn flush(&self) {
        let files: Vec<(String, Arc<LogFile>)> = self
            .files
            .lock()
            .iter()
            .map(|(p, f)| (p.clone(), f.clone()))
            .collect();
        for (path, file) in files {
            if let Err(e) = file.write(&path) {
                tracing::error!(path, error = e, "alert handler failed");
            }
            let mut out = file.out.lock();
            if let Some(o) = out.open.as_ref() {
                let moved = std::fs::metadata(&path).map_or(true, |m| (m.dev(), m.ino()) != o.id);
                if moved {
                    out.open = None;
                }
            }
        }
    }
}

impl LogFile {
    fn write(&self, path: &str) -> Result<(), String> {
        let mut out = self.out.lock();
        let (mut data, mode) = {
            let mut pending = self.pending.lock();
            if pending.0.is_empty() {
                return Ok(());
            }
            (
                std::mem::replace(&mut pending.0, std::mem::take(&mut out.spare)),
                pending.1,
            )
        };
        let result = Self::write_out(&mut out.open, path, mode, &data);
        // Written or not (a failed write is reported, its lines dropped), the buffer goes
        // back for the next lines unless a burst made it huge.
        if data.capacity() <= 2 * MAX_PENDING {
            data.clear();
            out.spare = data;
        }
        result
    }

    fn write_out(out: &mut Option<Open>, path: &str, mode: u32, data: &[u8]) -> Result<(), String> {
        if out.is_none() {
            *out = Some(open(path, mode)?);
        }
        let o = out.as_mut().expect("opened above");
        if let Err(e) = o.file.write_all(data) {
            *out = None;
            return Err(format!("appending to {path}: {e}"));
        }
        o.undropped += data.len() as u64;
        if o.undropped >= DROP_EVERY {
            o.undropped = 0;
            use std::os::fd::AsRawFd;
            // Advice only: an error (a file system without a page cache) changes nothing.
            unsafe { libc::posix_fadvise(o.file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        }
        Ok(())
    }
}

fn open(path: &str, mode: u32) -> Result<Open, String> {
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(mode)
        .open(path)
        .map_err(|e| format!("appending to {path}: {e}"))?;
    let m = file
        .metadata()
        .map_err(|e| format!("appending to {path}: {e}"))?;
    Ok(Open {
        file,
        id: (m.dev(), m.ino()),
        undropped: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_reach_the_file_on_flush_and_rotation_reopens() {
        let dir = std::env::temp_dir().join(format!("farad-logfiles-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("alerts.log");
        let p = path.to_str().unwrap();
        let files = LogFiles::default();
        files.append(p, 0o600, b"one\n").unwrap();
        files.append(p, 0o600, b"two\n").unwrap();
        files.flush();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\n");
        // Rotated: the old file keeps what it had, the next line starts a new one.
        std::fs::rename(&path, dir.join("alerts.log.1")).unwrap();
        files.flush();
        files.append(p, 0o600, b"three\n").unwrap();
        files.flush();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "three\n");
        // An unwritable path fails when written (logged), and drops nothing else.
        files.append("/nonexistent-dir/x.log", 0o600, b"x").unwrap();
        files.append(p, 0o600, b"four\n").unwrap();
        files.flush();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "three\nfour\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Pages of a file written out are dropped from the page cache, and nothing is lost.
    #[test]
    fn written_pages_leave_the_page_cache() {
        let dir = std::env::temp_dir().join(format!("farad-logcache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("alerts.log");
        let p = path.to_str().unwrap();
        let files = LogFiles::default();
        let line = |i: usize| format!("{{\"id\":\"event {i:08}\",\"pad\":\"{:0>100}\"}}\n", i);
        // Appends lines from the `i`th on until `bytes` are written, flushing every 4,096
        // lines as sync points would: how many bytes were.
        let mut i = 0;
        let mut write = |bytes: usize| {
            let mut written = 0;
            while written < bytes {
                for _ in 0..4096 {
                    let l = line(i);
                    written += l.len();
                    files.append(p, 0o600, l.as_bytes()).unwrap();
                    i += 1;
                }
                files.flush();
            }
            written
        };
        let written = write(3 * DROP_EVERY as usize);
        // Written out: the next drop takes all of it but the lines after.
        std::fs::File::open(&path).unwrap().sync_data().unwrap();
        write(DROP_EVERY as usize);

        let tmpfs = {
            let c = std::ffi::CString::new(p).unwrap();
            let mut st: libc::statfs = unsafe { std::mem::zeroed() };
            unsafe { libc::statfs(c.as_ptr(), &mut st) };
            st.f_type == libc::TMPFS_MAGIC
        };
        if !tmpfs {
            // Whole pages only: the last one is shared with the lines after.
            let synced = written / 4096 * 4096 - 4096;
            assert_eq!(
                resident(&path, synced),
                0,
                "pages cached of the written part"
            );
        }
        let text = std::fs::read(&path).unwrap();
        let expected: String = (0..i).map(line).collect();
        assert!(
            text == expected.as_bytes(),
            "the file holds every line, in order"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// How many of the first `len` bytes' pages of the file are in the page cache.
    fn resident(path: &std::path::Path, len: usize) -> usize {
        use std::os::fd::AsRawFd;
        let file = std::fs::File::open(path).unwrap();
        let page = 4096;
        let pages = len.div_ceil(page);
        let mut vec = vec![0u8; pages];
        unsafe {
            let addr = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            );
            assert_ne!(addr, libc::MAP_FAILED);
            assert_eq!(libc::mincore(addr, len, vec.as_mut_ptr()), 0);
            libc::munmap(addr, len);
        }
        vec.iter().filter(|v| **v & 1 == 1).count()
    }
}
