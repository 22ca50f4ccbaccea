//! Fixtures for Farad's end-to-end tests: a real `farad serve` process on 127.0.0.1 with its own
//! data directory, and a small HTTP client for its API.
//!
//! The daemon binary is `$FARAD_BIN` when set; otherwise each test process first runs
//! `cargo build --workspace --bins` (a no-op when it is fresh; the same feature set as
//! `scripts/test`'s build, where `-p farad` alone would rebuild wasmtime with other features)
//! and uses `target/<profile>/farad`.

mod certs;
mod gssapi;
mod influxd;
mod kafka;
mod kafka_tls;
mod kdc;
mod mqtt;
mod sink;
mod smtp;
mod snmptrapd;

pub use certs::{Certificates, certificates};
pub use influxd::{Influxd, free_port};
pub use kafka::{KafkaCluster, KafkaMessage};
pub use kafka_tls::{Login, READER, SecureKafka};
pub use kdc::{Kdc, REALM};
pub use mqtt::Mosquitto;
pub use sink::{HttpSink, Received};
pub use smtp::SmtpSink;
pub use snmptrapd::Snmptrapd;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The `farad` binary under test.
pub fn farad_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("FARAD_BIN") {
            return PathBuf::from(p);
        }
        let root = workspace_root();
        let target = target_dir();
        // Test binaries live in target/<profile>/deps; the daemon in target/<profile>.
        let profile_dir = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent()?.parent().map(Path::to_path_buf))
            .filter(|d| d.starts_with(&target))
            .unwrap_or_else(|| target.join("debug"));
        let bin = profile_dir.join("farad");
        // Always ask cargo: a stale daemon would test old code. A no-op when it is up to date.
        {
            let release = profile_dir.ends_with("release");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut cmd = Command::new(cargo);
            cmd.args(["build", "-q", "--workspace", "--bins"])
                .current_dir(&root);
            if release {
                cmd.arg("--release");
            }
            let status = cmd
                .status()
                .expect("running cargo build for the farad binary");
            assert!(status.success(), "building the farad binary failed");
        }
        bin
    })
    .clone()
}

/// The workspace's root directory.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` or `<root>/target`.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from)
}

/// A fresh, empty directory under the system temp dir, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("farad-test-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("creating temp dir");
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running daemon. Killed (SIGKILL) when dropped unless stopped first.
pub struct Farad {
    pub child: Child,
    pub addr: SocketAddr,
    /// `http` or `https`.
    pub scheme: &'static str,
    pub data_dir: PathBuf,
    pub config_path: PathBuf,
    agent: ureq::Agent,
}

/// A response: status and body text.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Farad {
    /// Starts a daemon on 127.0.0.1 with an OS-assigned port, `data_dir` as its store, and
    /// `extra` appended to its config file.
    pub fn start_in(data_dir: &Path, extra: &str) -> Farad {
        Self::start_with_env(data_dir, extra, &[])
    }

    /// As [`Farad::start_in`], with extra environment variables.
    pub fn start_with_env(data_dir: &Path, extra: &str, env: &[(&str, &str)]) -> Farad {
        Self::start_trusting(data_dir, extra, env, None)
    }

    /// As [`Farad::start_with_env`]; when the daemon serves https, the fixture's client
    /// trusts the CA in the PEM file `ca`.
    pub fn start_trusting(
        data_dir: &Path,
        extra: &str,
        env: &[(&str, &str)],
        ca: Option<&Path>,
    ) -> Farad {
        std::fs::create_dir_all(data_dir).expect("data dir");
        let config_path = data_dir.join("farad-test.conf");
        let config = format!(
            "data_dir = {dir:?}\n{extra}\n[http]\nbind-address = \"127.0.0.1:0\"\n[logging]\nlevel = \"WARN\"\n",
            dir = data_dir.display().to_string()
        );
        std::fs::write(&config_path, config).expect("writing config");
        let mut cmd = Command::new(farad_bin());
        cmd.arg("serve").arg("-config").arg(&config_path);
        cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("starting farad");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let (scheme, addr) = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(a) = line.strip_prefix("farad listening on http://") {
                        break ("http", a.parse().expect("listen address"));
                    }
                    if let Some(a) = line.strip_prefix("farad listening on https://") {
                        break ("https", a.parse().expect("listen address"));
                    }
                }
                _ => {
                    let status = child.wait().ok();
                    panic!("farad exited before listening: {status:?}");
                }
            }
        };
        // Keep draining stdout so the daemon never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        // A connection per request: the server closes a connection whose refused request
        // had a body it did not read, and a pooled connection can be reused before that
        // close arrives (Go's client retries such a request; ureq does not).
        let mut config = ureq::Agent::config_builder()
            .max_idle_connections(0)
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)));
        if let Some(ca) = ca {
            let pem = std::fs::read(ca).expect("reading the CA");
            let cert = ureq::tls::Certificate::from_pem(&pem).expect("a PEM certificate");
            let roots = ureq::tls::RootCerts::new_with_certs(&[cert.to_owned()]);
            config = config.tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build());
        }
        let agent: ureq::Agent = config.build().into();
        Farad {
            child,
            addr,
            scheme,
            data_dir: data_dir.to_path_buf(),
            config_path,
            agent,
        }
    }

    /// The base URL, `http://127.0.0.1:<port>` (or https).
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    fn reply(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
        let mut r = r.expect("request failed");
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let status = r.status().as_u16();
        // Binary bodies (backups, recordings) read as text lossily; `get_bytes` has them whole.
        let body = r
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .expect("body");
        let body = String::from_utf8_lossy(&body).into_owned();
        Reply {
            status,
            body,
            headers,
        }
    }

    pub fn get(&self, path: &str) -> Reply {
        Self::reply(self.agent.get(format!("{}{path}", self.url())).call())
    }

    /// A GET whose body is binary: status and bytes.
    pub fn get_bytes(&self, path: &str) -> (u16, Vec<u8>) {
        let mut r = self
            .agent
            .get(format!("{}{path}", self.url()))
            .call()
            .expect("request failed");
        let status = r.status().as_u16();
        let body = r
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .expect("body");
        (status, body)
    }

    pub fn head(&self, path: &str) -> Reply {
        Self::reply(self.agent.head(format!("{}{path}", self.url())).call())
    }

    pub fn delete(&self, path: &str) -> Reply {
        Self::reply(self.agent.delete(format!("{}{path}", self.url())).call())
    }

    /// Runs `farad -url <this server> args...`: its exit code, stdout and stderr.
    pub fn cli(&self, args: &[&str]) -> (Option<i32>, String, String) {
        let out = Command::new(farad_bin())
            .args(["-url", &self.url()])
            .args(args)
            .output()
            .expect("running the farad CLI");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    pub fn put(&self, path: &str, body: impl AsRef<[u8]>) -> Reply {
        Self::reply(
            self.agent
                .put(format!("{}{path}", self.url()))
                .send(body.as_ref()),
        )
    }

    pub fn patch(&self, path: &str, body: impl AsRef<[u8]>) -> Reply {
        Self::reply(
            self.agent
                .patch(format!("{}{path}", self.url()))
                .send(body.as_ref()),
        )
    }

    pub fn post(&self, path: &str, body: impl AsRef<[u8]>) -> Reply {
        Self::reply(
            self.agent
                .post(format!("{}{path}", self.url()))
                .send(body.as_ref()),
        )
    }

    pub fn post_with(&self, path: &str, headers: &[(&str, &str)], body: impl AsRef<[u8]>) -> Reply {
        let mut req = self.agent.post(format!("{}{path}", self.url()));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Self::reply(req.send(body.as_ref()))
    }

    /// Any request, with headers; a body only for methods that take one.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        let url = format!("{}{path}", self.url());
        macro_rules! with_headers {
            ($req:expr) => {{
                let mut r = $req;
                for (k, v) in headers {
                    r = r.header(*k, *v);
                }
                r
            }};
        }
        let r = match method {
            "GET" => with_headers!(self.agent.get(&url)).call(),
            "HEAD" => with_headers!(self.agent.head(&url)).call(),
            "DELETE" => with_headers!(self.agent.delete(&url)).call(),
            "POST" => with_headers!(self.agent.post(&url)).send(body),
            "PUT" => with_headers!(self.agent.put(&url)).send(body),
            "PATCH" => with_headers!(self.agent.patch(&url)).send(body),
            m => panic!("method {m} not supported by the fixture"),
        };
        Self::reply(r)
    }

    /// `GET /kapacitor/v1/debug/vars` as JSON.
    pub fn vars(&self) -> serde_json::Value {
        let r = self.get("/kapacitor/v1/debug/vars");
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    /// Points received per `db`, summed over retention policies and measurements.
    pub fn ingress_points(&self, db: &str) -> u64 {
        let vars = self.vars();
        let stats = vars["kapacitor"].as_object().expect("kapacitor stats");
        stats
            .values()
            .filter(|s| s["name"] == "ingress" && s["tags"]["database"] == db)
            .map(|s| s["values"]["points_received"].as_u64().unwrap_or(0))
            .sum()
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill9(mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }

    /// SIGTERM, then waits for the exit; returns whether it exited successfully.
    pub fn terminate(mut self) -> bool {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.success();
            }
            assert!(
                Instant::now() < deadline,
                "farad did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Farad {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Builds the guest example crate `name` (in `guest-examples/`) for `wasm32-wasip2` and
/// returns the component's bytes. Cargo is asked every time (a no-op when fresh).
pub fn guest_wasm(name: &str) -> Vec<u8> {
    let root = workspace_root();
    let target = target_dir();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "-q",
            "--profile",
            "guest",
            "--target",
            "wasm32-wasip2",
            "-p",
            name,
        ])
        .current_dir(&root)
        .status()
        .expect("running cargo build for a guest example");
    assert!(
        status.success(),
        "building guest example {name} failed (is the wasm32-wasip2 target installed? \
         `rustup target add wasm32-wasip2`)"
    );
    // Libraries are named with underscores; binaries (commands) keep their dashes.
    let dir = target.join("wasm32-wasip2/guest");
    let lib = dir.join(format!("{}.wasm", name.replace('-', "_")));
    let file = if lib.exists() {
        lib
    } else {
        dir.join(format!("{name}.wasm"))
    };
    std::fs::read(&file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()))
}

/// Builds `guest-examples/python-zscore` with componentize-py (installed with pip if missing)
/// and returns the component's bytes.
pub fn python_guest_wasm() -> Vec<u8> {
    let root = workspace_root();
    let have = Command::new("componentize-py")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        let status = Command::new("python3")
            .args(["-m", "pip", "install", "-q", "componentize-py"])
            .status()
            .expect("running pip");
        assert!(status.success(), "pip install componentize-py failed");
    }
    let out = std::env::temp_dir().join(format!("farad-python-zscore-{}.wasm", std::process::id()));
    let status = Command::new("componentize-py")
        .args([
            "-d",
            "udf-sdk/wit",
            "-w",
            "udf",
            "componentize",
            "app",
            "-p",
        ])
        .arg("guest-examples/python-zscore")
        .arg("-o")
        .arg(&out)
        .current_dir(&root)
        .stdout(Stdio::null())
        .status()
        .expect("running componentize-py");
    assert!(status.success(), "componentize-py failed");
    let bytes = std::fs::read(&out).expect("reading the Python component");
    let _ = std::fs::remove_file(&out);
    bytes
}

/// Waits (polling every 100 ms, up to `secs`) until `ok`; fails the test naming `what`.
pub fn wait_until(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
