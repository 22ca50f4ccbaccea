//! `farad test`: the repository's examples pass; a wrong expectation fails with a diff and
//! exit code 1; bad test files, scripts and inputs are errors with their location; a Wasm
//! UDF runs inside a test.

use std::path::{Path, PathBuf};
use std::process::Command;

use farad_tests::{TempDir, farad_bin, guest_wasm};

/// Runs `farad test` on `paths`: exit code and standard output.
fn farad_test(paths: &[&Path]) -> (Option<i32>, String) {
    let out = Command::new(farad_bin())
        .arg("test")
        .args(paths)
        .output()
        .expect("running farad test");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    (out.status.code(), format!("{stdout}{stderr}"))
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

#[test]
fn the_examples_pass() {
    let mut files = 0;
    for entry in walk(&examples()) {
        if entry.to_string_lossy().ends_with(".test.toml") {
            files += 1;
        }
    }
    assert!(files >= 5, "examples/ has {files} test files");
    let (code, out) = farad_test(&[&examples()]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(&format!("{files} passed, 0 failed")), "{out}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

const SCRIPT: &str = "stream|from().measurement('cpu').groupBy('host')\
    |alert().id('{{ index .Tags \"host\" }}').crit(lambda: \"v\" > 90)\
    |httpOut('out')";

fn test_file(dir: &TempDir, name: &str, body: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, body).unwrap();
    path
}

#[test]
fn a_wrong_expectation_fails_with_a_diff() {
    let dir = TempDir::new("farad-test-fail");
    let good = test_file(
        &dir,
        "good.test.toml",
        &format!(
            r#"
[task]
tickscript = '''{SCRIPT}'''
dbrps = ["db.rp"]
[input]
precision = "s"
lines = """
cpu,host=a v=95 10
cpu,host=a v=20 20
"""
[[expect.alerts]]
id = "a"
level = "CRITICAL"
time = "1970-01-01T00:00:10Z"
[[expect.alerts]]
id = "a"
level = "OK"
[[expect.http_out]]
endpoint = "out"
result = {{ series = [{{ name = "cpu", tags = {{ host = "a" }}, columns = ["time", "v"], values = [["1970-01-01T00:00:20Z", 20]] }}] }}
"#
        ),
    );
    let (code, out) = farad_test(&[&good]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("ok   "), "{out}");

    let bad = test_file(
        &dir,
        "bad.test.toml",
        &format!(
            r#"
name = "wrong numbers"
[task]
tickscript = '''{SCRIPT}'''
dbrps = ["db.rp"]
[input]
precision = "s"
lines = "cpu,host=a v=95 10"
[[expect.alerts]]
id = "a"
level = "WARNING"
[[expect.http_out]]
endpoint = "out"
result = '{{"series": [{{"name": "cpu", "tags": {{"host": "a"}}, "columns": ["time", "v"], "values": [["1970-01-01T00:00:10Z", 96]]}}]}}'
[[expect.influxdb_out]]
lines = "m v=1 1"
"#
        ),
    );
    let (code, out) = farad_test(&[&good, &bad]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("FAIL wrong numbers"), "{out}");
    assert!(out.contains("alert event 0 differs"), "{out}");
    assert!(out.contains("-id=\"a\" level=\"WARNING\""), "{out}");
    assert!(out.contains("+id=\"a\" level=\"CRITICAL\""), "{out}");
    assert!(
        out.contains("row 0 column \"v\": expected 96, got 95"),
        "{out}"
    );
    assert!(out.contains("+  [\"1970-01-01T00:00:10Z\",95.0]"), "{out}");
    assert!(out.contains("-m v=1 1"), "{out}");
    assert!(out.contains("1 passed, 1 failed"), "{out}");
}

#[test]
fn bad_test_files_are_errors_with_locations() {
    let dir = TempDir::new("farad-test-bad");
    let toml = test_file(&dir, "toml.test.toml", "[task]\nscript = \n");
    let tick = test_file(
        &dir,
        "tick.test.toml",
        "[task]\nscript = \"x.tick\"\n[input]\nlines = \"m v=1 1\"\ndb = \"db\"\n",
    );
    std::fs::write(
        dir.path().join("x.tick"),
        "stream\n    |from()\n    |windw()\n",
    )
    .unwrap();
    let lines = test_file(
        &dir,
        "lines.test.toml",
        &format!(
            "[task]\ntickscript = '''{SCRIPT}'''\ndbrps = [\"db.rp\"]\n[input]\nlines = \"cpu,host=a v=\\n\"\n"
        ),
    );
    let (code, out) = farad_test(&[&toml, &tick, &lines]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("toml.test.toml: TOML parse error at line 2, column"),
        "{out}"
    );
    assert!(out.contains("x.tick:3:"), "{out}");
    assert!(out.contains("[input] lines"), "{out}");
    assert!(out.contains("0 passed, 3 failed"), "{out}");
}

#[test]
fn a_wasm_udf_runs_in_a_test() {
    let dir = TempDir::new("farad-test-udf");
    std::fs::write(dir.path().join("zscore.wasm"), guest_wasm("zscore")).unwrap();
    let lines: String = (0..40)
        .map(|i| {
            let v = if i == 30 { 95.0 } else { 50.0 + (i % 5) as f64 };
            format!("cpu,host=a value={v} {i}\n")
        })
        .collect();
    let file = test_file(
        &dir,
        "udf.test.toml",
        &format!(
            r#"
[udfs]
zscore = "zscore.wasm"
[task]
tickscript = '''
stream|from().measurement('cpu').groupBy('host')
    @zscore().field('value').size(20)
    |alert().id('spike').crit(lambda: "anomaly")
'''
dbrps = ["db.rp"]
[input]
precision = "s"
lines = """
{lines}"""
[[expect.alerts]]
level = "CRITICAL"
time = "1970-01-01T00:00:30Z"
[[expect.alerts]]
level = "OK"
time = "1970-01-01T00:00:31Z"
"#
        ),
    );
    let (code, out) = farad_test(&[&file]);
    assert_eq!(code, Some(0), "{out}");
}
