//! OAUTHBEARER logins to `[[kafka]]` clusters: a bearer token given in the config
//! (`sasl-access-token`) or fetched by OAuth 2 client credentials (`sasl-oauth-*`), as
//! Kapacitor gets it with Go's `clientcredentials` package.
//!
//! librdkafka keeps the token and sends it (with `sasl_extensions`) when it logs in; Farad
//! hands it one before the producer's first connection and a fresh one `expiry-margin`
//! before the last expires, from a thread per producer. librdkafka's own refresh callback
//! is not used: the crate's version of it cannot pass extensions.

use std::ffi::{CString, c_char};
use std::sync::Weak;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rdkafka::producer::ThreadedProducer;

use crate::config::Kafka;

/// Lifetime given to librdkafka for a token that does not expire; it is handed over again
/// before then.
const NO_EXPIRY: Duration = Duration::from_secs(3600);
/// Wait before trying again to fetch a token.
const RETRY: Duration = Duration::from_secs(10);

/// Where a cluster's tokens come from.
pub struct TokenSource {
    static_token: Option<String>,
    client_id: String,
    client_secret: String,
    token_url: String,
    /// Client id and secret as form fields (Auth0, Azure AD), not basic auth.
    in_params: bool,
    /// Go's auto-detection: basic auth first, then form fields if the server refuses it.
    probe: bool,
    probed_params: AtomicBool,
    form: Vec<(String, String)>,
    margin: Duration,
    /// Key, value, key, value ... for librdkafka.
    extensions: Vec<CString>,
    principal: CString,
    agent: ureq::Agent,
}

/// A token and when it stops being good.
#[derive(Debug)]
pub struct Token {
    pub value: String,
    pub expires: Option<SystemTime>,
}

impl TokenSource {
    /// The cluster's token source if it logs in with OAUTHBEARER (its config validated).
    pub fn new(c: &Kafka) -> Result<Option<TokenSource>, String> {
        if c.sasl_mechanism != "OAUTHBEARER" {
            return Ok(None);
        }
        let service = c.sasl_oauth_service.to_lowercase();
        let token_url = match service.as_str() {
            "azuread" => format!(
                "https://login.microsoftonline.com/{}/oauth2/v2.0/token",
                c.sasl_oauth_tenant_id
            ),
            _ => c.sasl_oauth_token_url.clone(),
        };
        let mut form = vec![("grant_type".to_owned(), "client_credentials".to_owned())];
        if !c.sasl_oauth_scopes.is_empty() {
            form.push(("scope".into(), c.sasl_oauth_scopes.join(" ")));
        }
        for (k, v) in &c.sasl_oauth_parameters {
            if k == "grant_type" {
                form[0].1 = v.clone();
            } else if k == "scope" && !c.sasl_oauth_scopes.is_empty() {
                return Err(format!("oauth2: cannot overwrite parameter {k:?}"));
            } else {
                form.push((k.clone(), v.clone()));
            }
        }
        let cstring =
            |s: &str| CString::new(s).map_err(|_| format!("{s:?}: NUL in an OAUTHBEARER setting"));
        let mut extensions = Vec::new();
        for (k, v) in &c.sasl_extensions {
            extensions.push(cstring(k)?);
            extensions.push(cstring(v)?);
        }
        let principal = match c.sasl_oauth_client_id.as_str() {
            "" => "farad",
            id => id,
        };
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            .build()
            .new_agent();
        Ok(Some(TokenSource {
            static_token: Some(c.sasl_access_token.clone()).filter(|t| !t.is_empty()),
            client_id: c.sasl_oauth_client_id.clone(),
            client_secret: c.sasl_oauth_client_secret.clone(),
            token_url,
            in_params: matches!(service.as_str(), "auth0" | "azuread"),
            probe: matches!(service.as_str(), "" | "custom"),
            probed_params: AtomicBool::new(false),
            form,
            margin: Duration::from_nanos(c.sasl_oauth_token_expiry_margin.0.max(0) as u64),
            extensions,
            principal: cstring(principal)?,
            agent,
        }))
    }

    /// The configured token, or a new one from the token endpoint.
    pub fn token(&self) -> Result<Token, String> {
        if let Some(value) = &self.static_token {
            return Ok(Token {
                value: value.clone(),
                expires: None,
            });
        }
        let in_params = self.in_params || self.probed_params.load(Relaxed);
        match self.fetch(in_params) {
            Err(e) if self.probe && !in_params => {
                let token = self.fetch(true).map_err(|_| e)?;
                self.probed_params.store(true, Relaxed);
                Ok(token)
            }
            result => result,
        }
    }

    /// One client-credentials request: the client's id and secret as basic auth or as
    /// form fields.
    fn fetch(&self, in_params: bool) -> Result<Token, String> {
        let mut form = self.form.clone();
        let mut request = self.agent.post(&self.token_url);
        if in_params {
            form.push(("client_id".into(), self.client_id.clone()));
            if !self.client_secret.is_empty() {
                form.push(("client_secret".into(), self.client_secret.clone()));
            }
        } else {
            use base64::Engine;
            let pair = format!(
                "{}:{}",
                query_escape(&self.client_id),
                query_escape(&self.client_secret)
            );
            let basic = base64::engine::general_purpose::STANDARD.encode(pair);
            request = request.header("Authorization", format!("Basic {basic}"));
        }
        let fields = form.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let mut response = request
            .send_form(fields)
            .map_err(|e| format!("oauth2: cannot fetch token: {e}"))?;
        let status = response.status();
        let form_body = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| {
                t.starts_with("application/x-www-form-urlencoded") || t.starts_with("text/plain")
            });
        let body = response
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("oauth2: cannot fetch token: {e}"))?;
        if !status.is_success() {
            return Err(format!(
                "oauth2: cannot fetch token: {status}\nResponse: {}",
                body.trim_end()
            ));
        }
        let (value, expires_in) = if form_body {
            let mut value = String::new();
            let mut expires_in = 0;
            for (k, v) in form_urlencoded::parse(body.as_bytes()) {
                match &*k {
                    "access_token" => value = v.into_owned(),
                    "expires_in" => expires_in = v.parse().unwrap_or(0),
                    _ => {}
                }
            }
            (value, expires_in)
        } else {
            #[derive(serde::Deserialize)]
            struct Answer {
                #[serde(default)]
                access_token: String,
                #[serde(default)]
                expires_in: Option<serde_json::Value>,
            }
            let a: Answer = serde_json::from_str(&body)
                .map_err(|e| format!("oauth2: cannot parse json: {e}"))?;
            // Go takes a number or a string of one.
            let expires_in = match a.expires_in {
                Some(serde_json::Value::Number(n)) => n.as_i64().unwrap_or(0),
                Some(serde_json::Value::String(s)) => s.parse().unwrap_or(0),
                _ => 0,
            };
            (a.access_token, expires_in)
        };
        if value.is_empty() {
            return Err("oauth2: server response missing access_token".into());
        }
        Ok(Token {
            value,
            expires: (expires_in > 0)
                .then(|| SystemTime::now() + Duration::from_secs(expires_in as u64)),
        })
    }

    /// Hands `token` to the producer's librdkafka client for its next logins.
    pub fn hand_over<C, P>(
        &self,
        producer: &ThreadedProducer<C, P>,
        token: &Token,
    ) -> Result<(), String>
    where
        C: rdkafka::producer::ProducerContext<P>,
        P: rdkafka::producer::Partitioner,
    {
        use rdkafka::producer::Producer;
        let value = CString::new(token.value.as_str())
            .map_err(|_| "NUL in an OAUTHBEARER token".to_owned())?;
        let expires = token
            .expires
            .unwrap_or_else(|| SystemTime::now() + NO_EXPIRY);
        let lifetime_ms = expires
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let mut extensions: Vec<*const c_char> =
            self.extensions.iter().map(|e| e.as_ptr()).collect();
        let mut error = [0 as c_char; 512];
        // SAFETY: every pointer lives until the call returns, which copies what it keeps;
        // the client outlives the call (borrowed).
        let code = unsafe {
            rdkafka::bindings::rd_kafka_oauthbearer_set_token(
                producer.client().native_ptr(),
                value.as_ptr(),
                lifetime_ms,
                self.principal.as_ptr(),
                extensions.as_mut_ptr(),
                extensions.len(),
                error.as_mut_ptr(),
                error.len(),
            )
        };
        if code == rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            return Ok(());
        }
        // SAFETY: librdkafka wrote a NUL-terminated message into `error`.
        let message = unsafe { std::ffi::CStr::from_ptr(error.as_ptr()) };
        Err(format!(
            "OAUTHBEARER token refused: {}",
            message.to_string_lossy()
        ))
    }

    /// When the token after `token` is needed.
    fn renewal(&self, token: &Token) -> Duration {
        let until = |t: SystemTime| t.duration_since(SystemTime::now()).unwrap_or_default();
        match token.expires {
            Some(expires) => until(expires).saturating_sub(self.margin),
            // Handed over again well within librdkafka's lifetime for it.
            None => NO_EXPIRY * 4 / 5,
        }
        .max(Duration::from_secs(1))
    }
}

/// Keeps the producer's token fresh until the producer is dropped; `token` is the one it
/// has.
pub fn keep_fresh<C, P>(
    cluster: &str,
    source: TokenSource,
    producer: Weak<ThreadedProducer<C, P>>,
    token: Token,
) where
    C: rdkafka::producer::ProducerContext<P> + 'static,
    P: rdkafka::producer::Partitioner + Send + Sync + 'static,
{
    let cluster = cluster.to_owned();
    let spawned = std::thread::Builder::new()
        .name("kafka-token".into())
        .spawn(move || {
            let mut wait = source.renewal(&token);
            loop {
                // Checks now and then that the producer is still there.
                while !wait.is_zero() {
                    let step = wait.min(Duration::from_secs(1));
                    std::thread::sleep(step);
                    wait -= step;
                    if producer.strong_count() == 0 {
                        return;
                    }
                }
                let Some(p) = producer.upgrade() else { return };
                wait = match source
                    .token()
                    .and_then(|t| source.hand_over(&p, &t).map(|()| t))
                {
                    Ok(t) => source.renewal(&t),
                    Err(e) => {
                        tracing::error!(cluster, error = e, "kafka OAUTHBEARER token not renewed");
                        RETRY
                    }
                };
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "no thread to renew kafka tokens");
    }
}

/// Go's `url.QueryEscape`, which the client id and secret go through before basic auth.
fn query_escape(s: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const SET: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b' ');
    utf8_percent_encode(s, SET).to_string().replace(' ', "+")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};

    /// A token endpoint on 127.0.0.1 that answers each request (closing the connection)
    /// with what `answer` makes of its headers and body; returns its URL.
    fn endpoint(answer: fn(&str, &str) -> String) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/token", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let mut r = BufReader::new(conn);
                let mut head = String::new();
                while r.read_line(&mut head).unwrap_or(0) > 2 && !head.ends_with("\r\n\r\n") {}
                let len = head
                    .lines()
                    .find_map(|l| {
                        l.to_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                let mut body = vec![0; len];
                r.read_exact(&mut body).unwrap();
                let reply = answer(&head.to_lowercase(), &String::from_utf8_lossy(&body));
                let _ = r.get_mut().write_all(reply.as_bytes());
            }
        });
        url
    }

    fn source(service: &str, url: &str) -> TokenSource {
        let c = Kafka {
            sasl_mechanism: "OAUTHBEARER".into(),
            sasl_oauth_service: service.into(),
            sasl_oauth_client_id: "id".into(),
            sasl_oauth_client_secret: "secret".into(),
            sasl_oauth_token_url: url.into(),
            ..Kafka::default()
        };
        TokenSource::new(&c).unwrap().unwrap()
    }

    fn reply(status: &str, content_type: &str, body: &str) -> String {
        format!(
            "HTTP/1.1 {status}\r\nconnection: close\r\ncontent-type: {content_type}\r\n\
             content-length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    #[test]
    fn a_server_refusing_basic_auth_gets_the_credentials_as_form_fields() {
        // Refuses basic auth, and answers in form encoding (as GitHub's endpoint does).
        let url = endpoint(|head, body| {
            if head.contains("authorization: basic") {
                return reply(
                    "401 Unauthorized",
                    "application/json",
                    r#"{"error":"invalid_client"}"#,
                );
            }
            assert!(body.contains("client_id=id&client_secret=secret"), "{body}");
            reply(
                "200 OK",
                "application/x-www-form-urlencoded",
                "access_token=t%2B1&expires_in=3600",
            )
        });
        let s = source("", &url);
        let t = s.token().unwrap();
        assert_eq!(t.value, "t+1");
        let left = t
            .expires
            .unwrap()
            .duration_since(SystemTime::now())
            .unwrap();
        assert!(left > Duration::from_secs(3590), "{left:?}");
        // Renewed 10 s (the default margin) before it expires.
        let renewal = s.renewal(&t);
        assert!(renewal > Duration::from_secs(3580) && renewal <= Duration::from_secs(3590));
        // Remembered: the next fetch goes straight to form fields.
        assert!(s.probed_params.load(Relaxed));
        assert_eq!(s.token().unwrap().value, "t+1");
    }

    #[test]
    fn token_errors_say_what_the_server_said() {
        let url = endpoint(|_, _| {
            reply(
                "400 Bad Request",
                "application/json",
                r#"{"error":"invalid_scope"}"#,
            )
        });
        let e = source("auth0", &url).token().unwrap_err();
        assert!(e.contains("400") && e.contains("invalid_scope"), "{e}");
        let url =
            endpoint(|_, _| reply("200 OK", "application/json", r#"{"token_type":"bearer"}"#));
        let e = source("", &url).token().unwrap_err();
        assert_eq!(e, "oauth2: server response missing access_token");
        // No expiry: used as long as it is given, handed over again now and then.
        let url = endpoint(|_, _| reply("200 OK", "application/json", r#"{"access_token":"a"}"#));
        let s = source("custom", &url);
        let t = s.token().unwrap();
        assert!(t.expires.is_none());
        assert_eq!(s.renewal(&t), NO_EXPIRY * 4 / 5);
    }
}
