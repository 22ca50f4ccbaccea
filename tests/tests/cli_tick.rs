//! `farad fmt` and `farad check` on files.

use std::process::Command;

use farad_tests::{TempDir, farad_bin};

#[test]
fn check_reports_every_error_with_location_and_exit_code() {
    let dir = TempDir::new("check");
    let good = dir.path().join("good.tick");
    let bad = dir.path().join("bad.tick");
    std::fs::write(&good, "stream|from().measurement('cpu')|httpOut('x')\n").unwrap();
    std::fs::write(&bad, "stream\n    |from(\n\nvar x = )\n").unwrap();
    let ok = Command::new(farad_bin())
        .arg("check")
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let out = Command::new(farad_bin())
        .arg("check")
        .arg(&bad)
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.tick:4:1"), "{err}");
    assert!(err.contains("bad.tick:4:9"), "{err}");
    assert!(err.contains("^"), "caret snippet: {err}");

    // Semantic errors too, with a suggestion.
    std::fs::write(
        &bad,
        "stream\n    |from()\n    |window()\n        .perod(10s)\n",
    )
    .unwrap();
    let out = Command::new(farad_bin())
        .arg("check")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.tick:4:10"), "{err}");
    assert!(err.contains("did you mean `.period`?"), "{err}");
}

#[test]
fn fmt_prints_and_rewrites() {
    let dir = TempDir::new("fmt");
    let f = dir.path().join("t.tick");
    std::fs::write(
        &f,
        "stream|from().measurement('cpu')|window().period(10s)\n",
    )
    .unwrap();
    let out = Command::new(farad_bin())
        .arg("fmt")
        .arg(&f)
        .output()
        .unwrap();
    assert!(out.status.success());
    let want =
        "stream\n    |from()\n        .measurement('cpu')\n    |window()\n        .period(10s)\n";
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
    let out = Command::new(farad_bin())
        .args(["fmt", "-w"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&f).unwrap(), want);
}
