//! A Kerberos realm on 127.0.0.1: MIT's KDC (`krb5kdc`, installed by `scripts/test`) with its
//! database, stash and log in a test's directory, and a `krb5.conf` that clients are pointed
//! at (`KRB5_CONFIG`); principals are added and keytabs exported with `kadmin.local`.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const REALM: &str = "FARAD.TEST";

pub struct Kdc {
    child: Child,
    dir: PathBuf,
    pub port: u16,
}

impl Kdc {
    pub fn start(dir: &Path) -> Kdc {
        let dir = dir.join("kdc");
        std::fs::create_dir_all(&dir).expect("a dir for the KDC");
        let port = crate::influxd::free_port();
        // No DNS, no reverse lookups: `kafka@127.0.0.1` is `kafka/127.0.0.1@FARAD.TEST`.
        let krb5 = format!(
            "[libdefaults]\n default_realm = {REALM}\n dns_lookup_kdc = false\n \
             dns_lookup_realm = false\n dns_canonicalize_hostname = false\n rdns = false\n \
             udp_preference_limit = 1\n\
             [realms]\n {REALM} = {{\n  kdc = 127.0.0.1:{port}\n }}\n\
             [domain_realm]\n 127.0.0.1 = {REALM}\n"
        );
        let d = dir.display();
        let kdc = format!(
            "[kdcdefaults]\n kdc_ports = {port}\n kdc_tcp_ports = {port}\n\
             [realms]\n {REALM} = {{\n  database_name = {d}/principal\n  \
             key_stash_file = {d}/stash\n  acl_file = {d}/kadm5.acl\n  max_life = 10h\n }}\n\
             [logging]\n kdc = FILE:{d}/kdc.log\n default = FILE:{d}/kdc.log\n"
        );
        std::fs::write(dir.join("krb5.conf"), krb5).expect("writing krb5.conf");
        std::fs::write(dir.join("kdc.conf"), kdc).expect("writing kdc.conf");
        std::fs::write(dir.join("kadm5.acl"), "").expect("writing kadm5.acl");
        let mut kdc = Kdc {
            child: Command::new("true").spawn().expect("true"),
            dir,
            port,
        };
        kdc.run(
            "/usr/sbin/kdb5_util",
            &["-r", REALM, "create", "-s", "-P", "master"],
        );
        kdc.child = kdc
            .command("/usr/sbin/krb5kdc")
            .args(["-n", "-r", REALM])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting krb5kdc (apt-get install krb5-kdc)");
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "krb5kdc did not listen: {}",
                kdc.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        kdc
    }

    /// The `krb5.conf` that finds this KDC.
    pub fn krb5_conf(&self) -> PathBuf {
        self.dir.join("krb5.conf")
    }

    /// Adds `name` with `password`.
    pub fn add_user(&self, name: &str, password: &str) {
        self.kadmin(&format!("addprinc -pw {password} {name}"));
    }

    /// Adds `name` with a random key and exports it to `keytab`.
    pub fn add_keytab(&self, name: &str, keytab: &Path) {
        self.kadmin(&format!("addprinc -randkey {name}"));
        self.kadmin(&format!("ktadd -k {} {name}", keytab.display()));
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("kdc.log")).unwrap_or_default()
    }

    fn kadmin(&self, query: &str) {
        self.run("/usr/sbin/kadmin.local", &["-r", REALM, "-q", query]);
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("KRB5_CONFIG", self.krb5_conf())
            .env("KRB5_KDC_PROFILE", self.dir.join("kdc.conf"));
        c
    }

    fn run(&self, program: &str, args: &[&str]) {
        let out = self
            .command(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| {
                panic!("{program} (apt-get install krb5-kdc krb5-admin-server): {e}")
            });
        assert!(
            out.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Kdc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
