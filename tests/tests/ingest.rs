//! Line-protocol ingest over HTTP: counting, partial writes, malformed input, gzip, limits.

use std::io::Write;

use farad_tests::{Farad, TempDir};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn ping_answers_with_version() {
    let dir = TempDir::new("ping");
    let f = Farad::start_in(dir.path(), "");
    for r in [f.get("/kapacitor/v1/ping"), f.head("/kapacitor/v1/ping")] {
        assert_eq!(r.status, 204);
        assert!(
            r.header("X-Kapacitor-Version")
                .unwrap()
                .starts_with("1.8.2+farad.")
        );
        assert!(r.header("Request-Id").is_some());
    }
    let r = f.get("/kapacitor/v1/nope");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"], "not found");
}

#[test]
fn a_million_points_are_all_counted() {
    let dir = TempDir::new("million");
    let f = Farad::start_in(dir.path(), "");
    let mut body = String::with_capacity(5_000 * 40);
    let mut t: u64 = 1_600_000_000_000_000_000;
    for _ in 0..200 {
        body.clear();
        for i in 0..5_000 {
            use std::fmt::Write;
            writeln!(body, "cpu,host=h{} value={}.5 {t}", i % 1_000, i % 100).unwrap();
            t += 1;
        }
        let r = f.post("/write?db=bench&rp=autogen", &body);
        assert_eq!(r.status, 204, "{}", r.body);
    }
    assert_eq!(f.ingress_points("bench"), 1_000_000);
    let vars = f.vars();
    assert_eq!(
        vars["kapacitor"]["httpd"]["values"]["points_written_ok"],
        1_000_000
    );
    assert_eq!(vars["kapacitor"]["httpd"]["values"]["write_req"], 200);
}

/// A daemon with `[http] realtime-priority` or without: writes read the same either way
/// (with it, large and compressed bodies are taken on threads of their own).
fn start(dir: &TempDir, realtime: bool) -> Farad {
    let on = if realtime { "true" } else { "false" };
    Farad::start_with_env(dir.path(), "", &[("KAPACITOR_HTTP_REALTIME_PRIORITY", on)])
}

#[test]
fn malformed_lines_get_400_and_valid_lines_are_taken() {
    for realtime in [false, true] {
        malformed_lines(realtime);
    }
}

fn malformed_lines(realtime: bool) {
    let dir = TempDir::new("malformed");
    let f = start(&dir, realtime);
    let huge = format!("cpu value={} 1", "1".repeat(2_000_000));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "bad escape",
            b"cpu\\ ,host=a\\ value=1 1".to_vec(),
            "unable to parse",
        ),
        ("missing fields", b"cpu,host=a".to_vec(), "missing fields"),
        (
            "missing field value",
            b"cpu value= 1".to_vec(),
            "missing field value",
        ),
        (
            "bad timestamp",
            b"cpu value=1 12abc".to_vec(),
            "bad timestamp",
        ),
        (
            "timestamp out of range",
            b"cpu value=1 9223372036854775807".to_vec(),
            "time outside range",
        ),
        ("huge line", huge.into_bytes(), "invalid number"),
        (
            "invalid utf-8",
            b"cpu,host=\xc3\x28 value=1 1".to_vec(),
            "invalid UTF-8",
        ),
        (
            "non-finite float",
            b"cpu value=NaN 1".to_vec(),
            "invalid number",
        ),
    ];
    let mut expected_ok = 0;
    for (i, (label, bad, reason)) in cases.iter().enumerate() {
        let mut body = format!("good,case={i} value=1 1\n").into_bytes();
        body.extend_from_slice(bad);
        body.extend_from_slice(format!("\ngood,case={i} value=2 2\n").as_bytes());
        let r = f.post("/write?db=mal&precision=s", &body);
        assert_eq!(r.status, 400, "{label}: {}", r.body);
        let msg = r.json()["error"].as_str().unwrap().to_owned();
        assert!(msg.contains(reason), "{label}: {msg}");
        assert!(msg.contains("(line 2)"), "{label}: {msg}");
        assert!(
            msg.len() < 2_000,
            "{label}: message stays readable ({} bytes)",
            msg.len()
        );
        expected_ok += 2;
        assert_eq!(
            f.ingress_points("mal"),
            expected_ok,
            "{label}: valid lines counted"
        );
    }
    // Still serving.
    assert_eq!(f.get("/kapacitor/v1/ping").status, 204);
}

#[test]
fn write_parameters() {
    let dir = TempDir::new("params");
    let f = Farad::start_in(dir.path(), "");
    let r = f.post("/write", "cpu value=1 1");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "database is required");
    let r = f.post("/write?db=x&precision=fortnights", "cpu value=1 1");
    assert_eq!(r.status, 400);
    assert!(r.body.contains("invalid precision"));
    // Empty body: nothing to do.
    assert_eq!(f.post("/write?db=x", "").status, 204);
    // Both paths, every precision.
    for p in ["n", "ns", "u", "ms", "s", "m", "h"] {
        let r = f.post(
            &format!("/kapacitor/v1/write?db=p&rp=rp1&precision={p}"),
            "cpu value=1 1",
        );
        assert_eq!(r.status, 204, "{p}: {}", r.body);
    }
    assert_eq!(f.ingress_points("p"), 7);
    let vars = f.vars();
    let rps: Vec<_> = vars["kapacitor"]
        .as_object()
        .unwrap()
        .values()
        .filter(|s| s["tags"]["database"] == "p")
        .map(|s| s["tags"]["retention_policy"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(rps, ["rp1"]);
    // No rp: the default retention policy.
    f.post("/write?db=d", "cpu value=1 1");
    let vars = f.vars();
    assert_eq!(
        vars["kapacitor"]["ingress:d:autogen:cpu"]["values"]["points_received"],
        1
    );
    // Wrong method: Kapacitor knows routes per method, so not found.
    assert_eq!(f.get("/write?db=x").status, 404);
}

#[test]
fn gzip_bodies() {
    for realtime in [false, true] {
        gzip_bodies_with(realtime);
    }
}

fn gzip_bodies_with(realtime: bool) {
    let dir = TempDir::new("gzip");
    let f = start(&dir, realtime);
    let body: String = (0..1_000)
        .map(|i| format!("cpu,host=h{i} value=1 {i}\n"))
        .collect();
    let z = gzip(body.as_bytes());
    let r = f.post_with("/write?db=gz", &[("Content-Encoding", "gzip")], &z);
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(f.ingress_points("gz"), 1_000);

    // Truncated: the lines that arrived whole are taken, the cut one is not, and the reply says so.
    let cut = &z[..z.len() / 2];
    let r = f.post_with("/write?db=gzcut", &[("Content-Encoding", "gzip")], cut);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("gzip body is corrupt or truncated"),
        "{}",
        r.body
    );
    let taken = f.ingress_points("gzcut");
    assert!(taken > 0 && taken < 1_000, "took {taken} whole lines");

    // Not gzip at all.
    let r = f.post_with(
        "/write?db=gzbad",
        &[("Content-Encoding", "gzip")],
        "cpu value=1 1\n",
    );
    assert_eq!(r.status, 400);
    assert_eq!(f.ingress_points("gzbad"), 0);
}

#[test]
fn bodies_over_the_limit_are_refused() {
    let dir = TempDir::new("limit");
    // The fixture writes its own [http] section; set the limit through the environment.
    let f = Farad::start_with_env(dir.path(), "", &[("KAPACITOR_HTTP_MAX_BODY_SIZE", "10000")]);
    let big = "cpu value=1 1\n".repeat(1_000);
    let r = f.post("/write?db=lim", &big);
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(f.ingress_points("lim"), 0);
    // A small gzip body that inflates past the limit: a zip bomb.
    let bomb = gzip(&vec![b'\n'; 1_000_000]);
    assert!(bomb.len() < 10_000);
    let r = f.post_with("/write?db=lim", &[("Content-Encoding", "gzip")], &bomb);
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(f.post("/write?db=lim", "cpu value=1 1").status, 204);
}
