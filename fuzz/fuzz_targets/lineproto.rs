//! Line protocol on arbitrary bytes: no panic, and every accepted line builds a point.
#![no_main]

use farad_runtime::lineproto::{PointBuilder, Precision, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut builder = PointBuilder::default();
    let mut n = 0;
    let out = parse(data, Precision::Nanoseconds, 0, |line| {
        let _ = builder.build(&line);
        n += 1;
    });
    assert_eq!(out.accepted, n);
});
