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
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rdkafka::producer::ThreadedProducer;

use crate::config::Kafka;

/// Lifetime given to librdkafka for a token that does not expire; it is handed over again
/// before then.
const NO_EXPIRY: Duration = Duration::from_secs(3600);
/// Wait before trying again to fetch a token.
const RETRY: Duration = Duration::from_secs(10);
/// Go's `oauth2` replaces a token this long before it expires unless told otherwise.
const DEFAULT_MARGIN: Duration = Duration::from_secs(10);

/// What the auto-detecting client learnt of its server (Go's style cache).
const UNKNOWN: u8 = 0;
const IN_HEADER: u8 = 1;
const IN_PARAMS: u8 = 2;

/// Where a cluster's tokens come from.
pub struct TokenSource {
    static_token: Option<String>,
    client_id: String,
    client_secret: String,
    token_url: String,
    /// Where the client id and secret go: [`IN_HEADER`] (basic auth) or [`IN_PARAMS`]
    /// (form fields), or [`UNKNOWN`] until a request shows (Go's auto-detection: basic
    /// auth first, then form fields if the server refuses it).
    style: AtomicU8,
    form: Vec<(String, String)>,
    margin: Duration,
    /// Key, value, key, value ... for librdkafka.
    extensions: Vec<CString>,
    principal: CString,
    agent: ureq::Agent,
}

/// A token and when it stops being good.
#[derive(Clone, Debug)]
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
        let style = match service.as_str() {
            // Go's endpoint for Azure AD leaves the style to be detected.
            "" | "custom" | "azuread" => UNKNOWN,
            _ => IN_PARAMS,
        };
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
            .tls_config(crate::tls::system())
            .build()
            .new_agent();
        Ok(Some(TokenSource {
            static_token: Some(c.sasl_access_token.clone()).filter(|t| !t.is_empty()),
            client_id: c.sasl_oauth_client_id.clone(),
            client_secret: c.sasl_oauth_client_secret.clone(),
            token_url,
            style: AtomicU8::new(style),
            form,
            margin: match c.sasl_oauth_token_expiry_margin.0 {
                m if m > 0 => Duration::from_nanos(m as u64),
                _ => DEFAULT_MARGIN,
            },
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
        let style = self.style.load(Relaxed);
        if style != UNKNOWN {
            return self.fetch(style == IN_PARAMS);
        }
        let (token, learnt) = match self.fetch(false) {
            Ok(token) => (token, IN_HEADER),
            // As Go: the second attempt's error is the one reported.
            Err(_) => (self.fetch(true)?, IN_PARAMS),
        };
        self.style.store(learnt, Relaxed);
        Ok(token)
    }

    /// One client-credentials request: the client's id and secret as basic auth or as
    /// form fields.
    fn fetch(&self, in_params: bool) -> Result<Token, String> {
        let mut form = self.form.clone();
        let mut request = self.agent.post(&self.token_url);
        if in_params {
            // Go sets them, replacing what the parameters said.
            for (k, v) in [
                ("client_id", &self.client_id),
                ("client_secret", &self.client_secret),
            ] {
                if !v.is_empty() {
                    form.retain(|(name, _)| name != k);
                    form.push((k.to_owned(), v.clone()));
                }
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
        let failed = !status.is_success();
        // The fields of a token, or of an error (RFC 6749 5.2), in either encoding.
        let mut answer = Answer::default();
        if form_body {
            for (k, v) in form_urlencoded::parse(body.as_bytes()) {
                let v = v.into_owned();
                match &*k {
                    "access_token" => answer.access_token = v,
                    "expires_in" => answer.expires_in = v.parse().unwrap_or(0),
                    "error" => answer.error = v,
                    "error_description" => answer.error_description = v,
                    "error_uri" => answer.error_uri = v,
                    _ => {}
                }
            }
        } else {
            match serde_json::from_str::<JsonAnswer>(&body) {
                Ok(a) => answer = a.into(),
                Err(_) if failed => {}
                Err(e) => return Err(format!("oauth2: cannot parse json: {e}")),
            }
        }
        if !answer.error.is_empty() {
            // Go's `RetrieveError` with a code, even in a 200 answer.
            let mut e = format!("oauth2: {:?}", answer.error);
            for more in [&answer.error_description, &answer.error_uri] {
                if !more.is_empty() {
                    e += &format!(" {more:?}");
                }
            }
            return Err(e);
        }
        if failed {
            return Err(format!(
                "oauth2: cannot fetch token: {status}\nResponse: {}",
                body.trim_end()
            ));
        }
        if answer.access_token.is_empty() {
            return Err("oauth2: server response missing access_token".into());
        }
        // Go reads `expires_in` as an int32.
        let expires_in = answer.expires_in.clamp(0, i32::MAX.into()) as u64;
        let value = answer.access_token;
        Ok(Token {
            value,
            expires: (expires_in > 0).then(|| SystemTime::now() + Duration::from_secs(expires_in)),
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

    /// When the token after `token` is needed: `margin` before it expires, but not in
    /// the last tenth of its time (a margin as long as the token's life would otherwise
    /// fetch tokens without a pause), nor sooner than in two seconds.
    fn renewal(&self, token: &Token) -> Duration {
        match token.expires {
            Some(expires) => {
                let left = expires
                    .duration_since(SystemTime::now())
                    .unwrap_or_default();
                left.saturating_sub(self.margin).max(left / 10)
            }
            // Handed over again well within librdkafka's lifetime for it.
            None => NO_EXPIRY * 4 / 5,
        }
        .max(Duration::from_secs(2))
    }
}

/// A token endpoint's answer: a token or an error.
#[derive(Default)]
struct Answer {
    access_token: String,
    expires_in: i64,
    error: String,
    error_description: String,
    error_uri: String,
}

#[derive(serde::Deserialize)]
struct JsonAnswer {
    #[serde(default)]
    access_token: String,
    /// Go takes a number or a string of one.
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
    #[serde(default)]
    error_uri: String,
}

impl From<JsonAnswer> for Answer {
    fn from(a: JsonAnswer) -> Answer {
        let expires_in = match a.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_i64().unwrap_or(i64::MAX),
            Some(serde_json::Value::String(s)) => s.parse().unwrap_or(0),
            _ => 0,
        };
        Answer {
            access_token: a.access_token,
            expires_in,
            error: a.error,
            error_description: a.error_description,
            error_uri: a.error_uri,
        }
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
            let mut token = token;
            loop {
                if !super::sleep_while_alive(wait, &producer) {
                    return;
                }
                // One that does not expire is kept (as Go keeps it), only handed over again.
                let next = match token.expires {
                    None => Ok(token.clone()),
                    Some(_) => source.token(),
                };
                // Taken after the fetch: a producer being dropped is not held up by it.
                let Some(p) = producer.upgrade() else { return };
                wait = match next.and_then(|t| source.hand_over(&p, &t).map(|()| t)) {
                    Ok(t) => {
                        let wait = source.renewal(&t);
                        token = t;
                        wait
                    }
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
        use std::sync::atomic::AtomicUsize;
        static BASIC: AtomicUsize = AtomicUsize::new(0);
        // Refuses basic auth, and answers in form encoding (as GitHub's endpoint does).
        let url = endpoint(|head, body| {
            if head.contains("authorization: basic") {
                BASIC.fetch_add(1, Relaxed);
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
        assert_eq!(s.token().unwrap().value, "t+1");
        assert_eq!(BASIC.load(Relaxed), 1);
    }

    #[test]
    fn token_errors_say_what_the_server_said_as_go_does() {
        let url = endpoint(|_, _| {
            reply(
                "400 Bad Request",
                "application/json",
                r#"{"error":"invalid_scope","error_description":"no such scope"}"#,
            )
        });
        let e = source("auth0", &url).token().unwrap_err();
        assert_eq!(e, r#"oauth2: "invalid_scope" "no such scope""#);
        // Some servers say it with a 200.
        let url = endpoint(|_, _| {
            reply(
                "200 OK",
                "application/json",
                r#"{"access_token":"a","error":"bad"}"#,
            )
        });
        assert_eq!(
            source("auth0", &url).token().unwrap_err(),
            r#"oauth2: "bad""#
        );
        let url = endpoint(|_, _| reply("503 Service Unavailable", "text/html", "<p>down</p>"));
        let e = source("auth0", &url).token().unwrap_err();
        assert_eq!(
            e,
            "oauth2: cannot fetch token: 503 Service Unavailable\nResponse: <p>down</p>"
        );
        let url =
            endpoint(|_, _| reply("200 OK", "application/json", r#"{"token_type":"bearer"}"#));
        let e = source("auth0", &url).token().unwrap_err();
        assert_eq!(e, "oauth2: server response missing access_token");
    }

    #[test]
    fn tokens_are_renewed_before_they_expire_and_not_in_a_loop() {
        let url = endpoint(|_, _| reply("200 OK", "application/json", r#"{"access_token":"a"}"#));
        let s = source("custom", &url);
        let t = s.token().unwrap();
        // No expiry: kept as long as it is given, handed over again now and then.
        assert!(t.expires.is_none());
        assert_eq!(s.renewal(&t), NO_EXPIRY * 4 / 5);
        let expiring = |secs| Token {
            value: "a".into(),
            expires: Some(SystemTime::now() + Duration::from_secs(secs)),
        };
        let about = |d: Duration, secs: u64| d.as_secs_f64().round() as u64 == secs;
        assert!(about(s.renewal(&expiring(100)), 90), "the default margin");
        // A margin as long as the token's life: renewed in its last tenth, not at once.
        assert!(about(s.renewal(&expiring(10)), 2));
        assert!(about(s.renewal(&expiring(50)), 40));
        assert!(about(s.renewal(&expiring(5)), 2), "never sooner than 2 s");
        // A lifetime beyond Go's int32 is cut to it.
        let url = endpoint(|_, _| {
            reply(
                "200 OK",
                "application/json",
                r#"{"access_token":"a","expires_in":99999999999999}"#,
            )
        });
        let t = source("custom", &url).token().unwrap();
        let left = t
            .expires
            .unwrap()
            .duration_since(SystemTime::now())
            .unwrap();
        assert!(about(left, i32::MAX as u64), "{left:?}");
    }
}
