//! `[http] https-enabled`: the API over TLS with a certificate from `https-certificate` (and
//! its key beside it or in `https-private-key`); the CLI with `-skipVerify` or trusting the
//! system's roots (`SSL_CERT_FILE`); a bad
//! certificate stops the start with the reason.

use farad_tests::{Farad, TempDir, farad_bin};
use serde_json::json;

#[test]
fn the_api_is_served_over_tls() {
    let dir = TempDir::new("https");
    let certs = farad_tests::certificates(&dir.path().join("certs"));
    let (ca, cert, key) = (certs.ca, certs.cert, certs.key);
    let f = Farad::start_trusting(
        &dir.path().join("data"),
        "",
        &[
            ("KAPACITOR_HTTP_HTTPS_ENABLED", "true"),
            ("KAPACITOR_HTTP_HTTPS_CERTIFICATE", cert.to_str().unwrap()),
            ("KAPACITOR_HTTP_HTTPS_PRIVATE_KEY", key.to_str().unwrap()),
        ],
        Some(&ca),
    );
    assert_eq!(f.scheme, "https");
    assert_eq!(f.get("/kapacitor/v1/ping").status, 204);
    let task = json!({"id": "t", "type": "stream", "status": "enabled",
        "dbrps": [{"db": "db", "rp": "rp"}], "script": "stream|from()|httpOut('out')"});
    assert_eq!(f.post("/kapacitor/v1/tasks", task.to_string()).status, 200);
    assert_eq!(f.post("/write?db=db&rp=rp", "cpu v=1 1").status, 204);
    let out = f.get("/kapacitor/v1/tasks/t/out").json();
    assert_eq!(out["series"][0]["values"][0][1], 1.0, "{out}");

    // Plain HTTP on the TLS port gets nothing useful.
    let plain = format!("http://{}/kapacitor/v1/ping", f.addr);
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    assert!(agent.get(&plain).call().is_err());

    // The CLI: refused without trust in the certificate, fine with -skipVerify.
    let (code, _, err) = f.cli(&["list", "tasks"]);
    assert_eq!(code, Some(3), "{err}");
    let (code, out, err) = f.cli(&["-skipVerify", "list", "tasks"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("t "), "{out}");
    // Go's `-flag=true`, and Kapacitor's `KAPACITOR_UNSAFE_SSL`.
    let (code, _, err) = f.cli(&["-skipVerify=true", "list", "tasks"]);
    assert_eq!(code, Some(0), "{err}");
    let unsafe_ssl = |value: &str, flag: &str| {
        std::process::Command::new(farad_bin())
            .args(["-url", &f.url(), flag, "list", "tasks"])
            .env("KAPACITOR_UNSAFE_SSL", value)
            .output()
            .unwrap()
    };
    // The variable decides unless the flag is set (`=false` is not setting it, as in Go).
    assert!(unsafe_ssl("true", "-skipVerify=false").status.success());
    assert!(!unsafe_ssl("false", "-skipVerify=false").status.success());
    assert!(unsafe_ssl("false", "-skipVerify").status.success());
    let bad = unsafe_ssl("yes", "-skipVerify=false");
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("ParseBool"));
    // It trusts the system's roots, as Go's client does: `SSL_CERT_FILE` names them.
    let out = std::process::Command::new(farad_bin())
        .args(["-url", &f.url(), "list", "tasks"])
        .env("SSL_CERT_FILE", &ca)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The key in the certificate's own file, as Kapacitor's default expects.
    let both = dir.path().join("certs/both.pem");
    let mut pem = std::fs::read(&cert).unwrap();
    pem.extend(std::fs::read(&key).unwrap());
    std::fs::write(&both, pem).unwrap();
    drop(f);
    let g = Farad::start_trusting(
        &dir.path().join("data"),
        "",
        &[
            ("KAPACITOR_HTTP_HTTPS_ENABLED", "true"),
            ("KAPACITOR_HTTP_HTTPS_CERTIFICATE", both.to_str().unwrap()),
        ],
        Some(&ca),
    );
    assert_eq!(g.get("/kapacitor/v1/ping").status, 204);
}

#[test]
fn a_missing_or_bad_certificate_stops_the_start() {
    let dir = TempDir::new("https-bad");
    let bad = dir.path().join("bad.pem");
    std::fs::write(&bad, "not a certificate").unwrap();
    for cert in [dir.path().join("missing.pem"), bad] {
        let conf = dir.path().join("farad.conf");
        std::fs::write(
            &conf,
            format!(
                "data_dir = {:?}\n[http]\nbind-address = \"127.0.0.1:0\"\nhttps-enabled = true\n\
                 https-certificate = {:?}\n",
                dir.path().join("data").display().to_string(),
                cert.display().to_string()
            ),
        )
        .unwrap();
        let out = std::process::Command::new(farad_bin())
            .args(["serve", "-config", conf.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("https-certificate"), "{err}");
    }
}
