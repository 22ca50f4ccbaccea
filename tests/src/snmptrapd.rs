//! An SNMP trap receiver on 127.0.0.1 (net-snmp's snmptrapd, installed by `scripts/test`)
//! that keeps each trap it logs as one line of `name = TYPE: value` varbinds, numeric OIDs.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Snmptrapd {
    child: Child,
    pub port: u16,
    traps: Arc<Mutex<Vec<String>>>,
}

impl Snmptrapd {
    /// Accepts v2c traps of `community`.
    pub fn start(dir: &Path, community: &str) -> Snmptrapd {
        let port = crate::influxd::free_port();
        let conf = dir.join("snmptrapd.conf");
        std::fs::write(
            &conf,
            format!("authCommunity log {community}\nformat2 TRAP %v\\n\n"),
        )
        .expect("writing snmptrapd.conf");
        let state = dir.join("snmp-state");
        std::fs::create_dir_all(&state).expect("a state dir for snmptrapd");
        let mut child = Command::new("/usr/sbin/snmptrapd")
            // In the foreground, logging to stdout, this config only, numeric OIDs, no MIBs.
            .args(["-f", "-Lo", "-C", "-On", "-M", "/dev/null", "-m", ""])
            .arg("-c")
            .arg(&conf)
            .arg(format!("udp:127.0.0.1:{port}"))
            .env("SNMP_PERSISTENT_DIR", &state)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting snmptrapd (apt-get install snmptrapd)");
        let traps = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let out = child.stdout.take().expect("piped stdout");
        let sink = traps.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if line.starts_with("NET-SNMP version") {
                    let _ = ready_tx.send(());
                } else if let Some(trap) = line.strip_prefix("TRAP ") {
                    sink.lock().unwrap().push(trap.to_owned());
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(15))
            .expect("snmptrapd started");
        Snmptrapd { child, port, traps }
    }

    /// Waits (up to 10 s) for `n` traps; all received so far.
    pub fn wait_for(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let traps = self.traps.lock().unwrap().clone();
            if traps.len() >= n || Instant::now() > deadline {
                return traps;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Snmptrapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
