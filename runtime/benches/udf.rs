//! The Wasm boundary alone: a UDF instance processing micro-batches of columns, per core.
//! Needs the guest examples built (`cargo build --profile guest --target wasm32-wasip2
//! -p zscore -p moving-average`); skipped otherwise.

use std::sync::Arc;

use farad_runtime::exec::{Dims, StreamPoint};
use farad_runtime::model::{GroupKey, Name, Point, Series, Value};
use farad_runtime::wasm::{Encoder, UdfEngine, UdfInstance, UdfLimits, UdfRegistry, wit};

fn main() {
    divan::main();
}

fn instance(krate: &str, options: Vec<wit::OptionValue>) -> Option<UdfInstance> {
    let path = format!(
        "{}/../target/wasm32-wasip2/guest/{}.wasm",
        env!("CARGO_MANIFEST_DIR"),
        krate.replace('-', "_")
    );
    let wasm = std::fs::read(path).ok()?;
    let reg = UdfRegistry::new(UdfEngine::new(UdfLimits::default()).ok()?);
    let artifact = reg.engine().precompile(&wasm).ok()?;
    let module = reg.engine().load(krate, &artifact).ok()?;
    let mut inst = UdfInstance::new(&module, "bench").ok()?;
    inst.init(&options).ok()?;
    Some(inst)
}

/// `n` points of the standard data (1,000 hosts) grouped by host, as one table-free input
/// (the series and groups went across in a first call made here).
fn input(inst: &mut UdfInstance, n: usize) -> wit::Input {
    let host = Name::new("host");
    let value = Name::new("value");
    let series: Vec<Arc<Series>> = (0..1000)
        .map(|h| {
            Arc::new(Series::new(
                Name::new("cpu"),
                vec![(host, format!("h{h}").into())],
            ))
        })
        .collect();
    let groups: Vec<(GroupKey, Arc<Dims>)> = (0..1000)
        .map(|h| {
            let dims = Arc::new(Dims {
                by_name: false,
                tags: vec![host],
            });
            (
                GroupKey::from_parts(None, vec![(host, format!("h{h}").into())]),
                dims,
            )
        })
        .collect();
    let points: Vec<StreamPoint> = (0..n)
        .map(|i| StreamPoint {
            point: Point {
                time: i as i64,
                series: series[i % 1000].clone(),
                fields: [(value, Value::Float((i * 7919 % 100) as f64))]
                    .into_iter()
                    .collect(),
            },
            group: groups[i % 1000].0.clone(),
            dims: groups[i % 1000].1.clone(),
        })
        .collect();
    let mut enc = Encoder::default();
    for p in &points {
        enc.point(p);
    }
    inst.process(enc.input()).expect("first call");
    enc.sent();
    for p in &points {
        enc.point(p);
    }
    enc.input().clone()
}

fn run(bencher: divan::Bencher, krate: &str, options: Vec<wit::OptionValue>) {
    let Some(mut inst) = instance(krate, options) else {
        eprintln!("{krate} not built for wasm32-wasip2: skipped");
        return;
    };
    let input = input(&mut inst, 4096);
    bencher
        .counter(divan::counter::ItemsCount::new(4096usize))
        .bench_local(|| inst.process(&input).expect("process"));
}

fn opt(name: &str, v: wit::Value) -> wit::OptionValue {
    wit::OptionValue {
        name: name.into(),
        args: vec![v],
    }
}

#[divan::bench(sample_count = 50)]
fn zscore_4096_rows(bencher: divan::Bencher) {
    run(
        bencher,
        "zscore",
        vec![
            opt("field", wit::Value::Str("value".into())),
            opt("size", wit::Value::Int(100)),
            wit::OptionValue {
                name: "anomaliesOnly".into(),
                args: Vec::new(),
            },
        ],
    );
}

#[divan::bench(sample_count = 50)]
fn moving_average_4096_rows(bencher: divan::Bencher) {
    run(
        bencher,
        "moving-average",
        vec![
            opt("field", wit::Value::Str("value".into())),
            opt("size", wit::Value::Int(10)),
        ],
    );
}
