//! Parsing and checking a 5,000-line TICKscript (500 ten-line pipelines with lambdas).

use farad_runtime::pipeline::{BuildOptions, build};
use farad_runtime::tick::parse;

fn script() -> String {
    let mut s = String::new();
    for i in 0..500 {
        s.push_str(&format!(
            "var w{i} = stream\n    |from()\n        .measurement('cpu{i}')\n        .groupBy('host')\n        .where(lambda: \"usage\" > 10.0 AND \"host\" =~ /web.*/)\n    |window()\n        .period(10s)\n        .every(5s)\n    |mean('usage')\n        .as('m')\n"
        ));
    }
    s
}

fn main() {
    divan::main();
}

#[divan::bench]
fn parse_5000_lines(bencher: divan::Bencher) {
    let src = script();
    assert_eq!(src.lines().count(), 5_000);
    bencher.bench(|| {
        let (p, d) = parse(divan::black_box(&src));
        assert!(d.is_empty());
        p
    });
}

#[divan::bench]
fn parse_and_check_5000_lines(bencher: divan::Bencher) {
    let src = script();
    let opts = BuildOptions::default();
    bencher.bench(|| {
        let (p, d) = parse(divan::black_box(&src));
        assert!(d.is_empty());
        let (plan, d) = build(&p, &opts);
        assert!(d.is_empty());
        plan
    });
}
