//! Progress bars for `record`, `replay` and `backup`, on stderr and only when it is a
//! terminal: scripts reading stdout (the id, the file) see nothing else.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar, or nothing when stderr is not a terminal.
pub struct Progress(Option<ProgressBar>);

/// Steps of a bar that follows a fraction.
const STEPS: u64 = 1000;

impl Progress {
    /// A bar for work reported as a fraction done (recordings, replays).
    pub fn fraction(what: &str) -> Progress {
        Progress::make(
            STEPS,
            &format!("{what} [{{bar:40}}] {{percent:>3}}% {{elapsed}}"),
        )
    }

    /// A bar for a download of `total` bytes (or a counter when the size is unknown).
    pub fn bytes(total: Option<u64>) -> Progress {
        match total {
            Some(t) => Progress::make(t, "backup [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec}"),
            None => Progress::make(0, "backup {bytes} {bytes_per_sec}"),
        }
    }

    fn make(len: u64, template: &str) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = ProgressBar::new(len);
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress(Some(bar))
    }

    pub fn set_fraction(&self, f: f64) {
        if let Some(b) = &self.0 {
            b.set_position((f.clamp(0.0, 1.0) * STEPS as f64) as u64);
        }
    }

    pub fn add(&self, n: u64) {
        if let Some(b) = &self.0 {
            b.inc(n);
        }
    }

    /// Takes the bar off the terminal.
    pub fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

/// A writer that moves a bar by what goes through it.
pub struct Counting<'a, W> {
    pub inner: W,
    pub progress: &'a Progress,
}

impl<W: std::io::Write> std::io::Write for Counting<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.progress.add(n as u64);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
