//! The daemon's configuration: Kapacitor's `kapacitor.conf` format, built-in defaults, and
//! `KAPACITOR_<SECTION>_<KEY>` environment overrides.
//!
//! Loading goes file → typed [`Config`] (TOML errors carry line and column) → environment
//! overrides → typed again. Sections Farad does not implement yet are kept and reported, so an
//! existing `kapacitor.conf` loads unchanged.

mod duration;
mod env;
mod sections;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

pub use duration::GoDuration;
pub use sections::{
    Auth, BasicAuth, ConfigOverride, Http, HttpPost, InfluxDb, Kafka, Load, Logging, Mqtt, Replay,
    Smtp, SnmpTrap, Storage, TaskSection, UdfFunction, UdfSection, Udp,
};

/// The whole configuration file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct Config {
    pub hostname: String,
    #[serde(rename = "data_dir")]
    pub data_dir: PathBuf,
    pub skip_config_overrides: bool,
    pub default_retention_policy: String,
    pub http: Http,
    pub auth: Auth,
    pub logging: Logging,
    pub storage: Storage,
    pub replay: Replay,
    pub task: TaskSection,
    pub load: Load,
    pub config_override: ConfigOverride,
    pub udp: Vec<Udp>,
    pub httppost: Vec<HttpPost>,
    pub influxdb: Vec<InfluxDb>,
    pub udf: UdfSection,
    pub smtp: Smtp,
    pub mqtt: Vec<Mqtt>,
    pub snmptrap: SnmpTrap,
    pub kafka: Vec<Kafka>,
    /// Sections of Kapacitor's file that Farad does not act on yet, kept as written.
    #[serde(flatten)]
    pub other: BTreeMap<String, toml::Value>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            hostname: "localhost".into(),
            data_dir: PathBuf::from("./data"),
            skip_config_overrides: false,
            default_retention_policy: String::new(),
            http: Http::default(),
            auth: Auth::default(),
            logging: Logging::default(),
            storage: Storage::default(),
            replay: Replay::default(),
            task: TaskSection::default(),
            load: Load::default(),
            config_override: ConfigOverride::default(),
            udp: Vec::new(),
            // Kapacitor's defaults for these list sections: one element each, which its
            // clients (Chronograf's config pages) expect to find and change.
            httppost: vec![HttpPost {
                endpoint: "example".into(),
                url: "http://example.com".into(),
                ..HttpPost::default()
            }],
            influxdb: Vec::new(),
            udf: UdfSection::default(),
            smtp: Smtp::default(),
            mqtt: vec![Mqtt {
                name: "default".into(),
                ..Mqtt::default()
            }],
            snmptrap: SnmpTrap::default(),
            kafka: vec![Kafka::default()],
            other: BTreeMap::new(),
        }
    }
}

impl Config {
    /// Loads `path` (or the defaults without one) and applies the environment's overrides.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        let text = match path {
            Some(p) => std::fs::read_to_string(p)
                .with_context(|| format!("reading config file {}", p.display()))?,
            None => String::new(),
        };
        let name = path.map_or_else(|| "defaults".to_owned(), |p| p.display().to_string());
        Config::parse(&text, &name, &env)
    }

    /// Parses config text (named `source` in errors) and applies `env` overrides.
    pub fn parse(text: &str, source: &str, env: &[(String, String)]) -> Result<Config> {
        let config: Config = toml::from_str(text).map_err(|e| anyhow::anyhow!("{source}: {e}"))?;
        let config = env::apply(config, env)?;
        config.validate()?;
        Ok(config)
    }

    /// The defaults as a config file, as `farad config` prints them.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("config always serializes")
    }

    /// Checks a config made otherwise than by parsing (with overrides laid over it).
    pub fn check(&self) -> Result<()> {
        self.validate()
    }

    fn validate(&self) -> Result<()> {
        self.http.validate()?;
        for (i, u) in self.udp.iter().enumerate() {
            u.validate().with_context(|| format!("[[udp]] #{i}"))?;
        }
        for h in &self.httppost {
            h.validate().map_err(anyhow::Error::msg)?;
        }
        self.udf.validate().map_err(anyhow::Error::msg)?;
        self.smtp.validate().map_err(anyhow::Error::msg)?;
        self.snmptrap.validate().map_err(anyhow::Error::msg)?;
        for k in &self.kafka {
            k.validate().map_err(anyhow::Error::msg)?;
        }
        crate::kafka::kerberos::check(&self.kafka).map_err(anyhow::Error::msg)?;
        if self.hostname.is_empty() {
            bail!("hostname must not be empty");
        }
        if !(4..=31).contains(&self.auth.bcrypt_cost) {
            bail!(
                "[auth] bcrypt-cost must be from 4 to 31, got {}",
                self.auth.bcrypt_cost
            );
        }
        Ok(())
    }

    /// Sections present in the file that Farad ignores for now.
    pub fn unsupported_sections(&self) -> impl Iterator<Item = &str> {
        self.other
            .keys()
            .map(String::as_str)
            .filter(|s| !crate::plugins::Plugins::owns_section(s))
    }

    /// Where the embedded store lives.
    pub fn store_path(&self) -> PathBuf {
        if self.storage.boltdb.as_os_str().is_empty() {
            self.data_dir.join("farad.redb")
        } else {
            self.storage.boltdb.clone()
        }
    }

    /// Where recordings are kept: `[replay] dir`, else `<data_dir>/replay`.
    pub fn replay_dir(&self) -> PathBuf {
        if self.replay.dir.as_os_str().is_empty() {
            self.data_dir.join("replay")
        } else {
            self.replay.dir.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip() {
        let c = Config::default();
        let again = Config::parse(&c.to_toml(), "t", &[]).unwrap();
        assert_eq!(again.http.bind_address, "127.0.0.1:9092");
        assert_eq!(again.data_dir, PathBuf::from("./data"));
        assert_eq!(again.store_path(), PathBuf::from("./data/farad.redb"));
    }

    #[test]
    fn kapacitor_file_with_unknown_sections_loads() {
        let text = r##"
hostname = "box"
data_dir = "/tmp/x"
[http]
  bind-address = ":9999"
  log-enabled = false
[logging]
  level = "DEBUG"
[[udp]]
  enabled = true
  bind-address = "127.0.0.1:9100"
  database = "db"
  retention-policy = "rp"
[slack]
  enabled = false
  channel = "#alerts"
"##;
        let c = Config::parse(text, "t", &[]).unwrap();
        assert_eq!(c.hostname, "box");
        assert_eq!(c.http.bind_address, ":9999");
        assert!(!c.http.log_enabled);
        assert_eq!(c.udp.len(), 1);
        assert_eq!(c.udp[0].database, "db");
        // `[slack]` is the Slack plugin's.
        assert_eq!(c.unsupported_sections().count(), 0);
    }

    /// Kerberos' config file and credential cache are the process's: GSSAPI clusters share
    /// them or are refused.
    #[test]
    fn gssapi_clusters_share_one_principal_and_krb5_conf() {
        let dir = std::env::temp_dir().join(format!("farad-krb5-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("a.conf"), dir.join("b.conf"));
        std::fs::write(&a, "").unwrap();
        std::fs::write(&b, "").unwrap();
        let cluster = |id: &str, user: &str, krb5: &std::path::Path| {
            format!(
                "[[kafka]]\nenabled = true\nid = \"{id}\"\nbrokers = [\"127.0.0.1:9\"]\n\
                 sasl-mechanism = \"GSSAPI\"\nsasl-gssapi-auth-type = \"KRB5_USER_AUTH\"\n\
                 sasl-username = \"{user}\"\nsasl-password = \"p\"\n\
                 sasl-gssapi-kerberos-config-path = {:?}\n",
                krb5.display().to_string()
            )
        };
        let parse = |text: String| Config::parse(&text, "t", &[]).map_err(|e| format!("{e:#}"));
        parse(cluster("one", "u", &a) + &cluster("two", "u", &a)).unwrap();
        let err = parse(cluster("one", "u", &a) + &cluster("two", "v", &a)).unwrap_err();
        assert!(err.contains("one principal"), "{err}");
        let err = parse(cluster("one", "u", &a) + &cluster("two", "u", &b)).unwrap_err();
        assert!(err.contains("differs"), "{err}");
        // A cluster that is off takes no part.
        let off = cluster("two", "v", &b).replace("enabled = true", "enabled = false");
        parse(cluster("one", "u", &a) + &off).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn kafka_sections_take_kapacitors_tls_and_sasl_options() {
        let kafka = |extra: &str| {
            let text = format!(
                "[[kafka]]\nenabled = true\nid = \"k\"\nbrokers = [\"127.0.0.1:9\"]\n{extra}"
            );
            Config::parse(&text, "t", &[]).map_err(|e| format!("{e:#}"))
        };
        let c = kafka(
            "use-ssl = true\ninsecure-skip-verify = true\nsasl-username = \"u\"\n\
             sasl-password = \"p\"\nsasl-mechanism = \"SCRAM-SHA-512\"\nsasl-version = 1\n\
             sasl-gssapi-realm = \"R\"\n",
        )
        .unwrap();
        assert!(c.kafka[0].sasl() && c.kafka[0].use_ssl);
        assert!(!kafka("").unwrap().kafka[0].sasl());
        let gssapi = "sasl-mechanism = \"GSSAPI\"\nsasl-gssapi-auth-type = \"KRB5_USER_AUTH\"\n\
                      sasl-password = \"p\"\nsasl-gssapi-kerberos-config-path = \"/\"\n\
                      sasl-gssapi-disable-pafxfast = true\nsasl-gssapi-service-name = \"k\"\n";
        let c = kafka(&format!(
            "{gssapi}sasl-username = \"u\"\nsasl-gssapi-realm = \"R\"\n"
        ))
        .unwrap();
        assert_eq!(c.kafka[0].kerberos_principal(), "u@R");
        assert_eq!(
            c.kafka[0].kerberos_config(),
            None,
            "Kapacitor's sample path"
        );
        let c = kafka(&format!(
            "{gssapi}sasl-username = \"u@S\"\nsasl-gssapi-realm = \"R\"\n"
        ))
        .unwrap();
        assert_eq!(c.kafka[0].kerberos_principal(), "u@S");
        let oauth = "sasl-mechanism = \"OAUTHBEARER\"\n";
        let c = kafka(&format!(
            "{oauth}sasl-oauth-service = \"Auth0\"\nsasl-oauth-client-id = \"i\"\n\
             sasl-oauth-client-secret = \"s\"\nsasl-oauth-token-url = \"https://a/t\"\n\
             sasl-oauth-scopes = [\"a\", \"b\"]\nsasl-oauth-token-expiry-margin = \"30s\"\n\
             [kafka.sasl-oauth-parameters]\naudience = \"x\"\n\
             [kafka.sasl_extensions]\nlogicalCluster = \"lkc-1\"\n"
        ))
        .unwrap();
        let k = &c.kafka[0];
        assert_eq!(k.sasl_oauth_token_expiry_margin.0, 30_000_000_000);
        assert_eq!(k.sasl_extensions["logicalCluster"], "lkc-1");
        assert_eq!(k.sasl_oauth_scopes, ["a", "b"]);
        assert!(kafka(oauth).unwrap_err().contains("client-id"));
        let token = format!("{oauth}sasl-access-token = \"t\"\n");
        assert_eq!(
            kafka(&token).unwrap().kafka[0]
                .sasl_oauth_token_expiry_margin
                .0,
            10_000_000_000,
            "Kapacitor's default margin"
        );
        let credentials = "sasl-oauth-client-id = \"i\"\nsasl-oauth-client-secret = \"s\"\n";
        for (extra, why) in [
            (
                format!("{token}sasl-oauth-token-url = \"u\"\n"),
                "cannot set 'sasl-access-token'",
            ),
            (
                format!("{oauth}{credentials}"),
                "'sasl-oauth-token-url' required for custom",
            ),
            (
                format!(
                    "{oauth}{credentials}sasl-oauth-service = \"auth0\"\nsasl-oauth-token-url = \"u\"\n"
                ),
                "'audience' parameter is required",
            ),
            (
                format!("{oauth}{credentials}sasl-oauth-service = \"azuread\"\n"),
                "tenant-id",
            ),
            (
                format!("{oauth}{credentials}sasl-oauth-service = \"okta\"\n"),
                "okta not supported",
            ),
            (
                format!("{token}[kafka.sasl_extensions]\npool_id = \"x\"\n"),
                "invalid key \"pool_id\"",
            ),
        ] {
            let err = kafka(&extra).unwrap_err();
            assert!(err.contains(why), "{extra}: {err}");
        }
        for (extra, why) in [
            ("sasl-mechanism = \"MD5\"\n", "invalid sasl-mechanism"),
            (
                "sasl-mechanism = \"GSSAPI\"\n",
                "GSSAPI needs sasl-username",
            ),
            (
                "sasl-mechanism = \"GSSAPI\"\nsasl-username = \"u\"\n",
                "invalid sasl-gssapi-auth-type",
            ),
            (
                "sasl-mechanism = \"GSSAPI\"\nsasl-username = \"u\"\n\
                 sasl-gssapi-auth-type = \"KRB5_USER_AUTH\"\n",
                "needs sasl-password",
            ),
            (
                "sasl-mechanism = \"GSSAPI\"\nsasl-username = \"u\"\n\
                 sasl-gssapi-auth-type = \"KRB5_KEYTAB_AUTH\"\n\
                 sasl-gssapi-key-tab-path = \"/nonexistent/k.keytab\"\n",
                "sasl-gssapi-key-tab-path",
            ),
            ("sasl-version = 2\n", "invalid SASL version"),
            (
                "use-ssl = true\nssl-ca = \"/nonexistent/ca.pem\"\n",
                "ssl-ca",
            ),
            ("no-such-option = 1\n", "no-such-option"),
        ] {
            let err = kafka(extra).unwrap_err();
            assert!(err.contains(why), "{extra}: {err}");
        }
    }

    #[test]
    fn errors_have_locations() {
        let err = Config::parse("[http]\n  bind-adress = \"x\"\n", "my.conf", &[]).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("my.conf") && msg.contains("line 2"), "{msg}");
        assert!(msg.contains("bind-adress"), "{msg}");
        let err = Config::parse("[http]\n log-enabled = \"yes\"\n", "c", &[]).unwrap_err();
        assert!(format!("{err:#}").contains("line 2"), "{err:#}");
        let err = Config::parse("[http]\nbind-address = \"nope\"\n", "c", &[]).unwrap_err();
        assert!(format!("{err:#}").contains("bind address"), "{err:#}");
    }

    #[test]
    fn environment_overrides() {
        let env = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        let vars = [
            env("KAPACITOR_HTTP_BIND_ADDRESS", "127.0.0.1:1234"),
            env("KAPACITOR_HOSTNAME", "envhost"),
            env("KAPACITOR_HTTP_LOG_ENABLED", "false"),
            env("KAPACITOR_LOGGING_LEVEL", "WARN"),
            env("KAPACITOR_UDP_0_DATABASE", "fromenv"),
            env("KAPACITOR_HTTP_SHUTDOWN_TIMEOUT", "3s"),
            env("UNRELATED", "x"),
        ];
        let c = Config::parse(
            "[[udp]]\ndatabase = \"x\"\nbind-address = \":9100\"\n",
            "t",
            &vars,
        )
        .unwrap();
        assert_eq!(c.http.bind_address, "127.0.0.1:1234");
        assert_eq!(c.hostname, "envhost");
        assert!(!c.http.log_enabled);
        assert_eq!(c.logging.level, "WARN");
        assert_eq!(c.udp[0].database, "fromenv");
        assert_eq!(c.http.shutdown_timeout.0, 3_000_000_000);
        let bad = [env("KAPACITOR_HTTP_LOG_ENABLED", "maybe")];
        let err = Config::parse("", "t", &bad).unwrap_err();
        assert!(
            format!("{err:#}").contains("KAPACITOR_HTTP_LOG_ENABLED"),
            "{err:#}"
        );
    }
}
