//! The Wasm sandbox at the runtime level: what a misbehaving guest costs its task and what the
//! error says, with no server in between.

use std::sync::Arc;
use std::time::Duration;

use farad_runtime::exec::{Task, TaskEnv};
use farad_runtime::lineproto;
use farad_runtime::pipeline::{BuildOptions, compile};
use farad_runtime::wasm::{UdfEngine, UdfLimits, UdfRegistry};
use farad_tests::guest_wasm;

fn registry() -> Arc<UdfRegistry> {
    let engine = UdfEngine::new(UdfLimits {
        memory_bytes: 16 << 20,
        call_timeout: Duration::from_millis(100),
        max_instances: 16,
    })
    .unwrap();
    let reg = UdfRegistry::new(engine);
    for (name, krate) in [("chaos", "chaos-udf"), ("movingAverage", "moving-average")] {
        let artifact = reg.engine().precompile(&guest_wasm(krate)).unwrap();
        let module = reg.engine().load(name, &artifact).unwrap();
        reg.install(module, 1);
    }
    Arc::new(reg)
}

fn task(reg: &Arc<UdfRegistry>, script: &str) -> Result<Task, String> {
    let opts = BuildOptions {
        udfs: Some(reg.signatures()),
        ..BuildOptions::default()
    };
    let plan = compile(script, &opts).map_err(|d| d.one_line(script))?;
    let env = TaskEnv {
        udfs: Some(reg.clone()),
        ..TaskEnv::default()
    };
    Task::with_env(&plan, &env).map_err(|e| e.to_string())
}

fn push(t: &mut Task, lp: &str) {
    let mut b = lineproto::PointBuilder::default();
    let mut points = Vec::new();
    lineproto::parse(lp.as_bytes(), lineproto::Precision::Seconds, 0, |l| {
        points.push(b.build(l))
    });
    t.push("db", "rp", &points);
}

#[test]
fn each_failure_says_what_happened() {
    let reg = registry();
    for (mode, want) in [
        ("loop", "chaos2: process: the UDF ran past its deadline"),
        (
            "alloc",
            "chaos2: process: the UDF ran out of memory (limit 16 MiB)",
        ),
        ("trap", "chaos: trapping at point 2"),
        ("error", "chaos2: chaos: refusing point 2"),
    ] {
        let mut t = task(
            &reg,
            &format!("stream|from()@chaos().mode('{mode}').after(1)"),
        )
        .unwrap();
        push(&mut t, "cpu v=1 1\ncpu v=2 2\n");
        let err = t.last_error.take().unwrap_or_default();
        assert!(err.contains(want), "{mode}: {err}");
        // The task goes on: the next write gets a working guest (fresh after a trap).
        push(&mut t, "cpu v=3 3\n");
    }
}

#[test]
fn refused_options_refuse_the_task() {
    let reg = registry();
    let err = task(&reg, "stream|from()@chaos().mode('explode')")
        .err()
        .unwrap();
    assert!(err.contains("unknown mode \"explode\""), "{err}");
    let err = task(&reg, "stream|from()@chaos().speed(3)").err().unwrap();
    assert!(err.contains("@chaos() has no option `speed`"), "{err}");
}

#[test]
fn moving_average_in_process() {
    let reg = registry();
    let mut t = task(
        &reg,
        "stream|from().groupBy('host')@movingAverage().field('v').size(2)|httpOut('o')",
    )
    .unwrap();
    push(
        &mut t,
        "cpu,host=a v=1 1\ncpu,host=a v=3 2\ncpu,host=a v=5 3\n",
    );
    assert!(t.last_error.is_none(), "{:?}", t.last_error);
    let out = t.http_out("o").unwrap();
    let json = out.lock().to_json().to_string();
    assert!(json.contains("[\"1970-01-01T00:00:03Z\",4.0]"), "{json}");
}
