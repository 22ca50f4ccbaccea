//! The email handler's sender: `[smtp]`'s server, sender and default recipients. Messages
//! are HTML (Kapacitor sends an alert's details as the body); STARTTLS is used when the server
//! offers it, and port 465 speaks TLS from the start.

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{CertificateStore, Tls, TlsParameters};
use lettre::{SmtpTransport, Transport};

use crate::config::Smtp;

pub struct Mailer {
    config: Smtp,
    transport: Option<SmtpTransport>,
}

impl Mailer {
    pub fn new(config: &Smtp) -> Mailer {
        let transport = config.enabled.then(|| {
            // The system's roots, as for every client; the bundled ones if it has none.
            let store = if crate::tls::has_system_roots() {
                CertificateStore::Default
            } else {
                CertificateStore::WebpkiRoots
            };
            let tls = TlsParameters::builder(config.host.clone())
                .certificate_store(store)
                .dangerous_accept_invalid_certs(config.no_verify)
                .build();
            let tls = match tls {
                Ok(p) if config.port == 465 => Tls::Wrapper(p),
                Ok(p) => Tls::Opportunistic(p),
                Err(e) => {
                    tracing::warn!(error = %e, "[smtp]: TLS unavailable; sending in the clear");
                    Tls::None
                }
            };
            let mut b = SmtpTransport::builder_dangerous(&config.host)
                .port(config.port)
                .tls(tls)
                .timeout(Some(std::time::Duration::from_secs(10)));
            if !config.username.is_empty() {
                b = b.credentials(Credentials::new(
                    config.username.clone(),
                    config.password.clone(),
                ));
            }
            b.build()
        });
        Mailer {
            config: config.clone(),
            transport,
        }
    }

    /// Sends one message to `to` (or `[smtp] to` when empty).
    pub fn send(&self, to: &[String], subject: &str, body: &str) -> Result<(), String> {
        let Some(transport) = &self.transport else {
            return Err("smtp service is not enabled".into());
        };
        let to = if to.is_empty() { &self.config.to } else { to };
        if to.is_empty() {
            return Err("no recipients: name them in the handler or in [smtp] to".into());
        }
        let from: Mailbox = self
            .config
            .from
            .parse()
            .map_err(|e| format!("invalid from address: {e}"))?;
        let mut m = lettre::Message::builder()
            .from(from)
            .subject(subject)
            .header(ContentType::TEXT_HTML);
        for t in to {
            m = m.to(t
                .parse()
                .map_err(|e| format!("invalid address {t:?}: {e}"))?);
        }
        let m = m.body(body.to_owned()).map_err(|e| e.to_string())?;
        transport
            .send(&m)
            .map(|_| ())
            .map_err(|e| format!("sending email: {e}"))
    }
}
