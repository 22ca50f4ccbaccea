//! Client TLS as Kapacitor's sections write it: `ssl-ca`, `ssl-cert`, `ssl-key`,
//! `insecure-skip-verify` (`[[influxdb]]`, and handler sections such as `[slack]`). Without
//! an `ssl-ca`, clients trust the system's roots, as Go's `crypto/x509` does.

use serde_json::{Map, Value};
use ureq::tls::{ClientCert, PemItem, RootCerts, TlsConfig};

/// The roots a client trusts when nothing names others: the system's (the file named by
/// `SSL_CERT_FILE` and the directories of `SSL_CERT_DIR` instead of the distribution's
/// bundle and directories, as Go takes them), read once; the bundled public roots on a
/// system that has none.
pub fn system_roots() -> RootCerts {
    static ROOTS: std::sync::LazyLock<RootCerts> = std::sync::LazyLock::new(|| {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::warn!(error = %e, "reading the system's certificates");
        }
        let certs: Vec<ureq::tls::Certificate<'static>> = found
            .certs
            .iter()
            .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
            .collect();
        if certs.is_empty() {
            tracing::warn!("no system certificates found; trusting the bundled public roots");
            RootCerts::WebPki
        } else {
            RootCerts::new_with_certs(&certs)
        }
    });
    ROOTS.clone()
}

/// Whether the system has roots of its own (else [`system_roots`] are the bundled ones).
pub fn has_system_roots() -> bool {
    !matches!(system_roots(), RootCerts::WebPki)
}

/// TLS for a client that trusts the [`system_roots`].
pub fn system() -> TlsConfig {
    TlsConfig::builder().root_certs(system_roots()).build()
}

/// PEM file paths and the verification switch; all empty is the default (system roots).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ClientTls {
    /// The only root to trust (else the system's).
    pub ca: String,
    /// A client certificate, with its key here or in `key`.
    pub cert: String,
    pub key: String,
    pub insecure_skip_verify: bool,
}

impl ClientTls {
    /// The settings of a handler section, as JSON.
    pub fn from_section(section: &Map<String, Value>) -> ClientTls {
        let s = |k: &str| {
            section
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        ClientTls {
            ca: s("ssl-ca"),
            cert: s("ssl-cert"),
            key: s("ssl-key"),
            insecure_skip_verify: section
                .get("insecure-skip-verify")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }
    }

    pub fn is_default(&self) -> bool {
        *self == ClientTls::default()
    }

    /// The agent's TLS config; a file that is missing or holds no certificate (or a
    /// certificate without its key) is an error naming it.
    pub fn config(&self) -> Result<TlsConfig, String> {
        let mut b = TlsConfig::builder().disable_verification(self.insecure_skip_verify);
        if self.ca.is_empty() {
            b = b.root_certs(system_roots());
        } else {
            let roots = certs(&pem(&self.ca)?);
            if roots.is_empty() {
                return Err(format!("ssl-ca {}: no certificate in it", self.ca));
            }
            b = b.root_certs(RootCerts::new_with_certs(&roots));
        }
        if !self.cert.is_empty() {
            let mut items = pem(&self.cert)?;
            if !self.key.is_empty() {
                items.extend(pem(&self.key)?);
            }
            let chain = certs(&items);
            let key = items.into_iter().find_map(|i| match i {
                PemItem::PrivateKey(k) => Some(k),
                _ => None,
            });
            match (chain.is_empty(), key) {
                (false, Some(key)) => {
                    b = b.client_cert(Some(ClientCert::new_with_certs(&chain, key)))
                }
                _ => {
                    return Err(format!(
                        "ssl-cert {}: needs a certificate and its key (ssl-key)",
                        self.cert
                    ));
                }
            }
        }
        Ok(b.build())
    }
}

fn pem(path: &str) -> Result<Vec<PemItem<'static>>, String> {
    let data = std::fs::read(path).map_err(|e| format!("reading {path}: {e}"))?;
    ureq::tls::parse_pem(&data)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{path}: not PEM: {e}"))
}

fn certs(items: &[PemItem<'static>]) -> Vec<ureq::tls::Certificate<'static>> {
    items
        .iter()
        .filter_map(|i| match i {
            PemItem::Certificate(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}
