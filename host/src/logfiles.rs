//! The `log` handler's files: kept open and buffered, appended to by the thread that
//! publishes the event (no hand-off to another thread per event), and flushed wherever alert
//! state is made durable — before a write is acknowledged, and on every timer tick — so an
//! acknowledged event's line is in the file even after a `kill -9`. A file that was moved
//! or deleted (log rotation) is reopened at its path.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::sync::Arc;

use parking_lot::Mutex;

/// Bytes kept before a write to the file, when no flush comes first.
const BUFFER: usize = 256 << 10;

#[derive(Default)]
pub struct LogFiles {
    files: Mutex<HashMap<String, Arc<Mutex<Option<LogFile>>>>>,
}

struct LogFile {
    out: BufWriter<File>,
    /// Device and inode when opened: another at the path means the file was rotated.
    id: (u64, u64),
    dirty: bool,
}

impl LogFiles {
    /// Appends `data` to the file at `path`, created with `mode` if missing.
    pub fn append(&self, path: &str, mode: u32, data: &[u8]) -> Result<(), String> {
        let file = self
            .files
            .lock()
            .entry(path.to_owned())
            .or_default()
            .clone();
        let mut slot = file.lock();
        if slot.is_none() {
            *slot = Some(open(path, mode)?);
        }
        let f = slot.as_mut().expect("opened above");
        f.dirty = true;
        f.out.write_all(data).map_err(|e| {
            *slot = None;
            format!("appending to {path}: {e}")
        })
    }

    /// Writes what every file holds; files rotated away are closed, to be reopened by the
    /// next append.
    pub fn flush(&self) {
        let files: Vec<(String, Arc<Mutex<Option<LogFile>>>)> = self
            .files
            .lock()
            .iter()
            .map(|(p, f)| (p.clone(), f.clone()))
            .collect();
        for (path, file) in files {
            let mut slot = file.lock();
            let Some(f) = slot.as_mut() else { continue };
            if f.dirty {
                f.dirty = false;
                if let Err(e) = f.out.flush() {
                    tracing::error!(path, error = %e, "alert handler failed: appending to the log");
                    *slot = None;
                    continue;
                }
            }
            let moved = std::fs::metadata(&path).map_or(true, |m| (m.dev(), m.ino()) != f.id);
            if moved {
                *slot = None;
            }
        }
    }
}

fn open(path: &str, mode: u32) -> Result<LogFile, String> {
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(mode)
        .open(path)
        .map_err(|e| format!("appending to {path}: {e}"))?;
    let m = file
        .metadata()
        .map_err(|e| format!("appending to {path}: {e}"))?;
    Ok(LogFile {
        out: BufWriter::with_capacity(BUFFER, file),
        id: (m.dev(), m.ino()),
        dirty: false,
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
        let bad = files.append("/nonexistent-dir/x.log", 0o600, b"x");
        assert!(bad.unwrap_err().contains("/nonexistent-dir/x.log"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
