//! Bounded memory: a task fed a million short-lived series gives its memory back once the
//! groups have been idle for `[task] group-idle-timeout`.

use std::time::{Duration, Instant};

use farad_tests::{Farad, TempDir};
use serde_json::json;

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

fn cardinality(f: &Farad, node: &str) -> u64 {
    f.get("/kapacitor/v1/tasks/t").json()["stats"]["node-stats"][node]["working_cardinality"]
        .as_u64()
        .unwrap()
}

#[test]
fn a_million_short_lived_series_give_their_memory_back() {
    const SERIES: usize = 1_000_000;
    const BATCH: usize = 100_000;
    let dir = TempDir::new("memory");
    let f = Farad::start_in(dir.path(), "[task]\ngroup-idle-timeout = \"10s\"");
    let body = json!({
        "id": "t", "type": "stream", "status": "enabled",
        "script": "stream|from().measurement('m').groupBy('id')|where(lambda: sigma(\"v\") >= 0.0)|window().period(1h).every(1h)|mean('v')|httpOut('out')",
        "dbrps": [{"db": "db", "rp": "rp"}],
    });
    assert_eq!(f.post("/kapacitor/v1/tasks", body.to_string()).status, 200);

    // Bodies are made up front: the writes must all land within the idle timeout.
    let bodies: Vec<String> = (0..SERIES)
        .step_by(BATCH)
        .map(|from| {
            let mut lp = String::with_capacity(BATCH * 40);
            for i in from..from + BATCH {
                lp.push_str(&format!("m,id=s{i} v={i} {}\n", 1 + i / BATCH));
            }
            lp
        })
        .collect();
    let write = |lp: &String| {
        let r = f.post("/write?db=db&rp=rp&precision=s", lp);
        assert_eq!(r.status, 204, "{}", r.body);
    };
    // Warm up (allocator pools, HTTP buffers, thread stacks) before taking the baseline.
    write(&bodies[0]);
    wait_for_expiry(&f);
    let baseline = rss_kib(f.child.id());

    let started = Instant::now();
    bodies.iter().for_each(write);
    eprintln!("{SERIES} points written in {:?}", started.elapsed());
    assert_eq!(cardinality(&f, "window3"), SERIES as u64);
    let full = rss_kib(f.child.id());
    let state_bytes = |f: &Farad| {
        f.get("/kapacitor/v1/tasks/t").json()["stats"]["task-stats"]["state_bytes"]
            .as_u64()
            .unwrap()
    };
    let full_state = state_bytes(&f);
    let started = Instant::now();
    wait_for_expiry(&f);
    eprintln!("expired after {:?}", started.elapsed());
    let after = rss_kib(f.child.id());
    let after_state = state_bytes(&f);
    eprintln!("task state: {full_state} bytes with {SERIES} groups, {after_state} after expiry");
    assert!(full_state > 100 * SERIES as u64, "{full_state}");
    assert!(after_state < 4096, "{after_state}");
    eprintln!(
        "RSS: baseline {baseline} KiB, with {SERIES} groups {full} KiB, after expiry {after} KiB"
    );
    assert!(
        full > baseline + 100 * 1024,
        "a million groups should take memory: {baseline} -> {full} KiB"
    );
    assert!(
        // What stays: bounded caches (series per writer thread, group keys in `from`) and
        // allocator slack, which varies with how busy the machine was: at least 7/8 of what the
        // groups took must be back.
        after < baseline + (full - baseline) / 8,
        "memory did not return to its baseline: {baseline} -> {full} -> {after} KiB"
    );
}

/// Waits until every node of the task has forgotten its groups.
fn wait_for_expiry(f: &Farad) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while ["where2", "window3"].iter().any(|n| cardinality(f, n) > 0) {
        assert!(Instant::now() < deadline, "groups never expired");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Let the allocator return freed pages.
    std::thread::sleep(Duration::from_millis(500));
}
