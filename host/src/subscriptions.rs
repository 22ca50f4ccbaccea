//! InfluxDB subscriptions: each `[[influxdb]]` cluster copies the writes it takes to Farad,
//! as it does to Kapacitor, through a subscription named `kapacitor-<cluster or server id>`
//! on every database / retention policy (or those `subscriptions` lists, less
//! `excluded-subscriptions`), over HTTP to `/write` or UDP to a listener of its own.
//!
//! A thread per cluster links them at start (retrying while InfluxDB is not up) and again
//! every `subscriptions-sync-interval`: missing ones are created, ones of ours that point
//! elsewhere (another host or port after a restart or a crash) or that should no longer exist
//! are dropped, and Kapacitor's older names (`kapacitor`, the bare cluster id) are renamed.
//! Nothing here stops the server from starting: a failure is logged and tried again.

use std::collections::{BTreeMap, HashMap};
use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use farad_runtime::lineproto::Precision;
use farad_runtime::query::quote_ident;

use crate::config::InfluxDb;
use crate::ingest::Ingest;

/// Kapacitor's first subscription name, renamed when found.
const LEGACY_NAME: &str = "kapacitor";

/// What a cluster's subscriptions point at.
pub struct Endpoint {
    /// `kapacitor-hostname`, else the server's `hostname`.
    pub hostname: String,
    /// `http-port`, else the port the HTTP API listens on.
    pub http_port: u16,
    pub cluster_id: String,
    pub server_id: String,
    /// `~subscriber:<token>` when the API wants credentials: InfluxDB sends them with each
    /// write (HTTP destinations only).
    pub userinfo: Option<String>,
}

/// Runs InfluxDB queries for a cluster: the answer's JSON or the error.
pub type QueryFn = Arc<dyn Fn(&str, &str) -> Result<serde_json::Value, String> + Send + Sync>;

/// Asks the clusters' subscription threads to link now (`POST /kapacitor/v1/subscriptions`).
#[derive(Default)]
pub struct Linker {
    threads: Vec<(String, std::sync::mpsc::Sender<LinkNow>)>,
}

/// Where a thread answers a request to link now.
type LinkNow = std::sync::mpsc::Sender<Result<usize, String>>;

impl Linker {
    /// Links every cluster's subscriptions now; the first failure, named by its cluster.
    pub fn link_now(&self) -> Result<(), String> {
        let mut answers = Vec::new();
        for (cluster, thread) in &self.threads {
            let (tx, rx) = std::sync::mpsc::channel();
            thread
                .send(tx)
                .map_err(|_| format!("cluster {cluster}: the subscription thread has stopped"))?;
            answers.push((cluster, rx));
        }
        for (cluster, rx) in answers {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(format!("cluster {cluster}: {e}")),
                Err(_) => return Err(format!("cluster {cluster}: no answer")),
            }
        }
        Ok(())
    }
}

/// Starts a subscription thread for each enabled cluster that has subscriptions on.
pub fn start(
    configs: &[InfluxDb],
    endpoint: &Endpoint,
    query: QueryFn,
    ingest: Arc<Ingest>,
    stop: Arc<AtomicBool>,
) -> Result<Linker, String> {
    let mut linker = Linker::default();
    for c in configs
        .iter()
        .filter(|c| c.enabled && !c.disable_subscriptions)
    {
        let mut link = Link::new(c, endpoint, query.clone(), ingest.clone())?;
        let stop = stop.clone();
        let sync = match c.subscriptions_sync_interval.to_std() {
            d if d.is_zero() => Duration::from_secs(60),
            d => d,
        };
        let (wake, requests) = std::sync::mpsc::channel::<LinkNow>();
        linker.threads.push((c.name.clone(), wake));
        std::thread::Builder::new()
            .name(format!("farad-subs-{}", c.name))
            .spawn(move || {
                let mut retry = Duration::from_secs(1);
                let mut asked: Option<LinkNow> = None;
                while !stop.load(Relaxed) {
                    let result = link.sync();
                    let wait = match &result {
                        Ok(n) => {
                            tracing::debug!(cluster = link.cluster, subscriptions = n, "linked");
                            retry = Duration::from_secs(1);
                            sync
                        }
                        Err(e) => {
                            tracing::warn!(
                                cluster = link.cluster,
                                error = e,
                                "linking subscriptions failed; trying again"
                            );
                            retry = (retry * 2).min(sync);
                            retry
                        }
                    };
                    if let Some(a) = asked.take() {
                        let _ = a.send(result);
                    }
                    asked = wait_unless(&stop, &requests, wait);
                }
                link.close();
            })
            .map_err(|e| format!("starting the subscription thread: {e}"))?;
    }
    Ok(linker)
}

/// Waits `d`, or until stopped, or until asked to link now (the request is returned).
fn wait_unless(
    stop: &AtomicBool,
    requests: &std::sync::mpsc::Receiver<LinkNow>,
    d: Duration,
) -> Option<LinkNow> {
    let until = std::time::Instant::now() + d;
    while !stop.load(Relaxed) {
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return None;
        }
        match requests.recv_timeout(left.min(Duration::from_millis(200))) {
            Ok(r) => return Some(r),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                std::thread::sleep(left.min(Duration::from_millis(200)))
            }
        }
    }
    None
}

/// A subscription: on `db`.`rp`, by name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct SubKey {
    db: String,
    rp: String,
    name: String,
}

/// One cluster's subscriptions as this server keeps them.
struct Link {
    cluster: String,
    name: String,
    protocol: String,
    hostname: String,
    http_port: u16,
    userinfo: Option<String>,
    path: String,
    udp_bind: String,
    cluster_id: String,
    wanted: BTreeMap<String, Vec<String>>,
    excluded: BTreeMap<String, Vec<String>>,
    query: QueryFn,
    ingest: Arc<Ingest>,
    /// UDP listeners, per subscribed db/rp.
    udp: HashMap<(String, String), UdpListener>,
}

impl Link {
    fn new(
        c: &InfluxDb,
        endpoint: &Endpoint,
        query: QueryFn,
        ingest: Arc<Ingest>,
    ) -> Result<Link, String> {
        let id = match c.subscription_mode.as_str() {
            "" | "cluster" => &endpoint.cluster_id,
            "server" => &endpoint.server_id,
            other => {
                return Err(format!(
                    "[[influxdb]] {:?}: invalid subscription-mode {other:?}: cluster or server",
                    c.name
                ));
            }
        };
        let protocol = match c.subscription_protocol.as_str() {
            "" => "http".to_owned(),
            p @ ("http" | "https" | "udp") => p.to_owned(),
            other => {
                return Err(format!(
                    "[[influxdb]] {:?}: invalid subscription-protocol {other:?}: http, https or udp",
                    c.name
                ));
            }
        };
        Ok(Link {
            cluster: c.name.clone(),
            name: format!("kapacitor-{id}"),
            protocol,
            hostname: if c.kapacitor_hostname.is_empty() {
                endpoint.hostname.clone()
            } else {
                c.kapacitor_hostname.clone()
            },
            http_port: if c.http_port == 0 {
                endpoint.http_port
            } else {
                c.http_port
            },
            userinfo: endpoint.userinfo.clone(),
            path: c.subscription_path.clone(),
            udp_bind: c.udp_bind.clone(),
            cluster_id: endpoint.cluster_id.clone(),
            wanted: c.subscriptions.clone(),
            excluded: c.excluded_subscriptions.clone(),
            query,
            ingest,
            udp: HashMap::new(),
        })
    }

    fn run(&self, q: &str) -> Result<serde_json::Value, String> {
        let json = (self.query)(&self.cluster, q)?;
        for r in json["results"].as_array().into_iter().flatten() {
            if let Some(e) = r["error"].as_str() {
                return Err(e.to_owned());
            }
        }
        Ok(json)
    }

    fn should_exist(&self, db: &str, rp: &str) -> bool {
        let listed = |m: &BTreeMap<String, Vec<String>>| {
            m.get(db).is_some_and(|rps| rps.iter().any(|r| r == rp))
        };
        (self.wanted.is_empty() || listed(&self.wanted)) && !listed(&self.excluded)
    }

    /// One pass: makes InfluxDB's subscriptions what they should be; returns how many are
    /// ours.
    fn sync(&mut self) -> Result<usize, String> {
        // Every db/rp there is.
        let mut all = Vec::new();
        let dbs = self.run("SHOW DATABASES")?;
        for db in column(&dbs, 0) {
            let rps = self.run(&format!("SHOW RETENTION POLICIES ON {}", quote_ident(&db)))?;
            for rp in column(&rps, 0) {
                all.push((db.clone(), rp));
            }
        }
        // The subscriptions there are.
        let mut ours: HashMap<(String, String), Vec<String>> = HashMap::new();
        let subs = self.run("SHOW SUBSCRIPTIONS")?;
        for series in subs["results"][0]["series"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let db = series["name"].as_str().unwrap_or("").to_owned();
            let cols: Vec<&str> = series["columns"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| c.as_str().unwrap_or(""))
                .collect();
            let at = |name: &str| cols.iter().position(|c| *c == name);
            for row in series["values"].as_array().into_iter().flatten() {
                let cell = |name: &str| at(name).map(|i| &row[i]);
                let text =
                    |name: &str| cell(name).and_then(|v| v.as_str()).unwrap_or("").to_owned();
                let key = SubKey {
                    db: db.clone(),
                    rp: text("retention_policy"),
                    name: text("name"),
                };
                let mode = text("mode");
                let dests: Vec<String> = cell("destinations")
                    .and_then(|v| v.as_array())
                    .into_iter()
                    .flatten()
                    .filter_map(|d| d.as_str().map(str::to_owned))
                    .collect();
                if key.name == LEGACY_NAME || key.name == self.cluster_id {
                    // Kapacitor's older names: the same subscription under ours.
                    self.drop_sub(&key)?;
                    let renamed = SubKey {
                        name: self.name.clone(),
                        ..key
                    };
                    self.create(&renamed, &mode, &dests)?;
                    ours.insert((renamed.db, renamed.rp), dests);
                } else if key.name == self.name {
                    if self.changed_or_invalid(&dests) {
                        // Left by an earlier run elsewhere (another host or port): made anew.
                        self.drop_sub(&key)?;
                        self.close_udp(&key.db, &key.rp);
                    } else {
                        ours.insert((key.db, key.rp), dests);
                    }
                }
            }
        }
        // Ours that should not be, go; UDP ones that should, listen again (after a restart).
        let existing: Vec<((String, String), Vec<String>)> = ours.clone().into_iter().collect();
        for ((db, rp), dests) in existing {
            if !self.should_exist(&db, &rp) {
                self.drop_sub(&SubKey {
                    db: db.clone(),
                    rp: rp.clone(),
                    name: self.name.clone(),
                })?;
                self.close_udp(&db, &rp);
                ours.remove(&(db, rp));
            } else if self.protocol == "udp"
                && !self.udp.contains_key(&(db.clone(), rp.clone()))
                && let Some(port) = dests
                    .first()
                    .and_then(|d| Destination::parse(d))
                    .map(|d| d.port)
            {
                match UdpListener::start(&self.udp_bind, port, &db, &rp, self.ingest.clone()) {
                    Ok(l) => {
                        self.udp.insert((db, rp), l);
                    }
                    Err(e) => tracing::warn!(db, rp, error = e, "subscription listener"),
                }
            }
        }
        // Missing ones are made.
        for (db, rp) in all {
            if !self.should_exist(&db, &rp) || ours.contains_key(&(db.clone(), rp.clone())) {
                continue;
            }
            let dest = match self.protocol.as_str() {
                "udp" => {
                    let l = UdpListener::start(&self.udp_bind, 0, &db, &rp, self.ingest.clone())?;
                    let d = format!("udp://{}:{}", self.hostname, l.port);
                    self.udp.insert((db.clone(), rp.clone()), l);
                    d
                }
                scheme => format!(
                    "{scheme}://{}{}:{}{}",
                    self.userinfo
                        .as_ref()
                        .map(|u| format!("{u}@"))
                        .unwrap_or_default(),
                    self.hostname,
                    self.http_port,
                    self.path
                ),
            };
            let key = SubKey {
                db: db.clone(),
                rp: rp.clone(),
                name: self.name.clone(),
            };
            self.create(&key, "ANY", std::slice::from_ref(&dest))?;
            ours.insert((db, rp), vec![dest]);
        }
        // Listeners of databases gone.
        let gone: Vec<(String, String)> = self
            .udp
            .keys()
            .filter(|k| !ours.contains_key(*k))
            .cloned()
            .collect();
        for (db, rp) in gone {
            self.close_udp(&db, &rp);
        }
        Ok(ours.len())
    }

    fn changed_or_invalid(&self, dests: &[String]) -> bool {
        let Some(d) = dests.first().and_then(|d| Destination::parse(d)) else {
            return true;
        };
        d.scheme != self.protocol
            || d.host != self.hostname
            || (d.scheme != "udp" && (d.port != self.http_port || d.userinfo != self.userinfo))
    }

    fn create(&self, key: &SubKey, mode: &str, dests: &[String]) -> Result<(), String> {
        let mode = if mode.is_empty() { "ANY" } else { mode };
        let list: Vec<String> = dests
            .iter()
            .map(|d| format!("'{}'", d.replace('\\', "\\\\").replace('\'', "\\'")))
            .collect();
        let q = format!(
            "CREATE SUBSCRIPTION {} ON {}.{} DESTINATIONS {} {}",
            quote_ident(&key.name),
            quote_ident(&key.db),
            quote_ident(&key.rp),
            mode.to_ascii_uppercase(),
            list.join(", ")
        );
        match self.run(&q) {
            // Made meanwhile (another server of the cluster): theirs points here too.
            Err(e) if e.contains("already exists") => Ok(()),
            Err(e) => Err(format!(
                "creating subscription {} for db {:?} and rp {:?}: {e}",
                key.name, key.db, key.rp
            )),
            Ok(_) => {
                tracing::info!(cluster = self.cluster, db = key.db, rp = key.rp, destinations = ?dests, "subscription created");
                Ok(())
            }
        }
    }

    fn drop_sub(&self, key: &SubKey) -> Result<(), String> {
        let q = format!(
            "DROP SUBSCRIPTION {} ON {}.{}",
            quote_ident(&key.name),
            quote_ident(&key.db),
            quote_ident(&key.rp)
        );
        match self.run(&q) {
            Err(e) if e.contains("not found") => Ok(()),
            Err(e) => Err(format!(
                "dropping subscription {} for db {:?} and rp {:?}: {e}",
                key.name, key.db, key.rp
            )),
            Ok(_) => {
                tracing::info!(
                    cluster = self.cluster,
                    db = key.db,
                    rp = key.rp,
                    name = key.name,
                    "subscription dropped"
                );
                Ok(())
            }
        }
    }

    fn close_udp(&mut self, db: &str, rp: &str) {
        if let Some(l) = self.udp.remove(&(db.to_owned(), rp.to_owned())) {
            l.stop.store(true, Relaxed);
        }
    }

    fn close(&mut self) {
        for (_, l) in self.udp.drain() {
            l.stop.store(true, Relaxed);
        }
    }
}

/// The first column of a single-series answer (`SHOW DATABASES`, `SHOW RETENTION POLICIES`).
fn column(json: &serde_json::Value, i: usize) -> Vec<String> {
    json["results"][0]["series"][0]["values"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|row| row[i].as_str().map(str::to_owned))
        .collect()
}

/// A subscription destination: `scheme://[user[:password]@]host:port[/path]`.
#[derive(Debug, PartialEq)]
struct Destination {
    scheme: String,
    userinfo: Option<String>,
    host: String,
    port: u16,
}

impl Destination {
    fn parse(url: &str) -> Option<Destination> {
        let (scheme, rest) = url.split_once("://")?;
        let authority = rest.split('/').next()?;
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, hp)) => (Some(u.to_owned()), hp),
            None => (None, authority),
        };
        let (host, port) = hostport.rsplit_once(':')?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        Some(Destination {
            scheme: scheme.to_ascii_lowercase(),
            userinfo,
            host: host.to_owned(),
            port: port.parse().ok()?,
        })
    }
}

/// A UDP subscription's listener: line protocol per datagram into its db/rp.
struct UdpListener {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl UdpListener {
    fn start(
        bind: &str,
        port: u16,
        db: &str,
        rp: &str,
        ingest: Arc<Ingest>,
    ) -> Result<UdpListener, String> {
        let host = match bind.rsplit_once(':') {
            Some((h, _)) => h,
            None => bind,
        };
        let host = if host.is_empty() { "0.0.0.0" } else { host };
        let socket = UdpSocket::bind((host, port))
            .map_err(|e| format!("binding a subscription listener on {host}:{port}: {e}"))?;
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .map_err(|e| e.to_string())?;
        let port = socket.local_addr().map_err(|e| e.to_string())?.port();
        let stop = Arc::new(AtomicBool::new(false));
        tracing::info!(port, db, rp, "subscription listener started");
        let (db, rp, flag) = (db.to_owned(), rp.to_owned(), stop.clone());
        std::thread::Builder::new()
            .name(format!("farad-sub-udp-{port}"))
            .spawn(move || {
                let mut buf = vec![0u8; 65_536];
                while !flag.load(Relaxed) {
                    let Ok(n) = socket.recv(&mut buf) else {
                        continue;
                    };
                    let out = ingest.write(
                        &db,
                        &rp,
                        Precision::Nanoseconds,
                        &buf[..n],
                        crate::server::now_ns(),
                    );
                    if let Some(msg) = out.message() {
                        tracing::debug!(db, rp, error = %msg, "subscription packet had bad lines");
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        Ok(UdpListener { port, stop })
    }
}

#[cfg(test)]
mod tests {
    use super::Destination;

    #[test]
    fn destinations_parse_as_kapacitor_checks_them() {
        assert_eq!(
            Destination::parse("http://farad.local:9092"),
            Some(Destination {
                scheme: "http".into(),
                userinfo: None,
                host: "farad.local".into(),
                port: 9092
            })
        );
        let d = Destination::parse("https://user:tok@[::1]:9092/path").unwrap();
        assert_eq!(d.userinfo.as_deref(), Some("user:tok"));
        assert_eq!((d.host.as_str(), d.port), ("::1", 9092));
        assert_eq!(Destination::parse("udp://h").map(|d| d.port), None);
    }
}
