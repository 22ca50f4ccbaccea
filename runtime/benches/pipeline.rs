//! The standard workloads' pipelines in process (no HTTP, no parsing): points per second per
//! core through W1 (where + eval + count) and W2 (window 10s + mean per host), fed in
//! 5,000-point writes of the standard data (1,000 hosts, one point each per second); W4 (the
//! Wasm moving average of 10 per host) when `guest-examples/moving-average` has been built
//! (`cargo build --profile guest --target wasm32-wasip2 -p moving-average`).

use std::sync::{Arc, OnceLock};

use farad_runtime::exec::{Task, TaskEnv};
use farad_runtime::lineproto::{PointBuilder, Precision, parse};
use farad_runtime::model::Point;
use farad_runtime::pipeline::{BuildOptions, TaskType, compile};
use farad_runtime::wasm::{UdfEngine, UdfLimits, UdfRegistry};

const W1: &str = "stream|from().measurement('cpu')|where(lambda: \"value\" > 50.0)|eval(lambda: \"value\" * 2.0).as('v2')|count('v2')";
const W2: &str = "stream|from().measurement('cpu').groupBy('host')|window().period(10s).every(10s)|mean('value')";
const W4: &str = "stream|from().measurement('cpu').groupBy('host')@movingAvg().field('value').size(10).as('avg')|count('avg')";
const W3A: &str = "stream|from().measurement('cpu').groupBy('host')|alert().warn(lambda: \"value\" > 70.0).crit(lambda: \"value\" > 90.0)";

fn writes(n_writes: usize) -> Vec<Vec<Point>> {
    let mut builder = PointBuilder::default();
    let mut x: u64 = 7;
    (0..n_writes)
        .map(|w| {
            let mut body = String::with_capacity(5_000 * 40);
            for i in 0..5_000 {
                let seq = (w * 5_000 + i) as u64;
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let v = (x >> 11) as f64 / (1u64 << 53) as f64 * 100.0;
                body.push_str(&format!(
                    "cpu,host=h{} value={v} {}\n",
                    seq % 1_000,
                    1_700_000_000 + seq / 1_000
                ));
            }
            let mut pts = Vec::with_capacity(5_000);
            parse(body.as_bytes(), Precision::Seconds, 0, |l| {
                pts.push(builder.build(l))
            });
            pts
        })
        .collect()
}

fn task(script: &str) -> Task {
    let opts = BuildOptions {
        task_type: Some(TaskType::Stream),
        udfs: udfs().map(|r| r.signatures()),
        ..BuildOptions::default()
    };
    let env = TaskEnv {
        udfs: udfs().cloned(),
        ..TaskEnv::default()
    };
    Task::with_env(&compile(script, &opts).expect("valid workload"), &env).expect("runs")
}

/// The moving-average guest as `movingAvg`, if it has been built.
fn udfs() -> Option<&'static Arc<UdfRegistry>> {
    static REG: OnceLock<Option<Arc<UdfRegistry>>> = OnceLock::new();
    REG.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../target/wasm32-wasip2/guest/moving_average.wasm"
        );
        let wasm = std::fs::read(path).ok()?;
        let reg = UdfRegistry::new(UdfEngine::new(UdfLimits::default()).ok()?);
        let artifact = reg.engine().precompile(&wasm).ok()?;
        reg.install(reg.engine().load("movingAvg", &artifact).ok()?, 1);
        Some(Arc::new(reg))
    })
    .as_ref()
}

fn main() {
    divan::main();
}

fn run(bencher: divan::Bencher, script: &str) {
    // 40 writes = 200,000 points = 200 seconds of data time: windows close as they would live.
    let data = writes(40);
    bencher
        .counter(divan::counter::ItemsCount::new(200_000usize))
        // The points are copied outside the timing: the server hands each write's freshly
        // parsed points to the task, which takes them.
        .with_inputs(|| data.clone())
        .bench_local_values(|data| {
            let mut t = task(script);
            for w in data {
                t.push_owned("bench", "autogen", w);
            }
            t
        });
}

#[divan::bench(sample_count = 20)]
fn w1_where_eval_count(bencher: divan::Bencher) {
    run(bencher, W1);
}

#[divan::bench(sample_count = 20)]
fn w2_window_mean_per_host(bencher: divan::Bencher) {
    run(bencher, W2);
}

#[divan::bench(sample_count = 20)]
fn w3a_alert_per_host(bencher: divan::Bencher) {
    run(bencher, W3A);
}

#[divan::bench(sample_count = 20)]
fn w4_wasm_moving_average_per_host(bencher: divan::Bencher) {
    if udfs().is_none() {
        eprintln!("W4 skipped: build guest-examples/moving-average for wasm32-wasip2 first");
        return;
    }
    run(bencher, W4);
}

/// W4 without the UDF: what the Wasm call adds is the difference.
#[divan::bench(sample_count = 20)]
fn w4_baseline_without_udf(bencher: divan::Bencher) {
    run(
        bencher,
        "stream|from().measurement('cpu').groupBy('host')|count('value')",
    );
}
