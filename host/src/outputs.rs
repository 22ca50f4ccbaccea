//! Where tasks' outgoing requests go: a bounded queue drained by a few worker threads with a
//! blocking HTTP client. The queue is the backpressure: when receivers fall behind, writers
//! wait at `/write` rather than memory growing without bound.

use farad_runtime::exec::TopicEvent;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::time::Duration;

use base64::Engine;
use farad_runtime::exec::{HttpRequest, Io, Output, PostEndpoint, SideloadSource};
use farad_runtime::model::Point;

use crate::ingest::Ingest;
use crate::swap::Swap;

use crate::config::Config;

/// Requests waiting for a worker.
const QUEUE: usize = 4096;
const WORKERS: usize = 4;
/// For requests whose node sets no `.timeout()`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

enum Job {
    Http(HttpRequest),
    Other(Output),
}

pub struct Outputs {
    /// One queue per worker; requests to one URL always take the same queue, so they are sent
    /// in the order they were made (an alert's recovery never overtakes the alert).
    queues: Vec<SyncSender<Job>>,
    /// Loopback writes, delivered by their own thread: never inside the task that made them.
    loopback: SyncSender<(String, String, Vec<Point>)>,
    agent: ureq::Agent,
    endpoints: crate::swap::Swap<HashMap<String, PostEndpoint>>,
    pub stats: Arc<OutputStats>,
    pub sideloads: crate::sideload::Sideloads,
    /// Where alert nodes' events are collected.
    pub topics: crate::topics::Topics,
    /// Events whose handlers are held back for a while.
    pub silences: crate::silences::Silences,
    /// Events gathered by `aggregate` handlers.
    pub aggregates: crate::aggregate::Aggregates,
    /// The `[[influxdb]]` clusters influxDBOut nodes write to.
    pub influxdb: crate::influxdb::InfluxDbs,
    /// What handlers send through (also used by service tests).
    pub services: Services,
}

/// The services alert handlers send through, each replaced whole when its config changes.
#[derive(Clone)]
pub struct Services {
    /// Handler plugins: Slack, PagerDuty and the rest.
    pub plugins: Arc<crate::plugins::Plugins>,
    /// `[smtp]`
    pub mailer: Arc<Swap<crate::email::Mailer>>,
    /// `[[mqtt]]`
    pub mqtt: Arc<Swap<crate::mqtt::Brokers>>,
    /// `[snmptrap]`
    pub snmptrap: Arc<Swap<crate::snmptrap::Trapper>>,
    /// `[[kafka]]`
    pub kafka: Arc<Swap<crate::kafka::Clusters>>,
    /// The `log` handler's open files.
    pub files: Arc<crate::logfiles::LogFiles>,
}

/// Handler kinds the host serves itself that, like plugins, take the whole event.
pub const NATIVE_KINDS: [&str; 2] = ["snmptrap", "kafka"];

impl Services {
    /// Sends `event` through the handler of `kind` (a native one or a plugin).
    pub fn handle(
        &self,
        kind: &str,
        options: &serde_json::Map<String, serde_json::Value>,
        event: &TopicEvent,
    ) -> Result<(), String> {
        match kind {
            "snmptrap" => self.snmptrap.get().handle(options, event),
            "kafka" => self.kafka.get().handle(options, event),
            _ => self.plugins.handle(kind, options, event),
        }
    }

    /// Checks a handler's options for `kind`.
    pub fn check(
        &self,
        kind: &str,
        options: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), String> {
        match kind {
            "snmptrap" => crate::snmptrap::TrapOptions::parse(options).map(|_| ()),
            "kafka" => crate::kafka::KafkaOptions::parse(options).map(|_| ()),
            _ => self.plugins.check(kind, options),
        }
    }
}

#[derive(Default)]
pub struct OutputStats {
    pub sent: AtomicU64,
    pub failed: AtomicU64,
}

impl Outputs {
    /// Starts the workers; `[[httppost]]` endpoints come from `config`.
    pub fn start(
        config: &Config,
        ingest: Arc<Ingest>,
        topics: crate::topics::Topics,
        plugins: Arc<crate::plugins::Plugins>,
    ) -> Result<Arc<Outputs>, String> {
        let endpoints = crate::swap::Swap::new(post_endpoints(&config.httppost)?);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(DEFAULT_TIMEOUT))
            .user_agent(concat!("farad/", env!("CARGO_PKG_VERSION")))
            .tls_config(crate::tls::system())
            .build()
            .into();
        let stats = Arc::new(OutputStats::default());
        let services = Services {
            plugins,
            mailer: Arc::new(Swap::new(crate::email::Mailer::new(&config.smtp))),
            mqtt: Arc::new(Swap::new(crate::mqtt::Brokers::start(&config.mqtt)?)),
            snmptrap: Arc::new(Swap::new(crate::snmptrap::Trapper::new(&config.snmptrap))),
            kafka: Arc::new(Swap::new(crate::kafka::Clusters::new(&config.kafka))),
            files: Arc::default(),
        };
        let mut queues = Vec::with_capacity(WORKERS);
        for i in 0..WORKERS {
            let (tx, rx) = sync_channel(QUEUE / WORKERS);
            let (agent, stats, services) = (agent.clone(), stats.clone(), services.clone());
            std::thread::Builder::new()
                .name(format!("farad-out-{i}"))
                .spawn(move || {
                    crate::sched::latency_thread();
                    for job in rx {
                        match job {
                            Job::Http(req) => {
                                send(&agent, &req, &stats);
                            }
                            Job::Other(out) => deliver(&out, &stats, &services),
                        }
                    }
                })
                .map_err(|e| format!("starting output workers: {e}"))?;
            queues.push(tx);
        }
        let (loop_tx, loop_rx) = sync_channel::<(String, String, Vec<Point>)>(QUEUE);
        std::thread::Builder::new()
            .name("farad-loopback".into())
            .spawn(move || {
                for (db, rp, points) in loop_rx {
                    ingest.write_points(&db, &rp, points);
                }
            })
            .map_err(|e| format!("starting the loopback writer: {e}"))?;
        Ok(Arc::new(Outputs {
            sideloads: crate::sideload::Sideloads::new(agent.clone()),
            queues,
            loopback: loop_tx,
            agent,
            endpoints,
            stats,
            topics,
            aggregates: Default::default(),
            silences: Default::default(),
            influxdb: crate::influxdb::InfluxDbs::start(&config.influxdb)?,
            services,
        }))
    }
}

/// Sends one request; its status code, 0 when there was no response.
fn send(agent: &ureq::Agent, req: &HttpRequest, stats: &OutputStats) -> u16 {
    let mut r = agent.post(&req.url);
    for (k, v) in &req.headers {
        r = r.header(k, v);
    }
    if let Some((user, pass)) = &req.basic_auth {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        r = r.header("Authorization", format!("Basic {token}"));
    }
    if req.timeout_ns > 0 {
        r = r
            .config()
            .timeout_global(Some(Duration::from_nanos(req.timeout_ns as u64)))
            .build();
    }
    if req.skip_ssl_verification {
        // Its own connection: the agent's pool verifies.
        let tls = ureq::tls::TlsConfig::builder()
            .disable_verification(true)
            .build();
        r = r.config().tls_config(tls).build();
    }
    match r.send(&req.body[..]) {
        Ok(mut resp) => {
            let code = resp.status().as_u16();
            if code / 100 == 2 {
                stats.sent.fetch_add(1, Relaxed);
            } else {
                stats.failed.fetch_add(1, Relaxed);
                let detail = if req.capture_response {
                    resp.body_mut().read_to_string().unwrap_or_default()
                } else {
                    "unknown error, use .captureResponse() to capture the HTTP response".into()
                };
                tracing::error!(
                    url = req.url,
                    code,
                    error = detail,
                    "POST returned non 2xx status code"
                );
            }
            code
        }
        Err(e) => {
            stats.failed.fetch_add(1, Relaxed);
            tracing::error!(url = req.url, error = %e, "failed to POST data");
            0
        }
    }
}

/// Sends a non-HTTP output: a file append, a TCP write, a program run.
fn deliver(out: &Output, stats: &OutputStats, services: &Services) {
    use std::io::Write;
    let result: Result<(), String> = match out {
        Output::Plugin {
            kind,
            options,
            event,
        } => services
            .handle(kind, options, event)
            .map_err(|e| format!("{kind}: {e}")),
        Output::Email { to, subject, body } => services.mailer.get().send(to, subject, body),
        Output::Mqtt {
            broker,
            topic,
            qos,
            retained,
            payload,
        } => services
            .mqtt
            .get()
            .publish(broker, topic, *qos, *retained, payload),
        Output::File { path, mode, data } => services.files.append(path, *mode, data),
        Output::Tcp { addr, data } => {
            use std::net::ToSocketAddrs;
            addr.to_socket_addrs()
                .map_err(|e| e.to_string())
                .and_then(|mut a| a.next().ok_or_else(|| "no address".to_string()))
                .and_then(|a| {
                    std::net::TcpStream::connect_timeout(&a, DEFAULT_TIMEOUT)
                        .and_then(|mut c| c.write_all(data))
                        .map_err(|e| e.to_string())
                })
                .map_err(|e| format!("sending to {addr}: {e}"))
        }
        Output::Exec { argv, stdin } => std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                if let Some(mut input) = child.stdin.take() {
                    input.write_all(stdin)?;
                }
                child.wait_with_output()
            })
            .map_err(|e| format!("running {}: {e}", argv[0]))
            .and_then(|o| {
                if o.status.success() {
                    Ok(())
                } else {
                    Err(format!(
                        "{} exited with {}: {}",
                        argv[0],
                        o.status,
                        String::from_utf8_lossy(&o.stderr).trim()
                    ))
                }
            }),
    };
    match result {
        Ok(()) => {
            stats.sent.fetch_add(1, Relaxed);
        }
        Err(e) => {
            stats.failed.fetch_add(1, Relaxed);
            tracing::error!(error = e, "alert handler failed");
        }
    }
}

impl Outputs {
    /// The worker for a destination: the same one every time, so order is kept.
    fn queue_for(&self, key: &str) -> &SyncSender<Job> {
        use std::hash::BuildHasher;
        let i = foldhash::fast::FixedState::with_seed(7).hash_one(key) as usize % WORKERS;
        &self.queues[i]
    }
}

impl Io for Outputs {
    fn global_plugins(&self) -> Vec<(String, bool)> {
        self.services.plugins.globals()
    }

    fn handler_plugin(
        &self,
        property: &str,
        options: &serde_json::Map<String, serde_json::Value>,
    ) -> Option<Result<String, String>> {
        let kind = match property {
            "snmpTrap" => "snmptrap".to_owned(),
            "kafka" => "kafka".to_owned(),
            _ => self.services.plugins.kind_of_property(property)?,
        };
        Some(self.services.check(&kind, options).map(|()| kind))
    }

    fn silenced(&self, ev: &farad_runtime::exec::TopicEvent) -> bool {
        let facts = std::cell::OnceCell::new();
        let tag = |k: &str| event_tag(&facts, ev, k);
        self.silences
            .silenced(crate::server::now_ns(), &ev.topic, &ev.id, &tag)
    }

    fn event_state(&self, topic: &str, id: &str) -> Option<farad_runtime::exec::KnownEvent> {
        self.topics.known(topic, id)
    }

    fn publish(&self, event: farad_runtime::exec::TopicEvent) {
        use crate::handlers::Action;
        // `publish` handlers pass events on; each topic takes an event once (no loops).
        let mut visited: Vec<std::sync::Arc<str>> = Vec::new();
        let mut pending = vec![event];
        while let Some(ev) = pending.pop() {
            if visited.contains(&ev.topic) {
                continue;
            }
            visited.push(ev.topic.clone());
            let handlers = self.topics.collect(&ev);
            if handlers.is_empty() {
                continue;
            }
            let facts = std::cell::OnceCell::new();
            // Kept in the topic's state (above), sent nowhere.
            let tag = |k: &str| event_tag(&facts, &ev, k);
            if self
                .silences
                .silenced(crate::server::now_ns(), &ev.topic, &ev.id, &tag)
            {
                continue;
            }
            // Serialized once for all of the topic's handlers but `log`'s, which write it
            // straight into their file's pending lines.
            let mut body: Option<Vec<u8>> = None;
            for h in handlers {
                let spec = &h.spec;
                if let Some(m) = &h.matcher {
                    let (facts, tags) = facts.get_or_init(|| event_facts(&ev));
                    match m.matches(facts, tags) {
                        Ok(true) => {}
                        Ok(false) => continue,
                        Err(e) => {
                            tracing::warn!(
                                topic = &*ev.topic,
                                handler = spec.id,
                                error = e,
                                "handler not run"
                            );
                            continue;
                        }
                    }
                }
                if let Some((path, mode)) = &h.log_file {
                    self.log(path, *mode, &mut |out| {
                        ev.write_json(out);
                        out.push(b'\n');
                    });
                    continue;
                }
                let body = body.get_or_insert_with(|| {
                    let mut body = Vec::with_capacity(1024);
                    ev.write_json(&mut body);
                    body
                });
                match h.actions(&ev, body, &|name| self.endpoints.get().get(name).cloned()) {
                    Ok(Action::Send(out)) => self.send(out),
                    Ok(Action::Post(req)) => self.post(req),
                    Ok(Action::Mqtt {
                        broker,
                        topic,
                        qos,
                        retained,
                    }) => self.send(Output::Mqtt {
                        broker,
                        topic,
                        qos,
                        retained,
                        payload: ev.message.as_bytes().to_vec(),
                    }),
                    Ok(Action::Email { to, templates }) => self.send(Output::Email {
                        to: ev.email_recipients(&to, &templates),
                        subject: ev.message.to_string(),
                        body: ev.details.to_string(),
                    }),
                    Ok(Action::Plugin(kind)) => self.send(Output::Plugin {
                        kind,
                        options: spec.options.clone(),
                        event: Box::new(ev.clone()),
                    }),
                    Ok(Action::Aggregate(a)) => {
                        self.aggregates.add(&ev.topic, &spec.id, a, ev.clone())
                    }
                    Ok(Action::Publish(topics)) => {
                        pending.extend(topics.into_iter().map(|topic| TopicEvent {
                            topic: topic.into(),
                            ..ev.clone()
                        }))
                    }
                    Err(e) => tracing::warn!(
                        topic = &*ev.topic,
                        handler = spec.id,
                        error = e,
                        "topic handler failed"
                    ),
                }
            }
        }
    }

    fn send(&self, out: Output) {
        // Appends are cheap and buffered: done here, in order, with no hand-off.
        if let Output::File { path, mode, data } = &out {
            self.log(path, *mode, &mut |out| out.extend_from_slice(data));
            return;
        }
        let key = match &out {
            Output::File { path, .. } => path.clone(),
            Output::Tcp { addr, .. } => addr.clone(),
            Output::Exec { argv, .. } => argv[0].clone(),
            Output::Email { .. } => "smtp".into(),
            Output::Mqtt { broker, .. } => format!("mqtt:{broker}"),
            Output::Plugin { kind, .. } => format!("plugin:{kind}"),
        };
        if self.queue_for(&key).send(Job::Other(out)).is_err() {
            tracing::error!("output workers are gone; dropped");
        }
    }

    fn log(&self, path: &str, mode: u32, write: &mut dyn FnMut(&mut Vec<u8>)) {
        match self.services.files.append_with(path, mode, write) {
            Ok(()) => self.stats.sent.fetch_add(1, Relaxed),
            Err(e) => {
                tracing::error!(error = e, "alert handler failed");
                self.stats.failed.fetch_add(1, Relaxed)
            }
        };
    }

    fn post(&self, req: HttpRequest) {
        let queue = self.queue_for(&req.url);
        // Blocks while the queue is full: backpressure on the writer.
        if queue.send(Job::Http(req)).is_err() {
            tracing::error!("output workers are gone; request dropped");
        }
    }

    fn influxdb(&self, name: &str) -> Result<(), String> {
        self.influxdb.check(name)
    }

    fn write_influxdb(&self, write: farad_runtime::exec::InfluxWrite) {
        self.influxdb.write(write);
    }

    fn query_influxdb(&self, cluster: &str, query: &str) -> Result<serde_json::Value, String> {
        self.influxdb.query(cluster, query)
    }

    fn create_database(&self, cluster: &str, database: &str, retention_policy: &str) {
        self.influxdb
            .create_database(cluster, database, retention_policy);
    }

    fn post_and_wait(&self, req: HttpRequest) -> u16 {
        send(&self.agent, &req, &self.stats)
    }

    fn endpoint(&self, name: &str) -> Option<PostEndpoint> {
        self.endpoints.get().get(name).cloned()
    }

    fn sideload(&self, source: &str) -> Result<Arc<dyn SideloadSource>, String> {
        // A name without a scheme is an [[httppost]] endpoint's URL.
        let url = if source.contains("://") {
            source.to_owned()
        } else {
            self.endpoints
                .get()
                .get(source)
                .map(|e| e.url.clone())
                .ok_or_else(|| format!("Specified endpoint does not exist: {source}"))?
        };
        Ok(self.sideloads.source(&url)?)
    }

    fn write_points(&self, db: &str, rp: &str, points: Vec<Point>) {
        use std::sync::mpsc::TrySendError;
        let write = (db.to_owned(), rp.to_owned(), points);
        let result = match self.loopback.try_send(write) {
            Ok(()) => Ok(()),
            // The loopback thread itself (a loopback feeding another) must never wait on its
            // own queue; everyone else waits: backpressure.
            Err(TrySendError::Full(w))
                if std::thread::current().name() != Some("farad-loopback") =>
            {
                self.loopback
                    .send(w)
                    .map_err(|_| "the loopback writer is gone")
            }
            Err(TrySendError::Full(_)) => Err("loopback queue full"),
            Err(TrySendError::Disconnected(_)) => Err("the loopback writer is gone"),
        };
        if let Err(e) = result {
            tracing::error!(db, rp, error = e, "loopback points dropped");
        }
    }
}

impl Outputs {
    /// Makes what events did so far last: their topics' state stored, their log lines
    /// written. Before a write is acknowledged, and on every timer tick.
    pub fn sync(&self) {
        self.topics.sync();
        self.services.files.flush();
    }

    /// Whether [`Outputs::sync`] has nothing to do; told without waiting for a lock.
    pub fn synced(&self) -> bool {
        self.topics.synced() && self.services.files.idle()
    }

    /// Publishes the events of aggregate handlers whose interval is over (the timer calls it).
    pub fn flush_aggregates(&self) {
        use farad_runtime::exec::Io;
        for mut ev in self.aggregates.due(std::time::Instant::now()) {
            if let Some(k) = self.topics.known(&ev.topic, &ev.id) {
                ev.previous_level = k.level;
            }
            self.publish(ev);
        }
    }
}

type Facts = (farad_runtime::expr::EventFacts, Vec<(String, String)>);

/// Tag `k` of an event, its facts worked out once for all who ask.
fn event_tag(facts: &std::cell::OnceCell<Facts>, ev: &TopicEvent, k: &str) -> Option<String> {
    let (_, tags) = facts.get_or_init(|| event_facts(ev));
    tags.iter().find(|(t, _)| t == k).map(|(_, v)| v.clone())
}

/// What a handler's match expression sees of an event: its facts, and the tags of its data.
fn event_facts(ev: &TopicEvent) -> Facts {
    let rank = |l: &str| crate::topics::parse_level(l).unwrap_or(0) as i64;
    let (name, tags) = ev.row.name_and_tags();
    let facts = farad_runtime::expr::EventFacts {
        level: rank(ev.level),
        changed: ev.level != ev.previous_level,
        name,
        task_name: ev.task.to_string(),
        duration: ev.duration,
    };
    (facts, tags)
}

impl Outputs {
    /// Takes changed sections of the config (from the config API): what is sent from now on
    /// goes through the new settings.
    pub fn reconfigure(&self, section: &str, config: &Config) -> Result<(), String> {
        match section {
            "httppost" => self.endpoints.set(post_endpoints(&config.httppost)?),
            "smtp" => self
                .services
                .mailer
                .set(crate::email::Mailer::new(&config.smtp)),
            "mqtt" => self
                .services
                .mqtt
                .set(crate::mqtt::Brokers::start(&config.mqtt)?),
            "snmptrap" => self
                .services
                .snmptrap
                .set(crate::snmptrap::Trapper::new(&config.snmptrap)),
            "kafka" => {
                let old = self.services.kafka.get();
                self.services
                    .kafka
                    .set(crate::kafka::Clusters::new(&config.kafka));
                // What the old producers hold is delivered before they go.
                old.flush(Duration::from_secs(5));
            }
            "influxdb" => self.influxdb.reconfigure(&config.influxdb)?,
            _ => self.services.plugins.set_sections(&config.other),
        }
        Ok(())
    }
}

/// `[[httppost]]` endpoints by name.
fn post_endpoints(
    configs: &[crate::config::HttpPost],
) -> Result<HashMap<String, PostEndpoint>, String> {
    let mut endpoints = HashMap::new();
    for h in configs {
        let headers = h
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let auth = &h.basic_auth;
        let mut endpoint = PostEndpoint::new(h.url.clone())?
            .with_templates(h.row_template()?.as_deref(), h.alert_template()?.as_deref())?;
        endpoint.headers = headers;
        endpoint.basic_auth = (!auth.username.is_empty() && !auth.password.is_empty())
            .then(|| (auth.username.clone(), auth.password.clone()));
        endpoints.insert(h.endpoint.clone(), endpoint);
    }
    Ok(endpoints)
}
