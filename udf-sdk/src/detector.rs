//! A detector scoring each value against the group's window of recent values: give it a
//! [`Score`] and export `WindowDetector<YourScore>`.
//!
//! TICKscript: `@name().field('value').size(100).threshold(3.0).as('score').anomaliesOnly()`.
//! Each point comes out with its fields plus the score (`as`, default `score`) and
//! `anomaly` (|score| > threshold); with `.anomaliesOnly()` only anomalies come out. A value is
//! scored against the window *before* it joins it.

use std::marker::PhantomData;

use crate::rolling::Rolling;
use crate::{
    Edge, Emitter, Error, Group, Info, Options, PerGroup, PointRef, StateReader, StateWriter, Udf,
    ValueType,
};

/// How a value is scored against a window.
pub trait Score: 'static {
    /// Threshold when the task sets none.
    const DEFAULT_THRESHOLD: f64;
    /// Values needed in the window before scoring starts.
    const MIN_VALUES: usize = 2;
    /// The score of `x`, or `None` when the window cannot tell (e.g. no spread).
    fn score(window: &Rolling, x: f64) -> Option<f64>;
}

pub struct WindowDetector<S> {
    field: String,
    size: usize,
    threshold: f64,
    as_: String,
    only_anomalies: bool,
    windows: PerGroup<Rolling>,
    _score: PhantomData<S>,
}

const STATE_VERSION: u32 = 1;

impl<S: Score> Udf for WindowDetector<S> {
    fn info() -> Info {
        Info::new(Edge::Stream, Edge::Stream)
            .option("field", &[ValueType::Str], "the field to score")
            .option(
                "size",
                &[ValueType::Int],
                "values in the window (default 100)",
            )
            .option(
                "threshold",
                &[ValueType::Double],
                "|score| above which a value is an anomaly",
            )
            .option(
                "as",
                &[ValueType::Str],
                "the score's field (default `score`)",
            )
            .option("anomaliesOnly", &[], "emit anomalies only")
    }

    fn new(o: &Options) -> Result<Self, Error> {
        let size = o.int("size")?.unwrap_or(100);
        if size < S::MIN_VALUES as i64 {
            return Err(format!("size must be at least {}, got {size}", S::MIN_VALUES).into());
        }
        let threshold = o.float("threshold")?.unwrap_or(S::DEFAULT_THRESHOLD);
        if threshold.is_nan() || threshold <= 0.0 {
            return Err(format!("threshold must be positive, got {threshold}").into());
        }
        Ok(WindowDetector {
            field: o
                .string("field")?
                .ok_or("option .field() is required")?
                .to_owned(),
            size: size as usize,
            threshold,
            as_: o.string("as")?.unwrap_or("score").to_owned(),
            only_anomalies: o.bool("anomaliesOnly")?.unwrap_or(false),
            windows: PerGroup::new(),
            _score: PhantomData,
        })
    }

    fn point(&mut self, p: &PointRef<'_>, out: &mut Emitter) -> Result<(), Error> {
        let Some(x) = p.number(&self.field) else {
            return Ok(());
        };
        let size = self.size;
        let w = self
            .windows
            .get_or_insert_with(&p.group(), || Rolling::new(size));
        let score = (w.len() >= S::MIN_VALUES).then(|| S::score(w, x)).flatten();
        w.push(x);
        let anomaly = score.is_some_and(|s| s.abs() > self.threshold);
        if self.only_anomalies && !anomaly {
            return Ok(());
        }
        let b = out.copy(p).bool("anomaly", anomaly);
        if let Some(s) = score {
            b.float(&self.as_, s);
        }
        Ok(())
    }

    fn forget(&mut self, group: &Group<'_>) {
        self.windows.remove(group);
    }

    fn snapshot(&self) -> Vec<u8> {
        let mut w = StateWriter::new(STATE_VERSION);
        w.u64(self.windows.len() as u64);
        for (id, win) in self.windows.iter() {
            w.str(id);
            win.write(&mut w);
        }
        w.finish()
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), Error> {
        let mut r = StateReader::new(state, STATE_VERSION)?;
        for _ in 0..r.u64()? {
            let id = r.str()?;
            let win = Rolling::read(&mut r, self.size)?;
            self.windows.insert(id, win);
        }
        Ok(())
    }
}
