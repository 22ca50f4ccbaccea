//! Line-protocol parsing per core, on the standard workload's lines (`cpu,host=hN value=F T`).
//!
//! `count_only` is what a write costs when no task subscribes (parse and validate);
//! `build_points` adds building `Point`s with shared series, as for a subscribed db/rp.

use farad_runtime::lineproto::{PointBuilder, Precision, parse};

fn body(points: usize) -> Vec<u8> {
    let mut s = String::with_capacity(points * 48);
    let mut x: u64 = 1;
    for i in 0..points {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let v = (x >> 11) as f64 / (1u64 << 53) as f64 * 100.0;
        let t = 1_700_000_000_000_000_000u64 + (i as u64 / 1000) * 1_000_000_000;
        s.push_str(&format!("cpu,host=h{} value={v} {t}\n", i % 1000));
    }
    s.into_bytes()
}

fn main() {
    divan::main();
}

#[divan::bench(args = [5_000])]
fn count_only(bencher: divan::Bencher, n: usize) {
    let b = body(n);
    bencher
        .counter(divan::counter::ItemsCount::new(n))
        .bench(|| {
            let mut c = 0u64;
            let out = parse(divan::black_box(&b), Precision::Nanoseconds, 0, |_| c += 1);
            assert_eq!(out.accepted, n);
            c
        });
}

#[divan::bench(args = [5_000])]
fn build_points(bencher: divan::Bencher, n: usize) {
    let b = body(n);
    let mut builder = PointBuilder::default();
    let mut points = Vec::with_capacity(n);
    bencher
        .counter(divan::counter::ItemsCount::new(n))
        .bench_local(|| {
            points.clear();
            parse(divan::black_box(&b), Precision::Nanoseconds, 0, |l| {
                points.push(builder.build(l))
            });
            points.len()
        });
}
