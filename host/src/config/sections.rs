//! One struct per config section, with Kapacitor's keys and Farad's defaults.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use super::GoDuration;

/// `[http]`: the API server.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct Http {
    pub bind_address: String,
    pub auth_enabled: bool,
    pub log_enabled: bool,
    pub write_tracing: bool,
    pub pprof_enabled: bool,
    pub https_enabled: bool,
    pub https_certificate: String,
    pub https_private_key: String,
    pub shutdown_timeout: GoDuration,
    pub shared_secret: String,
    /// Largest accepted write body, after gzip decoding (Farad's; InfluxDB's default too).
    pub max_body_size: u64,
    /// Farad's: alerts first. The threads that read requests and send alerts run at
    /// real-time priority, and large writes are worked through on threads of their own (see
    /// `crate::sched`, `ingest::Bulk`).
    pub realtime_priority: bool,
}

impl Default for Http {
    fn default() -> Http {
        Http {
            bind_address: "127.0.0.1:9092".into(),
            auth_enabled: false,
            log_enabled: true,
            write_tracing: false,
            pprof_enabled: false,
            https_enabled: false,
            https_certificate: "/etc/ssl/kapacitor.pem".into(),
            https_private_key: String::new(),
            shutdown_timeout: GoDuration(10_000_000_000),
            shared_secret: String::new(),
            max_body_size: 25_000_000,
            realtime_priority: false,
        }
    }
}

impl Http {
    pub(super) fn validate(&self) -> Result<()> {
        validate_bind(&self.bind_address, "http")
    }

    /// The bind address with Go's empty host (`:9092`) meaning all interfaces.
    pub fn socket_addr(&self) -> Result<std::net::SocketAddr> {
        socket_addr(&self.bind_address)
    }
}

fn socket_addr(addr: &str) -> Result<std::net::SocketAddr> {
    use std::net::ToSocketAddrs;
    let full = if addr.starts_with(':') {
        format!("0.0.0.0{addr}")
    } else {
        addr.to_owned()
    };
    match full.to_socket_addrs()?.next() {
        Some(a) => Ok(a),
        None => bail!("bind address {addr:?} resolves to nothing"),
    }
}

fn validate_bind(addr: &str, section: &str) -> Result<()> {
    let Some((_, port)) = addr.rsplit_once(':') else {
        bail!("invalid {section} bind address {addr:?}: expected host:port");
    };
    match port.parse::<u16>() {
        Ok(_) => Ok(()),
        Err(_) => bail!("invalid {section} bind address {addr:?}: bad port {port:?}"),
    }
}

/// `[logging]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct Logging {
    /// `STDERR`, `STDOUT` or a file path.
    pub file: String,
    /// `DEBUG`, `INFO`, `WARN`, `ERROR` or `OFF`.
    pub level: String,
}

impl Default for Logging {
    fn default() -> Logging {
        Logging {
            file: "STDERR".into(),
            level: "INFO".into(),
        }
    }
}

/// `[storage]`: the embedded store. Kapacitor's key name is kept; an empty path means
/// `<data_dir>/farad.redb`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct Storage {
    pub boltdb: PathBuf,
}

/// `[replay]`: where recordings are kept (empty: `<data_dir>/replay`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct Replay {
    pub dir: PathBuf,
}

/// `[task]`: Kapacitor's deprecated task section, accepted for compatibility.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct TaskSection {
    pub dir: PathBuf,
    pub snapshot_interval: GoDuration,
    /// Farad: a group's state in a running task is forgotten after this long (wall time)
    /// without data; 0 keeps groups forever, as Kapacitor does.
    pub group_idle_timeout: GoDuration,
}

impl Default for TaskSection {
    fn default() -> TaskSection {
        TaskSection {
            dir: PathBuf::new(),
            snapshot_interval: GoDuration(60_000_000_000),
            group_idle_timeout: GoDuration(24 * 3_600_000_000_000),
        }
    }
}

/// `[auth]`: how users' passwords are kept and checked once `[http] auth-enabled` is on.
/// Kapacitor's `meta-*` keys (Enterprise's user store) are accepted and not used.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct Auth {
    pub enabled: bool,
    /// How long a checked password is remembered, sparing a bcrypt per request.
    pub cache_expiration: GoDuration,
    pub bcrypt_cost: u32,
    #[serde(flatten)]
    pub other: std::collections::BTreeMap<String, toml::Value>,
}

impl Default for Auth {
    fn default() -> Auth {
        Auth {
            enabled: false,
            cache_expiration: GoDuration(600_000_000_000),
            bcrypt_cost: 10,
            other: Default::default(),
        }
    }
}

/// `[load]`: tasks, templates and handlers loaded from files at start.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct Load {
    pub enabled: bool,
    pub dir: PathBuf,
}

/// `[config-override]`: whether `/kapacitor/v1/config` may change settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct ConfigOverride {
    pub enabled: bool,
}

impl Default for ConfigOverride {
    fn default() -> ConfigOverride {
        ConfigOverride { enabled: true }
    }
}

/// `[[udp]]`: a line-protocol listener writing into one database and retention policy.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct Udp {
    pub enabled: bool,
    pub bind_address: String,
    pub database: String,
    pub retention_policy: String,
    /// Socket receive buffer in bytes (0: the system's).
    pub read_buffer: usize,
    /// Kapacitor's packet queue length; kept for compatibility.
    pub buffer: usize,
    /// Timestamp precision of the packets (`n`, `u`, `ms`, `s`, `m`, `h`).
    pub precision: String,
}

impl Default for Udp {
    fn default() -> Udp {
        Udp {
            enabled: false,
            bind_address: String::new(),
            database: String::new(),
            retention_policy: String::new(),
            read_buffer: 0,
            buffer: 1000,
            precision: String::new(),
        }
    }
}

impl Udp {
    pub(super) fn validate(&self) -> Result<()> {
        if !self.enabled {
            return Ok(());
        }
        validate_bind(&self.bind_address, "udp")?;
        if self.database.is_empty() {
            bail!("udp listener on {} needs a database", self.bind_address);
        }
        if farad_runtime::lineproto::Precision::parse(&self.precision).is_none() {
            bail!(
                "udp listener on {}: unknown precision {:?}",
                self.bind_address,
                self.precision
            );
        }
        Ok(())
    }

    /// The socket address to bind.
    pub fn socket_addr(&self) -> Result<std::net::SocketAddr> {
        socket_addr(&self.bind_address)
    }
}

/// `[[httppost]]`: a named endpoint for `httpPost().endpoint(name)` (and, later, alert
/// handlers).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct HttpPost {
    pub endpoint: String,
    /// A Go template over the row, or a plain URL.
    pub url: String,
    pub headers: BTreeMap<String, String>,
    pub basic_auth: BasicAuth,
    pub alert_template: String,
    pub alert_template_file: String,
    pub row_template: String,
    pub row_template_file: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BasicAuth {
    pub username: String,
    pub password: String,
}

impl HttpPost {
    /// Kapacitor's checks, with the endpoint named in each message.
    pub fn validate(&self) -> Result<(), String> {
        let name = &self.endpoint;
        if name.is_empty() {
            return Err("[[httppost]]: must specify endpoint name".into());
        }
        if self.url.is_empty() {
            return Err(format!("[[httppost]] {name}: must specify url"));
        }
        if let Err(e) = farad_runtime::template::text("url", &self.url) {
            return Err(format!(
                "[[httppost]] {name}: invalid URL template syntax {:?}: {e}",
                self.url
            ));
        }
        for (a, b, what) in [
            (
                &self.alert_template,
                &self.alert_template_file,
                "alert-template",
            ),
            (&self.row_template, &self.row_template_file, "row-template"),
        ] {
            if !a.is_empty() && !b.is_empty() {
                return Err(format!(
                    "[[httppost]] {name}: must specify only one of {what} and {what}-file"
                ));
            }
            if !b.is_empty() && !std::path::Path::new(b).is_absolute() {
                return Err(format!(
                    "[[httppost]] {name}: must use an absolute path for {what}-file"
                ));
            }
        }
        Ok(())
    }

    /// The row template's text (inline or from its file).
    pub fn row_template(&self) -> Result<Option<String>, String> {
        template_text(&self.row_template, &self.row_template_file)
    }

    /// The alert template's text (inline or from its file).
    pub fn alert_template(&self) -> Result<Option<String>, String> {
        template_text(&self.alert_template, &self.alert_template_file)
    }
}

/// `[udf]`: Wasm UDFs. Kapacitor's section lists UDF processes; Farad's functions are Wasm
/// components (`[udf.functions.<name>] wasm = "path"`), beside those uploaded over HTTP.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct UdfSection {
    /// Linear memory one UDF instance may grow to, in MiB.
    pub memory_limit_mb: u64,
    /// Wall time one call into a UDF may take.
    pub call_timeout: GoDuration,
    /// UDF instances that may run at once (one per task node that uses a UDF).
    pub max_instances: u32,
    pub functions: BTreeMap<String, UdfFunction>,
}

impl Default for UdfSection {
    fn default() -> UdfSection {
        UdfSection {
            memory_limit_mb: 64,
            call_timeout: GoDuration(1_000_000_000),
            max_instances: 256,
            functions: BTreeMap::new(),
        }
    }
}

impl UdfSection {
    pub fn validate(&self) -> Result<(), String> {
        if self.memory_limit_mb == 0 || self.memory_limit_mb > 4096 {
            return Err(format!(
                "[udf] memory-limit-mb must be between 1 and 4096, got {}",
                self.memory_limit_mb
            ));
        }
        if self.call_timeout.0 < 10_000_000 {
            return Err("[udf] call-timeout must be at least 10ms".into());
        }
        if self.max_instances == 0 {
            return Err("[udf] max-instances must be at least 1".into());
        }
        for (name, f) in &self.functions {
            if f.wasm.as_os_str().is_empty() {
                return Err(format!(
                    "[udf.functions.{name}]: Farad runs UDFs as Wasm components: set wasm = \"path/to/udf.wasm\" \
                     (Kapacitor's process UDFs, prog/args, are not run)"
                ));
            }
        }
        Ok(())
    }
}

/// `[udf.functions.<name>]`: a UDF loaded from a file at start.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct UdfFunction {
    pub wasm: PathBuf,
    /// Kapacitor's process-UDF keys, accepted so that its config files load.
    #[serde(flatten, skip_serializing)]
    pub other: BTreeMap<String, toml::Value>,
}

/// `[[influxdb]]`: an InfluxDB 1.x cluster tasks write to and query, and whose subscriptions
/// forward its writes here.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct InfluxDb {
    pub enabled: bool,
    pub name: String,
    /// The cluster tasks use when they name none.
    pub default: bool,
    pub urls: Vec<String>,
    pub username: String,
    pub password: String,
    pub timeout: GoDuration,
    /// Points kept per cluster while InfluxDB does not take them; beyond it the oldest go
    /// (and are counted). Farad's.
    pub buffer: usize,
    /// Subscribe only to these databases' retention policies (empty: all).
    pub subscriptions: BTreeMap<String, Vec<String>>,
    pub excluded_subscriptions: BTreeMap<String, Vec<String>>,
    /// `http`, `https` or `udp`.
    pub subscription_protocol: String,
    /// `cluster` (named after the cluster id) or `server` (after the server id).
    pub subscription_mode: String,
    pub subscription_path: String,
    pub subscriptions_sync_interval: GoDuration,
    pub disable_subscriptions: bool,
    /// The host name InfluxDB reaches this server at (default: `hostname`).
    pub kapacitor_hostname: String,
    /// The port InfluxDB reaches the HTTP API at (default: the one it listens on).
    pub http_port: u16,
    /// Where UDP subscription listeners bind (their ports are chosen).
    pub udp_bind: String,
    /// PEM files: the CA that signs the cluster's certificate (default: the public roots),
    /// and a client certificate and key for clusters that ask for one.
    pub ssl_ca: String,
    pub ssl_cert: String,
    pub ssl_key: String,
    pub insecure_skip_verify: bool,
    #[serde(flatten)]
    pub other: BTreeMap<String, toml::Value>,
}

impl Default for InfluxDb {
    fn default() -> InfluxDb {
        InfluxDb {
            enabled: true,
            name: "default".into(),
            default: false,
            urls: vec!["http://localhost:8086".into()],
            username: String::new(),
            password: String::new(),
            timeout: GoDuration::default(),
            buffer: 1_000_000,
            subscriptions: BTreeMap::new(),
            excluded_subscriptions: BTreeMap::from([(
                "_kapacitor".to_owned(),
                vec!["autogen".to_owned()],
            )]),
            subscription_protocol: "http".into(),
            subscription_mode: "cluster".into(),
            subscription_path: String::new(),
            subscriptions_sync_interval: GoDuration(60_000_000_000),
            disable_subscriptions: false,
            kapacitor_hostname: String::new(),
            http_port: 0,
            udp_bind: String::new(),
            ssl_ca: String::new(),
            ssl_cert: String::new(),
            ssl_key: String::new(),
            insecure_skip_verify: false,
            other: BTreeMap::new(),
        }
    }
}

/// `[smtp]`: the email handler's server and defaults.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct Smtp {
    pub enabled: bool,
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: String,
    /// Skip verifying the server's certificate.
    pub no_verify: bool,
    /// Every alert node emails (Kapacitor's `global`), with `state-changes-only` if set.
    pub global: bool,
    pub state_changes_only: bool,
    pub from: String,
    /// Recipients when a handler names none.
    pub to: Vec<String>,
    #[serde(rename = "toTemplates")]
    pub to_templates: Vec<String>,
    pub idle_timeout: GoDuration,
}

impl Default for Smtp {
    fn default() -> Smtp {
        Smtp {
            enabled: false,
            host: "localhost".into(),
            port: 25,
            username: String::new(),
            password: String::new(),
            no_verify: false,
            global: false,
            state_changes_only: false,
            from: String::new(),
            to: Vec::new(),
            to_templates: Vec::new(),
            idle_timeout: GoDuration(30_000_000_000),
        }
    }
}

impl Smtp {
    /// Kapacitor's checks.
    pub fn validate(&self) -> Result<(), String> {
        if self.host.is_empty() {
            return Err("[smtp]: host cannot be empty".into());
        }
        if self.port == 0 {
            return Err("[smtp]: invalid port 0".into());
        }
        if self.enabled && self.from.is_empty() {
            return Err("[smtp]: must provide a 'from' address".into());
        }
        for a in std::iter::once(&self.from)
            .filter(|f| !f.is_empty())
            .chain(&self.to)
        {
            a.parse::<lettre::message::Mailbox>()
                .map_err(|e| format!("[smtp]: invalid email address {a:?}: {e}"))?;
        }
        Ok(())
    }
}

/// `[[mqtt]]`: a broker the MQTT handler publishes to.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct Mqtt {
    pub enabled: bool,
    pub name: String,
    pub default: bool,
    /// `tcp://host:port`.
    pub url: String,
    pub ssl_ca: String,
    pub ssl_cert: String,
    pub ssl_key: String,
    pub insecure_skip_verify: bool,
    /// Defaults to the name.
    pub client_id: String,
    pub username: String,
    pub password: String,
}

/// `[snmptrap]`: the agent the snmpTrap handler sends SNMPv2c traps to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct SnmpTrap {
    pub enabled: bool,
    /// `host:port` of the trap receiver.
    pub addr: String,
    pub community: String,
    /// Kept for Kapacitor's files: traps are not acknowledged, so there is nothing to retry.
    pub retries: i64,
}

impl Default for SnmpTrap {
    fn default() -> SnmpTrap {
        SnmpTrap {
            enabled: false,
            addr: "localhost:162".into(),
            community: "kapacitor".into(),
            retries: 1,
        }
    }
}

impl SnmpTrap {
    pub fn validate(&self) -> Result<(), String> {
        if self.enabled && self.addr.is_empty() {
            return Err("[snmptrap]: addr cannot be empty".into());
        }
        Ok(())
    }
}

/// `[[kafka]]`: a cluster the kafka handler writes to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct Kafka {
    pub enabled: bool,
    pub id: String,
    /// `host:port` of each broker to bootstrap from.
    pub brokers: Vec<String>,
    /// For connecting, and for a message to be acknowledged (0: 10s).
    pub timeout: GoDuration,
    /// Messages gathered before a batch is sent (0: 100).
    pub batch_size: i64,
    /// The longest a message waits for its batch to fill (0: 1s).
    pub batch_timeout: GoDuration,
    pub use_ssl: bool,
    pub ssl_ca: String,
    pub ssl_cert: String,
    pub ssl_key: String,
    pub insecure_skip_verify: bool,
    /// SASL authentication, on when a user name or a mechanism is given.
    pub sasl_username: String,
    pub sasl_password: String,
    /// `PLAIN` (the default), `SCRAM-SHA-256`, `SCRAM-SHA-512`, `OAUTHBEARER` or `GSSAPI`.
    pub sasl_mechanism: String,
    /// Kapacitor's SASL handshake version (0 or 1); librdkafka negotiates it with the broker.
    pub sasl_version: Option<i64>,
    /// OAUTHBEARER: key/value pairs sent with the token (Confluent Cloud's
    /// `logicalCluster`, `identityPoolId`).
    #[serde(rename = "sasl_extensions")]
    pub sasl_extensions: BTreeMap<String, String>,
    /// OAUTHBEARER with a token given here, never refreshed.
    pub sasl_access_token: String,
    /// OAUTHBEARER with tokens fetched by OAuth 2 client credentials: from
    /// `sasl-oauth-token-url` (service empty or `custom`, and `auth0`), or Azure AD's
    /// endpoint for `sasl-oauth-tenant-id` (`azuread`).
    pub sasl_oauth_service: String,
    pub sasl_oauth_client_id: String,
    pub sasl_oauth_client_secret: String,
    pub sasl_oauth_token_url: String,
    pub sasl_oauth_scopes: Vec<String>,
    /// More form fields of the token request (Auth0's `audience`).
    pub sasl_oauth_parameters: BTreeMap<String, String>,
    /// A token is replaced this long before it expires.
    pub sasl_oauth_token_expiry_margin: GoDuration,
    pub sasl_oauth_tenant_id: String,
    /// GSSAPI: the broker's service principal is `<this>/<broker host>` (empty: `kafka`).
    pub sasl_gssapi_service_name: String,
    /// GSSAPI: `KRB5_USER_AUTH` (`sasl-username` and `sasl-password`) or
    /// `KRB5_KEYTAB_AUTH` (`sasl-username` and `sasl-gssapi-key-tab-path`).
    pub sasl_gssapi_auth_type: String,
    /// Accepted for Kapacitor's files: MIT Kerberos uses FAST only when told to.
    pub sasl_gssapi_disable_pafxfast: bool,
    /// GSSAPI: the `krb5.conf` to use (read once, when Farad starts).
    pub sasl_gssapi_kerberos_config_path: String,
    pub sasl_gssapi_key_tab_path: String,
    /// GSSAPI: the realm of `sasl-username` when it names none.
    pub sasl_gssapi_realm: String,
}

impl Default for Kafka {
    fn default() -> Kafka {
        Kafka {
            enabled: false,
            id: "default".into(),
            brokers: Vec::new(),
            timeout: GoDuration(0),
            batch_size: 0,
            batch_timeout: GoDuration(0),
            use_ssl: false,
            ssl_ca: String::new(),
            ssl_cert: String::new(),
            ssl_key: String::new(),
            insecure_skip_verify: false,
            sasl_username: String::new(),
            sasl_password: String::new(),
            sasl_mechanism: String::new(),
            sasl_version: None,
            sasl_extensions: BTreeMap::new(),
            sasl_access_token: String::new(),
            sasl_oauth_service: String::new(),
            sasl_oauth_client_id: String::new(),
            sasl_oauth_client_secret: String::new(),
            sasl_oauth_token_url: String::new(),
            sasl_oauth_scopes: Vec::new(),
            sasl_oauth_parameters: BTreeMap::new(),
            sasl_oauth_token_expiry_margin: GoDuration(10_000_000_000),
            sasl_oauth_tenant_id: String::new(),
            sasl_gssapi_service_name: String::new(),
            sasl_gssapi_auth_type: String::new(),
            sasl_gssapi_disable_pafxfast: false,
            sasl_gssapi_kerberos_config_path: String::new(),
            sasl_gssapi_key_tab_path: String::new(),
            sasl_gssapi_realm: String::new(),
        }
    }
}

impl Kafka {
    /// Kapacitor's checks, and a refusal of what Farad cannot do yet rather than sending in
    /// the clear what was meant to be encrypted or authenticated.
    pub fn validate(&self) -> Result<(), String> {
        if !self.enabled {
            return Ok(());
        }
        if self.id.is_empty() {
            return Err("[[kafka]]: id must not be empty".into());
        }
        if self.brokers.is_empty() {
            return Err(format!(
                "[[kafka]] {}: no brokers specified, must provide at least one broker URL",
                self.id
            ));
        }
        let id = &self.id;
        if self.use_ssl {
            for (key, path) in [
                ("ssl-ca", &self.ssl_ca),
                ("ssl-cert", &self.ssl_cert),
                ("ssl-key", &self.ssl_key),
            ] {
                if !path.is_empty()
                    && let Err(e) = std::fs::metadata(path)
                {
                    return Err(format!("[[kafka]] {id}: {key} {path:?}: {e}"));
                }
            }
            if self.ssl_cert.is_empty() != self.ssl_key.is_empty() {
                return Err(format!("[[kafka]] {id}: ssl-cert and ssl-key go together"));
            }
        }
        match self.sasl_mechanism.as_str() {
            "" | "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512" => {}
            "OAUTHBEARER" => self
                .validate_oauth()
                .map_err(|e| format!("[[kafka]] {id}: {e}"))?,
            "GSSAPI" => self
                .validate_gssapi()
                .map_err(|e| format!("[[kafka]] {id}: {e}"))?,
            _ => return Err(format!("[[kafka]] {id}: invalid sasl-mechanism")),
        }
        if !matches!(self.sasl_version, None | Some(0 | 1)) {
            return Err(format!("[[kafka]] {id}: invalid SASL version"));
        }
        Ok(())
    }

    /// Kerberos needs a principal and its key: a password or a keytab.
    fn validate_gssapi(&self) -> Result<(), String> {
        if self.sasl_username.is_empty() {
            return Err("sasl-mechanism GSSAPI needs sasl-username".into());
        }
        match self.sasl_gssapi_auth_type.as_str() {
            "KRB5_USER_AUTH" if self.sasl_password.is_empty() => {
                Err("sasl-gssapi-auth-type KRB5_USER_AUTH needs sasl-password".into())
            }
            "KRB5_USER_AUTH" => Ok(()),
            "KRB5_KEYTAB_AUTH" => match std::fs::metadata(&self.sasl_gssapi_key_tab_path) {
                Ok(_) => Ok(()),
                Err(e) => Err(format!(
                    "sasl-gssapi-key-tab-path {:?}: {e}",
                    self.sasl_gssapi_key_tab_path
                )),
            },
            other => Err(format!(
                "invalid sasl-gssapi-auth-type {other:?}: KRB5_USER_AUTH or KRB5_KEYTAB_AUTH"
            )),
        }
    }

    /// The Kerberos principal GSSAPI logs in as: the user name, in the configured realm
    /// unless it names one.
    pub fn kerberos_principal(&self) -> String {
        match (
            self.sasl_username.contains('@'),
            self.sasl_gssapi_realm.as_str(),
        ) {
            (false, realm) if !realm.is_empty() => format!("{}@{realm}", self.sasl_username),
            _ => self.sasl_username.clone(),
        }
    }

    /// The `krb5.conf` named by `sasl-gssapi-kerberos-config-path`, if it is a file
    /// (Kapacitor's sample has `/`).
    pub fn kerberos_config(&self) -> Option<&str> {
        let path = self.sasl_gssapi_kerberos_config_path.as_str();
        (self.enabled && self.sasl_mechanism == "GSSAPI" && !path.is_empty() && path != "/")
            .then_some(path)
    }

    /// Kapacitor's checks of the OAUTHBEARER options, but that a static token needs no
    /// client credentials (Kapacitor asks for them and does not use them).
    fn validate_oauth(&self) -> Result<(), String> {
        // RFC 7628's rules, which librdkafka holds them to when it logs in.
        for (k, v) in &self.sasl_extensions {
            if k == "auth" || k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(format!(
                    "sasl_extensions: invalid key {k:?}: letters only, and not \"auth\""
                ));
            }
            let allowed = |b: u8| matches!(b, 0x21..=0x7e | b' ' | b'\t' | b'\r' | b'\n');
            if !v.bytes().all(allowed) {
                return Err(format!("sasl_extensions: invalid value of {k:?}"));
            }
        }
        if !self.sasl_access_token.is_empty() {
            if !self.sasl_oauth_service.is_empty() || !self.sasl_oauth_token_url.is_empty() {
                return Err("cannot set 'sasl-access-token' with 'sasl-oauth-service' and 'sasl-oauth-token-url'".into());
            }
            return Ok(());
        }
        if self.sasl_oauth_client_id.is_empty() || self.sasl_oauth_client_secret.is_empty() {
            return Err(
                "'sasl-oauth-client-id' and 'sasl-oauth-client-secret' are required".into(),
            );
        }
        match self.sasl_oauth_service.to_lowercase().as_str() {
            "" | "custom" if self.sasl_oauth_token_url.is_empty() => {
                Err("'sasl-oauth-token-url' required for custom service".into())
            }
            "auth0" if self.sasl_oauth_token_url.is_empty() => {
                Err("'sasl-oauth-token-url' required for Auth0".into())
            }
            "auth0"
                if self
                    .sasl_oauth_parameters
                    .get("audience")
                    .is_none_or(|a| a.is_empty()) =>
            {
                Err("'audience' parameter is required for Auth0".into())
            }
            "" | "custom" | "auth0" => Ok(()),
            "azuread" if self.sasl_oauth_tenant_id.is_empty() => {
                Err("'sasl-oauth-tenant-id' required for AzureAD".into())
            }
            "azuread" if !self.sasl_oauth_token_url.is_empty() => Err(format!(
                "'sasl-oauth-token-url' cannot be set for service {}",
                self.sasl_oauth_service
            )),
            "azuread" => Ok(()),
            _ => Err(format!("service {} not supported", self.sasl_oauth_service)),
        }
    }

    /// Whether the connection authenticates with SASL (Kapacitor's rule).
    pub fn sasl(&self) -> bool {
        !self.sasl_username.is_empty() || !self.sasl_mechanism.is_empty()
    }
}

/// A `[[httppost]]` template given inline or as a file.
fn template_text(inline: &str, file: &str) -> Result<Option<String>, String> {
    if !inline.is_empty() {
        return Ok(Some(inline.to_owned()));
    }
    if file.is_empty() {
        return Ok(None);
    }
    std::fs::read_to_string(file)
        .map(Some)
        .map_err(|e| format!("failed to read template file {file:?}: {e}"))
}
