//! A real InfluxDB 1.x (`influxd`, Debian's `influxdb` package) on 127.0.0.1 with its own data
//! directory, for the tests of writes to and queries of InfluxDB. `scripts/test` installs it.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Influxd {
    child: Option<Child>,
    config: PathBuf,
    pub http: SocketAddr,
    agent: ureq::Agent,
    /// With HTTPS: the CA file that signed its certificate.
    pub ca: Option<PathBuf>,
}

/// A port on 127.0.0.1 nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Waits (up to 15 s) until something accepts connections on 127.0.0.1:`port`.
pub(crate) fn wait_for_port(port: u16, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "{what} did not start");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

impl Influxd {
    /// Starts `influxd` with everything under `dir`, bound to loopback only.
    pub fn start(dir: &Path) -> Influxd {
        Self::start_with(dir, false)
    }

    /// As [`Influxd::start`], serving HTTPS with a certificate for 127.0.0.1 signed by a CA
    /// made for it (`openssl`); the CA's file is [`Influxd::ca`].
    pub fn start_tls(dir: &Path) -> Influxd {
        Self::start_with(dir, true)
    }

    fn start_with(dir: &Path, tls: bool) -> Influxd {
        let (rpc, http) = (free_port(), free_port());
        let d = dir.display();
        let config = dir.join("influxdb.conf");
        std::fs::create_dir_all(dir).expect("influxd dir");
        let ca = tls.then(|| crate::certificates(dir).ca);
        let https = if tls {
            format!(
                "  https-enabled = true\n  https-certificate = \"{d}/server.pem\"\n  \
                 https-private-key = \"{d}/server.key\"\n"
            )
        } else {
            String::new()
        };
        std::fs::write(
            &config,
            format!(
                "reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc}\"\n\
                 [meta]\n  dir = \"{d}/meta\"\n\
                 [data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n\
                 [http]\n  bind-address = \"127.0.0.1:{http}\"\n  log-enabled = false\n{https}\
                 [monitor]\n  store-enabled = false\n\
                 [subscriber]\n  enabled = true\n"
            ),
        )
        .expect("writing influxd config");
        let mut me = Influxd {
            child: None,
            config,
            http: SocketAddr::from(([127, 0, 0, 1], http)),
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .tls_config(
                    ureq::tls::TlsConfig::builder()
                        .disable_verification(tls)
                        .build(),
                )
                .build()
                .new_agent(),
            ca,
        };
        me.resume();
        me
    }

    pub fn url(&self) -> String {
        let scheme = if self.ca.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.http)
    }

    /// Stops the server (SIGKILL: as abrupt as an outage).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same data and port; waits until it answers.
    pub fn resume(&mut self) {
        let child = Command::new(which_influxd())
            .args(["run", "-config"])
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting influxd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.ping() {
            assert!(Instant::now() < deadline, "influxd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn ping(&self) -> bool {
        self.agent
            .get(format!("{}/ping", self.url()))
            .call()
            .is_ok_and(|r| r.status().as_u16() == 204)
    }

    /// Runs an InfluxQL query; the JSON answer.
    pub fn query(&self, q: &str) -> serde_json::Value {
        let mut r = self
            .agent
            .post(format!("{}/query", self.url()))
            .query("q", q)
            .send(&[][..])
            .expect("querying influxd");
        let body = r.body_mut().read_to_string().expect("query body");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
    }

    /// The single number a `SELECT count(...)` returns (0 when there is no series).
    pub fn count(&self, q: &str) -> i64 {
        self.query(q)["results"][0]["series"][0]["values"][0][1]
            .as_i64()
            .unwrap_or(0)
    }
}

impl Drop for Influxd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn which_influxd() -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin", "/usr/sbin"] {
        let p = Path::new(dir).join("influxd");
        if p.exists() {
            return p;
        }
    }
    panic!(
        "influxd not found: install InfluxDB 1.x (`apt-get install influxdb`; scripts/test does)"
    )
}
