//! A small binary format for snapshots, so guests need no serialization crate.
//!
//! Little-endian numbers and length-prefixed strings, read back in the order written.

use crate::Error;

/// Writes a snapshot.
#[derive(Debug, Default)]
pub struct StateWriter {
    buf: Vec<u8>,
}

impl StateWriter {
    /// A snapshot starting with a format `version` the reader checks.
    pub fn new(version: u32) -> StateWriter {
        let mut w = StateWriter::default();
        w.u32(version);
        w
    }

    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub fn f64(&mut self, v: f64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub fn str(&mut self, v: &str) -> &mut Self {
        self.u64(v.len() as u64);
        self.buf.extend_from_slice(v.as_bytes());
        self
    }

    pub fn f64s(&mut self, v: &[f64]) -> &mut Self {
        self.u64(v.len() as u64);
        for x in v {
            self.f64(*x);
        }
        self
    }

    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads a snapshot written by [`StateWriter`].
#[derive(Debug)]
pub struct StateReader<'a> {
    buf: &'a [u8],
}

impl<'a> StateReader<'a> {
    /// Reads the header; a snapshot of another format version is an error.
    pub fn new(buf: &'a [u8], version: u32) -> Result<StateReader<'a>, Error> {
        let mut r = StateReader { buf };
        let v = r.u32()?;
        if v != version {
            return Err(Error(format!(
                "snapshot format {v}, this version reads {version}"
            )));
        }
        Ok(r)
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        if self.buf.len() < N {
            return Err("snapshot ends early".into());
        }
        let (a, b) = self.buf.split_at(N);
        self.buf = b;
        Ok(a.try_into().expect("split at N"))
    }

    pub fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(self.take()?))
    }

    pub fn u64(&mut self) -> Result<u64, Error> {
        Ok(u64::from_le_bytes(self.take()?))
    }

    pub fn i64(&mut self) -> Result<i64, Error> {
        Ok(i64::from_le_bytes(self.take()?))
    }

    pub fn f64(&mut self) -> Result<f64, Error> {
        Ok(f64::from_le_bytes(self.take()?))
    }

    fn len(&mut self, each: usize) -> Result<usize, Error> {
        let n = self.u64()? as usize;
        if n.saturating_mul(each) > self.buf.len() {
            return Err("snapshot length past its end".into());
        }
        Ok(n)
    }

    pub fn str(&mut self) -> Result<&'a str, Error> {
        let n = self.len(1)?;
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        std::str::from_utf8(a).map_err(|_| Error::from("snapshot string is not UTF-8"))
    }

    pub fn f64s(&mut self) -> Result<Vec<f64>, Error> {
        let n = self.len(8)?;
        (0..n).map(|_| self.f64()).collect()
    }

    /// True when everything was read.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}
