//! A loopback HTTP receiver standing in for the services tasks post to (webhooks, SaaS
//! handlers): it records every request and answers with a chosen status.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU16, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

pub struct HttpSink {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
    /// What answers carry: content type and body.
    reply: Arc<Mutex<(String, Vec<u8>)>>,
    tls: bool,
}

impl HttpSink {
    /// Listens on 127.0.0.1 (any free port) and answers 200 until told otherwise.
    pub fn start() -> HttpSink {
        HttpSink::listen(None)
    }

    /// As [`HttpSink::start`], over TLS with the certificate chain and key of these PEM files.
    pub fn start_tls(cert: &std::path::Path, key: &std::path::Path) -> HttpSink {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .expect("reading the sink's certificate")
            .collect::<Result<_, _>>()
            .expect("the sink's certificate");
        let key = PrivateKeyDer::from_pem_file(key).expect("the sink's key");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("the sink's certificate and key");
        HttpSink::listen(Some(Arc::new(config)))
    }

    fn listen(tls: Option<Arc<rustls::ServerConfig>>) -> HttpSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the sink");
        let addr = listener.local_addr().expect("sink address");
        let received = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(200));
        let reply = Arc::new(Mutex::new((String::new(), b"ok".to_vec())));
        let answer = Answer {
            received: received.clone(),
            status: status.clone(),
            reply: reply.clone(),
        };
        let config = tls.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (answer, config) = (answer.clone(), config.clone());
                std::thread::spawn(move || match config {
                    None => answer.serve(conn),
                    Some(config) => {
                        if let Ok(tls) = rustls::ServerConnection::new(config) {
                            answer.serve(rustls::StreamOwned::new(tls, conn))
                        }
                    }
                });
            }
        });
        HttpSink {
            addr,
            received,
            status,
            reply,
            tls: tls.is_some(),
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The status code of the next answers.
    pub fn answer(&self, code: u16) {
        self.status.store(code, Relaxed);
    }

    /// The content type and body of the next answers (none and `ok` at first).
    pub fn reply_with(&self, content_type: &str, body: &str) {
        *self.reply.lock().unwrap() = (content_type.to_owned(), body.as_bytes().to_vec());
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) until at least `n` requests came in, and returns them all.
    pub fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "the sink got {} requests, expected {n}: {got:?}",
                got.len()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// What a connection's thread records requests into and answers from.
#[derive(Clone)]
struct Answer {
    received: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
    reply: Arc<Mutex<(String, Vec<u8>)>>,
}

impl Answer {
    /// Serves the requests of one keep-alive connection.
    fn serve(&self, conn: impl Read + Write) {
        let mut reader = BufReader::new(conn);
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap_or_default().to_owned();
            let target = parts.next().unwrap_or_default().to_owned();
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 {
                    return;
                }
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
                }
            }
            let len = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            self.received.lock().unwrap().push(Received {
                method,
                target,
                headers,
                body,
            });
            let code = self.status.load(Relaxed);
            let (content_type, body) = self.reply.lock().unwrap().clone();
            let mut reply = format!("HTTP/1.1 {code} X\r\ncontent-length: {}\r\n", body.len());
            if !content_type.is_empty() {
                reply += &format!("content-type: {content_type}\r\n");
            }
            let mut reply = (reply + "\r\n").into_bytes();
            reply.extend_from_slice(&body);
            let conn = reader.get_mut();
            if conn.write_all(&reply).is_err() || conn.flush().is_err() {
                return;
            }
        }
    }
}
