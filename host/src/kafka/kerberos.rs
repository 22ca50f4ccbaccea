//! GSSAPI (Kerberos) logins of `[[kafka]]` clusters.
//!
//! librdkafka's GSSAPI (Cyrus SASL over MIT Kerberos) takes its tickets from the credential
//! cache (`KRB5CCNAME`, else the user's default). It can run `kinit` itself, but only as a
//! shell command line, where a password could only be written in the clear. So Farad runs
//! `kinit` (with the password on its stdin, or from the keytab) before the producer first
//! connects, and again every [`RELOGIN`] while the producer lives, as librdkafka would.
//!
//! Where Kerberos finds its KDCs (`krb5.conf`) is the process's: `KRB5_CONFIG`, set once at
//! start from `sasl-gssapi-kerberos-config-path` ([`configure`]), before any thread runs.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{OnceLock, Weak};
use std::time::Duration;

use crate::config::Kafka;

/// librdkafka's own period (`sasl.kerberos.min.time.before.relogin`).
const RELOGIN: Duration = Duration::from_secs(60);

/// The `krb5.conf` set at start, if any.
static KRB5_CONFIG: OnceLock<Option<String>> = OnceLock::new();

/// Clusters that name different `krb5.conf` files, or log in as different principals, are
/// refused: both the file and the credential cache are one per process.
pub fn check(clusters: &[Kafka]) -> Result<(), String> {
    let gssapi: Vec<&Kafka> = clusters
        .iter()
        .filter(|c| c.enabled && c.sasl_mechanism == "GSSAPI")
        .collect();
    if let Some(k) = gssapi
        .iter()
        .find(|k| k.kerberos_principal() != gssapi[0].kerberos_principal())
    {
        return Err(format!(
            "[[kafka]] {} and {}: GSSAPI clusters log in as one principal (one credential cache per process), not {:?} and {:?}",
            gssapi[0].id,
            k.id,
            gssapi[0].kerberos_principal(),
            k.kerberos_principal()
        ));
    }
    let path = gssapi.iter().find_map(|k| k.kerberos_config());
    if let Some(k) = gssapi
        .iter()
        .find(|k| k.kerberos_config().is_some_and(|p| Some(p) != path))
    {
        return Err(format!(
            "[[kafka]] {}: sasl-gssapi-kerberos-config-path {:?} differs from another cluster's {:?} (one per process)",
            k.id,
            k.sasl_gssapi_kerberos_config_path,
            path.unwrap_or_default()
        ));
    }
    Ok(())
}

/// Points Kerberos at the `krb5.conf` the GSSAPI clusters name (one: [`check`] ran when
/// the config was loaded).
///
/// Call before any thread is started: it sets the process's environment.
pub fn configure(clusters: &[Kafka]) -> Result<(), String> {
    let path = clusters.iter().find_map(|k| k.kerberos_config());
    if let Some(path) = path {
        std::fs::metadata(path)
            .map_err(|e| format!("sasl-gssapi-kerberos-config-path {path:?}: {e}"))?;
        // SAFETY: called from `main` before the runtime or any other thread starts.
        unsafe { std::env::set_var("KRB5_CONFIG", path) };
    }
    let _ = KRB5_CONFIG.set(path.map(str::to_owned));
    Ok(())
}

/// How one cluster logs in.
#[derive(Clone, Debug)]
pub struct Login {
    principal: String,
    secret: Secret,
}

#[derive(Clone, Debug)]
enum Secret {
    Password(String),
    Keytab(String),
}

impl Login {
    /// The cluster's login, if it uses GSSAPI; an error if its `krb5.conf` is not the one
    /// the process started with.
    pub fn new(c: &Kafka) -> Result<Option<Login>, String> {
        if c.sasl_mechanism != "GSSAPI" {
            return Ok(None);
        }
        let started = KRB5_CONFIG.get().cloned().flatten();
        if let Some(path) = c.kerberos_config()
            && started.as_deref() != Some(path)
        {
            return Err(format!(
                "sasl-gssapi-kerberos-config-path {path:?}: read from the config file when Farad starts (not {:?})",
                started.unwrap_or_default()
            ));
        }
        let secret = match c.sasl_gssapi_auth_type.as_str() {
            "KRB5_KEYTAB_AUTH" => Secret::Keytab(c.sasl_gssapi_key_tab_path.clone()),
            _ => Secret::Password(c.sasl_password.clone()),
        };
        Ok(Some(Login {
            principal: c.kerberos_principal(),
            secret,
        }))
    }

    /// Gets a ticket-granting ticket into the credential cache.
    pub fn kinit(&self) -> Result<(), String> {
        let mut cmd = Command::new("kinit");
        match &self.secret {
            Secret::Keytab(path) => {
                cmd.args(["-k", "-t"]).arg(path).stdin(Stdio::null());
            }
            Secret::Password(_) => {
                cmd.stdin(Stdio::piped());
            }
        }
        let mut child = cmd
            .arg(&self.principal)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("kinit (Kerberos' client tools, krb5-user): {e}"))?;
        if let (Secret::Password(password), Some(mut stdin)) = (&self.secret, child.stdin.take()) {
            // kinit may have failed before it reads: its own message says why.
            let _ = writeln!(stdin, "{password}");
        }
        let out = child
            .wait_with_output()
            .map_err(|e| format!("kinit: {e}"))?;
        if out.status.success() {
            return Ok(());
        }
        let said = String::from_utf8_lossy(&out.stderr);
        // The password prompt comes first on stderr.
        let said = said
            .lines()
            .filter(|l| !l.starts_with("Password for "))
            .collect::<Vec<_>>()
            .join("; ");
        Err(format!("kinit {}: {}", self.principal, said.trim()))
    }
}

/// Logs in again every [`RELOGIN`] while `producer` lives.
pub fn keep_fresh<T: Send + Sync + 'static>(cluster: &str, login: Login, producer: Weak<T>) {
    let cluster = cluster.to_owned();
    let spawned = std::thread::Builder::new()
        .name("kafka-kinit".into())
        .spawn(move || {
            while super::sleep_while_alive(RELOGIN, &producer) {
                if let Err(e) = login.kinit() {
                    tracing::error!(cluster, error = e, "kafka GSSAPI login not renewed");
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "kafka GSSAPI logins will not be renewed");
    }
}
