//! What a task asks of the outside world. The runtime performs no I/O: nodes that talk to
//! other systems (`httpPost`, later alert handlers) hand requests to an [`Io`] the host
//! provides, which queues them for its own workers.

use crate::template::Shared;
use std::sync::Arc;

/// An HTTP request a node wants sent.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub basic_auth: Option<(String, String)>,
    pub body: Vec<u8>,
    /// Zero: no limit beyond the host's own.
    pub timeout_ns: i64,
    /// Log the response body of a failed request.
    pub capture_response: bool,
    /// Accept any server certificate (a `post` topic handler's `skip-ssl-verification`).
    pub skip_ssl_verification: bool,
}

/// An alert event as a topic keeps it: the event's latest state, by topic and event id.
/// Its strings are shared: an event is copied into topic state and to every handler.
#[derive(Clone, Debug, PartialEq)]
pub struct TopicEvent {
    pub topic: Arc<str>,
    pub id: Arc<str>,
    /// `OK`, `INFO`, `WARNING` or `CRITICAL`.
    pub level: &'static str,
    pub message: Arc<str>,
    pub details: Arc<str>,
    /// Nanoseconds since the epoch.
    pub time: i64,
    /// Nanoseconds since the event left OK.
    pub duration: i64,
    pub previous_level: &'static str,
    pub recoverable: bool,
    /// The task that raised it (handlers' `taskName()`); empty for aggregated events.
    pub task: Arc<str>,
    /// The event's data.
    pub row: EventData,
    /// The alert's group (`GroupKey::NIL` without `groupBy`, and for aggregated events):
    /// handler templates' `.Group`.
    pub group: crate::model::GroupKey,
}

/// An alert event's data: InfluxQL result series (`{"name", "tags", "columns", "values"}`).
/// A point stays a point until a handler needs its JSON: most events only update a topic.
#[derive(Clone, Debug, PartialEq)]
pub enum EventData {
    /// One point: a series of one row.
    Point(crate::model::BatchPoint),
    /// Series already as JSON (batches, aggregates): one object, or an array of them.
    Json(serde_json::Value),
}

impl EventData {
    /// The series, as a handler sends them under `data.series`.
    pub fn series(&self) -> Vec<serde_json::Value> {
        match self {
            EventData::Point(p) => vec![super::nodes::http_out::series_json(
                p.series.measurement,
                &p.series.tags,
                std::slice::from_ref(p),
            )],
            EventData::Json(serde_json::Value::Array(rows)) => rows.clone(),
            EventData::Json(serde_json::Value::Null) => Vec::new(),
            EventData::Json(row) => vec![row.clone()],
        }
    }

    /// Writes [`EventData::series`] as Kapacitor writes them (Go's `models.Row`: `name`,
    /// `tags` when there are some, `columns`, `values`), without building a JSON value for a
    /// point: a point's series is the hot path of every handler that sends the event's JSON.
    pub fn write_series(&self, out: &mut Vec<u8>) {
        use crate::gojson;
        let EventData::Point(p) = self else {
            out.push(b'[');
            for (i, row) in self.series().iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_row(out, row);
            }
            out.push(b']');
            return;
        };
        // As `series_json` of one point whose series tags are all the series' tags: the
        // columns are its fields, sorted.
        let mut columns: smallvec::SmallVec<[crate::model::Name; 8]> = smallvec::SmallVec::new();
        for (k, _) in &p.fields {
            if !columns.contains(k) {
                columns.push(*k);
            }
        }
        columns.sort();
        out.extend_from_slice(br#"[{"name":"#);
        gojson::write_str(out, p.series.measurement.as_str());
        // A series' tags are sorted by name and unique (`Series::new`).
        let tags = &p.series.tags;
        if !tags.is_empty() {
            out.extend_from_slice(br#","tags":{"#);
            for (i, (k, v)) in tags.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                gojson::write_str(out, k.as_str());
                out.push(b':');
                gojson::write_str(out, v);
            }
            out.push(b'}');
        }
        out.extend_from_slice(br#","columns":["time""#);
        for c in &columns {
            out.push(b',');
            gojson::write_str(out, c.as_str());
        }
        out.extend_from_slice(br#"],"values":[[""#);
        crate::time::write_rfc3339_nanos(out, p.time);
        out.push(b'"');
        for c in &columns {
            out.push(b',');
            let v = p.fields.iter().find(|(k, _)| k == c).map(|(_, v)| v);
            write_field(out, v);
        }
        out.extend_from_slice(b"]]}]");
    }

    /// The measurement and tags of the (first) series.
    pub fn name_and_tags(&self) -> (String, Vec<(String, String)>) {
        match self {
            EventData::Point(p) => (
                p.series.measurement.to_string(),
                p.series
                    .tags
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            EventData::Json(v) => {
                let row = match v {
                    serde_json::Value::Array(rows) => {
                        rows.first().unwrap_or(&serde_json::Value::Null)
                    }
                    row => row,
                };
                let tags = row["tags"]
                    .as_object()
                    .map(|t| {
                        t.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                            .collect()
                    })
                    .unwrap_or_default();
                (row["name"].as_str().unwrap_or_default().to_owned(), tags)
            }
        }
    }
}

/// One series row in `models.Row`'s field order; keys it does not have follow, sorted.
fn write_row(out: &mut Vec<u8>, row: &serde_json::Value) {
    let serde_json::Value::Object(m) = row else {
        crate::gojson::write_value(out, row);
        return;
    };
    const ORDER: [&str; 4] = ["name", "tags", "columns", "values"];
    let keys = ORDER
        .iter()
        .copied()
        .filter(|k| m.contains_key(*k))
        .chain(m.keys().map(String::as_str).filter(|k| !ORDER.contains(k)));
    out.push(b'{');
    for (i, k) in keys.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        crate::gojson::write_str(out, k);
        out.push(b':');
        crate::gojson::write_value(out, &m[k]);
    }
    out.push(b'}');
}

/// A point's field as Go writes the value (`null` where the point lacks the column).
fn write_field(out: &mut Vec<u8>, v: Option<&crate::model::Value>) {
    use crate::gojson;
    use crate::model::Value;
    match v {
        Some(Value::Float(f)) => gojson::write_f64(out, *f),
        Some(Value::Int(i)) => gojson::write_int(out, *i),
        Some(Value::UInt(u)) => gojson::write_uint(out, *u),
        Some(Value::Str(s)) => gojson::write_str(out, s),
        Some(Value::Bool(true)) => out.extend_from_slice(b"true"),
        Some(Value::Bool(false)) => out.extend_from_slice(b"false"),
        None => out.extend_from_slice(b"null"),
    }
}

impl TopicEvent {
    /// Kapacitor's event JSON, as its handlers send it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": &*self.id,
            "message": &*self.message,
            "details": &*self.details,
            "time": crate::time::format_rfc3339_nanos(self.time),
            "duration": self.duration,
            "level": self.level,
            "data": {"series": self.row.series()},
            "previousLevel": self.previous_level,
            "recoverable": self.recoverable,
        })
    }

    /// [`TopicEvent::to_json`] written out as Kapacitor writes it (Go's `alert.Data`, its
    /// fields in declaration order, Go's escaping), without building the JSON value: what
    /// the `log`, `tcp`, `exec` and `post` handlers send.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        use crate::gojson::{write_int, write_str};
        out.extend_from_slice(br#"{"id":"#);
        write_str(out, &self.id);
        out.extend_from_slice(br#","message":"#);
        write_str(out, &self.message);
        out.extend_from_slice(br#","details":"#);
        write_str(out, &self.details);
        out.extend_from_slice(br#","time":""#);
        crate::time::write_rfc3339_nanos(out, self.time);
        out.extend_from_slice(br#"","duration":"#);
        write_int(out, self.duration);
        out.extend_from_slice(br#","level":"#);
        write_str(out, self.level);
        out.extend_from_slice(br#","data":{"series":"#);
        self.row.write_series(out);
        out.extend_from_slice(br#"},"previousLevel":"#);
        write_str(out, self.previous_level);
        out.extend_from_slice(br#","recoverable":"#);
        out.extend_from_slice(if self.recoverable { b"true" } else { b"false" });
        out.push(b'}');
    }

    /// What both kinds of handler template data hold: `.ID`, `.Message`, `.Details`,
    /// `.Level`, `.Time`, `.Duration`.
    fn common_data(&self) -> std::collections::BTreeMap<String, gotmpl::Value> {
        use gotmpl::Value as T;
        let mut m = std::collections::BTreeMap::new();
        m.insert("ID".to_owned(), T::from(&*self.id));
        m.insert("Message".to_owned(), T::from(&*self.message));
        m.insert("Details".to_owned(), T::from(&*self.details));
        m.insert("Level".to_owned(), T::from(self.level));
        m.insert(
            "Time".to_owned(),
            T::from(crate::time::format_go_time(self.time)),
        );
        m.insert(
            "Duration".to_owned(),
            T::from(crate::duration::format_go_duration(self.duration)),
        );
        m
    }

    /// The event as Kapacitor's `alert.Data`, for handlers whose templates run over it
    /// (Kafka's): `.ID`, `.Message`, `.Details`, `.Time`, `.Duration`, `.Level`,
    /// `.Data.Series`, `.PreviousLevel`, `.Recoverable`.
    pub fn alert_data(&self) -> gotmpl::Value {
        use gotmpl::Value as T;
        let mut m = self.common_data();
        m.insert(
            "Data".to_owned(),
            json_value(&serde_json::json!({"Series": self.row.series()})),
        );
        m.insert("PreviousLevel".to_owned(), T::from(self.previous_level));
        m.insert("Recoverable".to_owned(), T::Bool(self.recoverable));
        T::from(m)
    }

    /// The data a handler's templates see, as Kapacitor gives its handlers: `.ID`, `.Message`,
    /// `.Details`, `.Level`, `.Time`, `.Duration`, `.Name`, `.TaskName`, `.Group`, `.Tags`,
    /// `.Fields`.
    pub fn template_data(&self) -> gotmpl::Value {
        use gotmpl::Value as T;
        let (name, tags) = self.row.name_and_tags();
        let mut fields = std::collections::BTreeMap::new();
        let series = self.row.series();
        if let Some(row) = series.first()
            && let (Some(cols), Some(vals)) =
                (row["columns"].as_array(), row["values"][0].as_array())
        {
            for (c, v) in cols.iter().zip(vals).skip(1) {
                if let Some(c) = c.as_str() {
                    fields.insert(c.to_owned(), json_value(v));
                }
            }
        }
        let mut m = self.common_data();
        m.insert("Name".to_owned(), T::from(name));
        m.insert("TaskName".to_owned(), T::from(&*self.task));
        // Handlers see the raw group id, empty without `groupBy` (not the `nil` of the node's
        // own templates).
        let group = if self.group.is_nil() {
            String::new()
        } else {
            self.group.id()
        };
        m.insert("Group".to_owned(), T::from(group));
        m.insert(
            "Tags".to_owned(),
            T::from(
                tags.into_iter()
                    .map(|(k, v)| (k, T::from(v)))
                    .collect::<std::collections::BTreeMap<String, T>>(),
            ),
        );
        m.insert("Fields".to_owned(), T::from(fields));
        T::from(m)
    }

    /// An email handler's recipients: `to`, then what each of its `toTemplates` makes of the
    /// event's data (Kapacitor's: an empty result adds no one, a failing template is logged).
    pub fn email_recipients(&self, to: &[String], templates: &[gotmpl::Template]) -> Vec<String> {
        let mut out = to.to_vec();
        if templates.is_empty() {
            return out;
        }
        let data = self.template_data();
        for t in templates {
            match t.execute_to_string(&data) {
                Ok(s) if !s.is_empty() => out.push(s),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(id = &*self.id, error = %e, "email address template failed")
                }
            }
        }
        out
    }
}

/// Compiles an email handler's `toTemplates`.
pub fn email_templates(srcs: &[String]) -> Result<Vec<gotmpl::Template>, String> {
    srcs.iter()
        .map(|s| {
            crate::template::text("email address", s)
                .map_err(|e| format!("bad template in email address template {s:?}: {e}"))
        })
        .collect()
}

/// A JSON value of an event's data as templates see it.
fn json_value(v: &serde_json::Value) -> gotmpl::Value {
    use gotmpl::Value as T;
    match v {
        serde_json::Value::Bool(b) => T::Bool(*b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => T::Int(i),
            (_, Some(u), _) => T::Uint(u),
            (_, _, Some(f)) => T::Float(f),
            _ => T::Nil,
        },
        serde_json::Value::String(s) => T::from(s.as_str()),
        serde_json::Value::Array(items) => {
            T::from(items.iter().map(json_value).collect::<Vec<_>>())
        }
        serde_json::Value::Object(m) => T::from(
            m.iter()
                .map(|(k, v)| (k.clone(), json_value(v)))
                .collect::<std::collections::BTreeMap<String, T>>(),
        ),
        serde_json::Value::Null => T::Nil,
    }
}

/// An event's last state as its topic keeps it, for an alert node that meets the group again
/// (after a restart, a task update or the group's expiry).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KnownEvent {
    /// `OK`, `INFO`, `WARNING` or `CRITICAL`.
    pub level: &'static str,
    pub time: i64,
    pub duration: i64,
}

/// Something other than HTTP that a node sends out (alert handlers).
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Append `data` to the file at `path` (created with `mode`).
    File {
        path: String,
        mode: u32,
        data: Vec<u8>,
    },
    /// Connect to `addr` and write `data`.
    Tcp { addr: String, data: Vec<u8> },
    /// Run `argv` with `stdin` as its standard input.
    Exec { argv: Vec<String>, stdin: Vec<u8> },
    /// Publish `payload` to an MQTT broker (empty: the default one).
    Mqtt {
        broker: String,
        topic: String,
        qos: u8,
        retained: bool,
        payload: Vec<u8>,
    },
    /// Email through the host's `[smtp]` server (to its default recipients when `to` is
    /// empty); the body is HTML.
    Email {
        to: Vec<String>,
        subject: String,
        body: String,
    },
    /// The event to a handler plugin of `kind` (Slack, PagerDuty, ...), with its options.
    Plugin {
        kind: String,
        options: serde_json::Map<String, serde_json::Value>,
        event: Box<TopicEvent>,
    },
}

/// Points an `influxDBOut` node hands to the host for an InfluxDB cluster.
#[derive(Clone, Debug)]
pub struct InfluxWrite {
    /// Empty: the host's default cluster.
    pub cluster: String,
    pub database: String,
    pub retention_policy: String,
    pub precision: crate::lineproto::Precision,
    pub consistency: String,
    pub points: Vec<crate::model::Point>,
    /// Kept up to date by the host as the write succeeds or fails: the node's statistics.
    pub counters: Arc<InfluxCounters>,
}

/// `points_written` and `write_errors`, as Kapacitor's influxDBOut counts them.
#[derive(Debug, Default)]
pub struct InfluxCounters {
    pub written: std::sync::atomic::AtomicI64,
    pub errors: std::sync::atomic::AtomicI64,
}

/// A named `[[httppost]]` endpoint from the host's configuration, its templates parsed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PostEndpoint {
    /// Where requests go, or a Go template over the row or event making it
    /// (`{{ .Name }}`, `{{ index .Tags "host" }}`).
    pub url: String,
    url_template: Option<Shared>,
    pub headers: Vec<(String, String)>,
    pub basic_auth: Option<(String, String)>,
    /// A Go template for the body instead of the JSON row.
    pub row_template: Option<Shared>,
    /// A Go template for the body instead of an alert event's JSON.
    pub alert_template: Option<Shared>,
}

impl PostEndpoint {
    /// An endpoint posting to `url`, a template if it has `{{`.
    pub fn new(url: String) -> Result<PostEndpoint, String> {
        let url_template = url
            .contains("{{")
            .then(|| post_template("url", &url))
            .transpose()?;
        Ok(PostEndpoint {
            url,
            url_template,
            ..PostEndpoint::default()
        })
    }

    /// The endpoint with these body templates (`row-template`, `alert-template`).
    pub fn with_templates(
        self,
        row: Option<&str>,
        alert: Option<&str>,
    ) -> Result<PostEndpoint, String> {
        Ok(PostEndpoint {
            row_template: row.map(|t| post_template("row", t)).transpose()?,
            alert_template: alert.map(|t| post_template("alert", t)).transpose()?,
            ..self
        })
    }

    /// The URL's template, if it is one.
    pub fn url_template(&self) -> Option<&Shared> {
        self.url_template.as_ref()
    }

    /// Whether an alert event's request needs its template data (a URL or body template).
    pub fn templated(&self) -> bool {
        self.url_template.is_some() || self.alert_template.is_some()
    }

    /// What Kapacitor's post handler sends for an alert event through this endpoint: the
    /// URL (a template over the event's `alert.Data`), the endpoint's headers (those named
    /// in `headers` replaced), and the body: the endpoint's alert template over that data,
    /// or `json_line` (the event's JSON) as `application/json`, whatever the headers say.
    /// `event` is needed only when the endpoint is [`templated`](Self::templated).
    pub fn alert_post(
        &self,
        event: Option<&TopicEvent>,
        json_line: Vec<u8>,
        headers: impl IntoIterator<Item = (String, String)>,
    ) -> Result<HttpRequest, String> {
        let data = match event {
            Some(ev) if self.templated() => Some(ev.alert_data()),
            _ => None,
        };
        let url = match (&data, &self.url_template) {
            (Some(data), Some(t)) => t
                .execute(data)
                .map_err(|e| format!("failed to execute url template: {e}"))?,
            _ => self.url.clone(),
        };
        let body = match (&data, &self.alert_template) {
            (Some(data), Some(t)) => Some(
                t.execute(data)
                    .map_err(|e| format!("failed to execute alert template: {e}"))?
                    .into_bytes(),
            ),
            _ => None,
        };
        // As Kapacitor: the handler's headers replace the endpoint's of the same name, and
        // a JSON body is sent as JSON whatever they say.
        let mut all: Vec<(String, String)> = self.headers.clone();
        for (k, v) in headers {
            all.retain(|(have, _)| !have.eq_ignore_ascii_case(&k));
            all.push((k, v));
        }
        let body = match body {
            Some(body) => body,
            None => {
                all.retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
                all.insert(0, ("Content-Type".into(), "application/json".into()));
                json_line
            }
        };
        Ok(HttpRequest {
            url,
            headers: all,
            basic_auth: self.basic_auth.clone(),
            body,
            timeout_ns: 0,
            capture_response: false,
            skip_ssl_verification: false,
        })
    }
}

/// An MQTT handler's topic: as given, or (with `{{`) a template over the event's template
/// data, as Kapacitor renders it for every event.
#[derive(Clone, Debug, PartialEq)]
pub enum MqttTopic {
    Plain(String),
    Template(Shared),
}

impl MqttTopic {
    pub fn new(topic: String) -> Result<MqttTopic, String> {
        if !topic.contains("{{") {
            return Ok(MqttTopic::Plain(topic));
        }
        Shared::text("topic", &topic)
            .map(MqttTopic::Template)
            .map_err(|e| format!("invalid topic template: {e}"))
    }

    /// [`MqttTopic::new`] for topics that come with each event (topic handlers' options):
    /// templates parsed once, kept in the shared [`crate::template::Cache`].
    pub fn cached(topic: &str) -> Result<MqttTopic, String> {
        if !topic.contains("{{") {
            return Ok(MqttTopic::Plain(topic.to_owned()));
        }
        crate::template::Cache::shared()
            .text("topic", topic)
            .map(MqttTopic::Template)
            .map_err(|e| format!("invalid topic template: {e}"))
    }

    /// Whether rendering needs the event.
    pub fn templated(&self) -> bool {
        matches!(self, MqttTopic::Template(_))
    }

    /// The topic of `event` (needed when [`templated`](Self::templated)).
    pub fn render(&self, event: Option<&TopicEvent>) -> Result<String, String> {
        match (self, event) {
            (MqttTopic::Plain(t), _) => Ok(t.clone()),
            (MqttTopic::Template(t), Some(ev)) => t
                .execute(&ev.template_data())
                .map_err(|e| format!("failed to create MQTT topic from template: {e}")),
            (MqttTopic::Template(_), None) => Err("an MQTT topic template needs its event".into()),
        }
    }
}

/// An `[[httppost]]` template (URL, `alert-template`, `row-template`): Go's text/template
/// with Kapacitor's `json` (Go's encoder, with its newline) and `jsonCompact`.
pub fn post_template(name: &str, src: &str) -> Result<Shared, String> {
    Shared::text(name, src).map_err(|e| format!("error in {name} templating: {e}"))
}

pub trait Io: Send + Sync {
    /// Sends `req` in the background. May block while the host's queue is full: that is the
    /// backpressure that slows writers down to what the receivers take.
    fn post(&self, req: HttpRequest);

    /// Sends `out` in the background, in order with what went to the same place before.
    fn send(&self, out: Output) {
        tracing::warn!(?out, "no host to send this to; dropped");
    }

    /// Appends what `write` writes to the log file at `path` (created with `mode`), in
    /// order with what went there before: [`Output::File`], for hosts that can take the
    /// bytes where they go without a buffer of their own per event.
    fn log(&self, path: &str, mode: u32, write: &mut dyn FnMut(&mut Vec<u8>)) {
        let mut data = Vec::new();
        write(&mut data);
        self.send(Output::File {
            path: path.to_owned(),
            mode,
            data,
        });
    }

    /// The handler plugin behind alert node property `property` (`slack`, `pagerDuty2`), if
    /// the host has one: its kind, once it accepted `options`; an error says what is wrong.
    fn handler_plugin(
        &self,
        property: &str,
        options: &serde_json::Map<String, serde_json::Value>,
    ) -> Option<Result<String, String>> {
        let _ = (property, options);
        None
    }

    /// Handler plugins set `global` in their config: every alert node without one of its own
    /// gets one. Each kind comes with its `state-changes-only`, which makes every alert node
    /// report state changes only.
    fn global_plugins(&self) -> Vec<(String, bool)> {
        Vec::new()
    }

    /// Collects an alert event into its topic.
    fn publish(&self, event: TopicEvent) {
        tracing::debug!(
            topic = &*event.topic,
            id = &*event.id,
            "no host keeps topics; dropped"
        );
    }

    /// Whether the host holds back `event` (a silence): it still reaches its topics, but no
    /// handler sends it.
    fn silenced(&self, event: &TopicEvent) -> bool {
        let _ = event;
        false
    }

    /// The last state topic `topic` keeps of event `id`, if any.
    fn event_state(&self, topic: &str, id: &str) -> Option<KnownEvent> {
        let _ = (topic, id);
        None
    }

    /// Whether InfluxDB cluster `name` (empty: the default) is configured; the error says
    /// why not.
    fn influxdb(&self, name: &str) -> Result<(), String> {
        let _ = name;
        Err("no InfluxDB cluster configured cannot use the InfluxDBOutNode".into())
    }

    /// Queues points for InfluxDB: written in order, retried while the cluster is away.
    fn write_influxdb(&self, write: InfluxWrite) {
        tracing::warn!(
            points = write.points.len(),
            "no host writes to InfluxDB; dropped"
        );
    }

    /// Runs an InfluxQL query on a cluster and waits for InfluxDB's JSON answer (times as
    /// epoch nanoseconds): what a batch task's query nodes are fed from.
    fn query_influxdb(&self, cluster: &str, query: &str) -> Result<serde_json::Value, String> {
        let _ = (cluster, query);
        Err("InfluxDB not configured, cannot query InfluxDB for batch query".into())
    }

    /// Creates `database` (and `retention_policy`) on a cluster, before the writes that follow.
    fn create_database(&self, cluster: &str, database: &str, retention_policy: &str) {
        let _ = (cluster, database, retention_policy);
    }

    /// Sends `req` and waits for the response's status code (0 when there was none).
    fn post_and_wait(&self, req: HttpRequest) -> u16;

    /// The `[[httppost]]` endpoint called `name`.
    fn endpoint(&self, name: &str) -> Option<PostEndpoint>;

    /// The sideload source at `source` (a `file://` directory, an `http(s)://` URL, or the name
    /// of an `[[httppost]]` endpoint), loaded by the host.
    fn sideload(&self, source: &str) -> Result<Arc<dyn SideloadSource>, String>;

    /// Writes points into the host's own input (`kapacitorLoopback`), as a write to `db`/`rp`
    /// would. Queued: it must not run inside the writing task.
    fn write_points(&self, db: &str, rp: &str, points: Vec<crate::model::Point>);
}

/// Values loaded from a sideload source: per file (its path relative to the source), a map of
/// keys to values.
pub trait SideloadSource: Send + Sync {
    /// The value of `key` in the first file of `order` that has it.
    fn lookup(&self, order: &[String], key: &str) -> Option<serde_json::Value>;
}

/// What a task is built with from outside its script.
#[derive(Clone)]
pub struct TaskEnv {
    pub io: Arc<dyn Io>,
    /// The database/retention policy pairs the task reads.
    pub dbrps: Vec<(String, String)>,
    /// The task's id (alert templates' `.TaskName`).
    pub task_id: String,
    /// The server's identity (alert templates' `.ServerInfo`).
    pub hostname: String,
    pub cluster_id: String,
    pub server_id: String,
    /// The Wasm UDFs `@name()` nodes can use.
    pub udfs: Option<Arc<crate::wasm::UdfRegistry>>,
    /// Every alert node publishes its events to its own topic, handlers or not (`farad test`
    /// checks them there).
    pub publish_all_alerts: bool,
    /// Alert inhibitors, shared by the tasks of one server.
    pub inhibitors: Arc<super::inhibit::Inhibitors>,
    /// `[smtp] global`: alert nodes without `.email()` email too (to the configured
    /// recipients). `Some(true)` adds `state-changes-only`, which makes every alert node
    /// report state changes only, as Kapacitor does.
    pub global_email: Option<bool>,
}

impl Default for TaskEnv {
    fn default() -> TaskEnv {
        TaskEnv {
            io: no_io(),
            dbrps: Vec::new(),
            task_id: String::new(),
            hostname: "localhost".into(),
            cluster_id: String::new(),
            server_id: String::new(),
            udfs: None,
            publish_all_alerts: false,
            inhibitors: Arc::default(),
            global_email: None,
        }
    }
}

/// For tasks run without a host (tests, benchmarks): requests go nowhere, and say so.
pub struct NoIo;

impl Io for NoIo {
    fn post(&self, req: HttpRequest) {
        tracing::warn!(url = req.url, "no host to send this request; dropped");
    }

    fn post_and_wait(&self, req: HttpRequest) -> u16 {
        self.post(req);
        0
    }

    fn endpoint(&self, _name: &str) -> Option<PostEndpoint> {
        None
    }

    fn sideload(&self, source: &str) -> Result<Arc<dyn SideloadSource>, String> {
        Err(format!("no host to load sideload source {source:?} from"))
    }

    fn write_points(&self, db: &str, rp: &str, points: Vec<crate::model::Point>) {
        tracing::warn!(
            db,
            rp,
            points = points.len(),
            "no host to write to; dropped"
        );
    }
}

/// The default [`Io`].
pub fn no_io() -> Arc<dyn Io> {
    Arc::new(NoIo)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BatchPoint, GroupKey, Name, Series, Value};

    /// As Kapacitor's post handler: its headers replace the endpoint's of the same name, and
    /// an event's JSON goes as `application/json` whatever the headers say.
    #[test]
    fn alert_posts_set_headers_as_kapacitor() {
        let mut e = PostEndpoint::new("http://127.0.0.1:1/".into()).unwrap();
        e.headers = vec![
            ("Content-Type".into(), "text/plain".into()),
            ("X-Team".into(), "ops".into()),
            ("X-Keep".into(), "1".into()),
        ];
        let req = e
            .alert_post(None, b"{}\n".to_vec(), [("x-team".into(), "db".into())])
            .unwrap();
        let headers: Vec<(&str, &str)> = req
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            headers,
            [
                ("Content-Type", "application/json"),
                ("X-Keep", "1"),
                ("x-team", "db")
            ]
        );
    }

    fn event(row: EventData) -> TopicEvent {
        TopicEvent {
            topic: "cpu".into(),
            id: "cpu:\"a\"".into(),
            level: "CRITICAL",
            message: "cpu is <b>CRITICAL</b>\n".into(),
            details: "{\"x\": 1}".into(),
            time: 1_500_000_000_123_456_789,
            duration: -5,
            previous_level: "OK",
            recoverable: false,
            task: "t".into(),
            row,
            group: GroupKey::NIL,
        }
    }

    #[test]
    fn written_json_is_kapacitors_bytes() {
        let series = Arc::new(Series::new(
            Name::new("cpu"),
            vec![
                (Name::new("region"), "west \"1\"".into()),
                (Name::new("host"), "a".into()),
            ],
        ));
        let fields = [
            (Name::new("value"), Value::Float(95.5)),
            (Name::new("count"), Value::Int(-3)),
            (Name::new("big"), Value::UInt(u64::MAX)),
            (Name::new("nan"), Value::Float(f64::NAN)),
            (Name::new("note"), Value::Str("é\t\"q\"".into())),
            (Name::new("ok"), Value::Bool(true)),
        ];
        let point = EventData::Point(BatchPoint {
            time: 7,
            series: series.clone(),
            fields: fields.into_iter().collect(),
        });
        let bare = EventData::Point(BatchPoint {
            time: 7,
            series: Arc::new(Series::new(Name::new("m"), Vec::new())),
            fields: [(Name::new("v"), Value::Int(1))].into_iter().collect(),
        });
        let rows = EventData::Json(serde_json::json!([
            {"values": [[1.5, 2.0e21]], "name": "a", "tags": {"k": "v"}, "columns": ["v"]},
            {"name": "b", "extra": 1}
        ]));
        let written = |row: EventData| {
            let mut out = Vec::new();
            event(row).write_json(&mut out);
            String::from_utf8(out).unwrap()
        };
        // The bytes Kapacitor writes: `alert.Data`'s order, Go's escaping and floats.
        assert_eq!(
            written(bare.clone()),
            r#"{"id":"cpu:\"a\"","message":"cpu is \u003cb\u003eCRITICAL\u003c/b\u003e\n","details":"{\"x\": 1}","time":"2017-07-14T02:40:00.123456789Z","duration":-5,"level":"CRITICAL","data":{"series":[{"name":"m","columns":["time","v"],"values":[["1970-01-01T00:00:00.000000007Z",1]]}]},"previousLevel":"OK","recoverable":false}"#
        );
        assert!(written(point.clone()).contains(
            r#"[{"name":"cpu","tags":{"host":"a","region":"west \"1\""},"columns":["time","big","count","nan","note","ok","value"],"values":[["1970-01-01T00:00:00.000000007Z",18446744073709551615,-3,null,"é\t\"q\"",true,95.5]]}]"#
        ));
        assert!(written(rows.clone()).contains(
            r#"[{"name":"a","tags":{"k":"v"},"columns":["v"],"values":[[1.5,2e+21]]},{"name":"b","extra":1}]"#
        ));
        // The same value as the JSON built for templates and plugins.
        for row in [point, bare, rows, EventData::Json(serde_json::Value::Null)] {
            let json: serde_json::Value = serde_json::from_str(&written(row.clone())).unwrap();
            assert_eq!(json, event(row).to_json());
        }
    }
}
