//! The last `n` values of a series, with their running sum and sum of squares: the window
//! most detectors score a new value against.

use std::collections::VecDeque;

use crate::{Error, StateReader, StateWriter};

/// A window over the last `capacity` values.
#[derive(Clone, Debug, Default)]
pub struct Rolling {
    values: VecDeque<f64>,
    capacity: usize,
    sum: f64,
    sum_sq: f64,
}

impl Rolling {
    pub fn new(capacity: usize) -> Rolling {
        Rolling {
            values: VecDeque::with_capacity(capacity.min(4096)),
            capacity: capacity.max(1),
            sum: 0.0,
            sum_sq: 0.0,
        }
    }

    /// Adds a value, dropping the oldest when full.
    pub fn push(&mut self, v: f64) {
        if self.values.len() == self.capacity
            && let Some(old) = self.values.pop_front()
        {
            self.sum -= old;
            self.sum_sq -= old * old;
        }
        self.values.push_back(v);
        self.sum += v;
        self.sum_sq += v * v;
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.values.len() == self.capacity
    }

    pub fn values(&self) -> impl Iterator<Item = f64> + '_ {
        self.values.iter().copied()
    }

    pub fn mean(&self) -> Option<f64> {
        (!self.values.is_empty()).then(|| self.sum / self.values.len() as f64)
    }

    /// Sample standard deviation (n - 1); `None` below two values.
    pub fn stddev(&self) -> Option<f64> {
        let n = self.values.len() as f64;
        if n < 2.0 {
            return None;
        }
        let mean = self.sum / n;
        Some(
            ((self.sum_sq - n * mean * mean) / (n - 1.0))
                .max(0.0)
                .sqrt(),
        )
    }

    /// Writes the window (for snapshots).
    pub fn write(&self, w: &mut StateWriter) {
        w.f64s(&self.values.iter().copied().collect::<Vec<_>>());
    }

    /// Reads a window written by [`Rolling::write`] into one of `capacity` (the newest kept).
    pub fn read(r: &mut StateReader<'_>, capacity: usize) -> Result<Rolling, Error> {
        let mut w = Rolling::new(capacity);
        for v in r.f64s()? {
            w.push(v);
        }
        Ok(w)
    }
}

/// The median of `v` (sorted in place); `None` when empty.
pub fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_values_and_their_moments() {
        let mut w = Rolling::new(3);
        for v in [1.0, 2.0, 3.0, 10.0] {
            w.push(v);
        }
        assert_eq!(w.values().collect::<Vec<_>>(), [2.0, 3.0, 10.0]);
        assert_eq!(w.mean(), Some(5.0));
        assert!((w.stddev().unwrap() - 4.358898943540674).abs() < 1e-12);
        assert_eq!(median(&mut [3.0, 1.0, 2.0, 10.0]), Some(2.5));
    }
}
