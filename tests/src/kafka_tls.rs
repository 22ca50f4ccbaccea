//! A Kafka broker that wants TLS, or SASL (PLAIN, OAUTHBEARER or GSSAPI), or both: one broker of librdkafka's mock
//! cluster behind a proxy on 127.0.0.1 that terminates TLS and authenticates as a Kafka
//! broker does (`SaslHandshake`, then `SaslAuthenticate`), then passes requests through.
//! The broker advertises the proxy as its address, so clients come back to it after
//! bootstrapping. With TLS, connections in the clear (the test's consumer) pass straight
//! through; without, every connection authenticates (the consumer too).

use std::ffi::{CStr, CString};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rdkafka::ClientConfig;
use rdkafka::bindings as rd;
use rdkafka::client::{Client, DefaultClientContext};
use rdkafka::types::RDKafkaType;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::gssapi::{Acceptor, Step};
use crate::kafka::{KafkaMessage, read_topic};

const API_VERSIONS: i16 = 18;
const SASL_HANDSHAKE: i16 = 17;
const SASL_AUTHENTICATE: i16 = 36;

pub struct SecureKafka {
    cluster: *mut rd::rd_kafka_mock_cluster_t,
    _client: Client<DefaultClientContext>,
    port: u16,
    /// What happened at the proxy: `tls`, `authenticated <user>`, `refused <user>`
    /// (OAUTHBEARER: the token, then its extensions as `k=v`), `unauthenticated request`.
    log: Arc<Mutex<Vec<String>>>,
    /// The clients' connections to the proxy.
    connections: Arc<Mutex<Vec<TcpStream>>>,
    /// What the test's consumer logs in with: SASL without TLS asks it of everyone.
    credentials: Option<(String, String)>,
}

// The mock cluster is driven by its own thread; its functions lock what they touch.
unsafe impl Send for SecureKafka {}
unsafe impl Sync for SecureKafka {}

/// How clients log in to the broker.
#[derive(Clone, Debug)]
pub enum Login {
    /// SASL/PLAIN with this user and password.
    Plain(String, String),
    /// SASL/OAUTHBEARER with any of these tokens (the test may change them, and then
    /// [`SecureKafka::drop_connections`] to have clients log in again).
    Bearer(Arc<Mutex<Vec<String>>>),
    /// SASL/GSSAPI (Kerberos) to a service principal in this keytab; the test's consumer
    /// logs in with PLAIN as [`READER`].
    Gssapi(PathBuf),
}

/// The user and password of the test's consumer where clients log in with GSSAPI.
pub const READER: (&str, &str) = ("reader", "reader-password");

/// A login in progress on one connection.
enum Session {
    Once(Login),
    Kerberos(Box<Acceptor>),
}

/// What a `SaslAuthenticate` request led to.
enum Outcome {
    /// A token for the client, which goes on.
    More(Vec<u8>),
    /// Logged in (or not), naming whom.
    Done(bool, String),
}

impl Session {
    fn step(&mut self, auth: &[u8]) -> Outcome {
        match self {
            Session::Once(login) => {
                let (good, who) = login.check(auth);
                Outcome::Done(good, who)
            }
            Session::Kerberos(acceptor) => match acceptor.step(auth) {
                Ok(Step::Challenge(token)) => Outcome::More(token),
                Ok(Step::Done(who)) => Outcome::Done(true, who),
                Err(e) => Outcome::Done(false, e),
            },
        }
    }
}

impl Login {
    pub fn plain(user: &str, password: &str) -> Option<Login> {
        Some(Login::Plain(user.into(), password.into()))
    }

    /// What the broker offers; GSSAPI's PLAIN is for the test's consumer only.
    fn mechanisms(&self) -> &'static [&'static str] {
        match self {
            Login::Plain(..) => &["PLAIN"],
            Login::Bearer(_) => &["OAUTHBEARER"],
            Login::Gssapi(_) => &["GSSAPI", "PLAIN"],
        }
    }

    /// A login by `mechanism`, if offered.
    fn session(&self, mechanism: &str) -> Option<Session> {
        match (self, mechanism) {
            (Login::Gssapi(keytab), "GSSAPI") => Some(Session::Kerberos(Box::new(
                Acceptor::new(keytab).expect("the broker's keytab"),
            ))),
            (Login::Gssapi(_), "PLAIN") => Some(Session::Once(Login::Plain(
                READER.0.into(),
                READER.1.into(),
            ))),
            _ if self.mechanisms().contains(&mechanism) => Some(Session::Once(self.clone())),
            _ => None,
        }
    }

    /// Whether `auth` (a `SaslAuthenticate` request's bytes) logs in, and who it names.
    fn check(&self, auth: &[u8]) -> (bool, String) {
        match self {
            Login::Plain(user, password) => {
                // Authorization id, user and password, NUL-separated.
                let parts: Vec<&[u8]> = auth.split(|b| *b == 0).collect();
                let given = parts
                    .get(1)
                    .map(|u| String::from_utf8_lossy(u).into_owned());
                let good = parts.len() == 3
                    && parts[1] == user.as_bytes()
                    && parts[2] == password.as_bytes();
                (good, given.unwrap_or_default())
            }
            Login::Bearer(tokens) => {
                // RFC 7628: `n,,` ^A `auth=Bearer <token>` ^A (key=value ^A)* ^A
                let text = String::from_utf8_lossy(auth);
                let mut parts = text.split('\x01').filter(|p| !p.is_empty());
                let header = parts.next().unwrap_or_default();
                let mut token = None;
                let mut extensions = Vec::new();
                for p in parts {
                    match p.strip_prefix("auth=Bearer ") {
                        Some(t) => token = Some(t.to_owned()),
                        None => extensions.push(p.to_owned()),
                    }
                }
                let token = token.unwrap_or_default();
                let good = header == "n,," && tokens.lock().unwrap().contains(&token);
                extensions.insert(0, token);
                (good, extensions.join(" "))
            }
            Login::Gssapi(_) => unreachable!("GSSAPI logins are sessions"),
        }
    }
}

impl SecureKafka {
    /// TLS with the certificate and key of `tls` (PEM files) if given, and SASL with
    /// `login` if given.
    pub fn start(tls: Option<(&Path, &Path)>, login: Option<Login>) -> SecureKafka {
        let config = ClientConfig::new();
        let client = Client::new(
            &config,
            config.create_native_config().expect("a client config"),
            RDKafkaType::RD_KAFKA_PRODUCER,
            DefaultClientContext,
        )
        .expect("a client for the mock cluster");
        let cluster = unsafe { rd::rd_kafka_mock_cluster_new(client.native_ptr(), 1) };
        assert!(!cluster.is_null(), "starting the mock Kafka cluster");
        let upstream: SocketAddr =
            unsafe { CStr::from_ptr(rd::rd_kafka_mock_cluster_bootstraps(cluster)) }
                .to_str()
                .expect("bootstraps")
                .parse()
                .expect("one broker's address");

        let tls = tls.map(|(cert, key)| {
            let certs = CertificateDer::pem_file_iter(cert)
                .expect("the certificate")
                .collect::<Result<Vec<_>, _>>()
                .expect("the certificate");
            let key = PrivateKeyDer::from_pem_file(key).expect("the key");
            Arc::new(
                ServerConfig::builder_with_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .expect("TLS versions")
                .with_no_client_auth()
                .with_single_cert(certs, key)
                .expect("certificate and key"),
            )
        });
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port for the proxy");
        let port = listener.local_addr().unwrap().port();
        let host = CString::new("127.0.0.1").unwrap();
        unsafe { rd::rd_kafka_mock_broker_set_host_port(cluster, 1, host.as_ptr(), port.into()) };

        let log = Arc::new(Mutex::new(Vec::new()));
        let with_tls = tls.is_some();
        let credentials = match &login {
            Some(Login::Plain(user, password)) if !with_tls => {
                Some((user.clone(), password.clone()))
            }
            Some(Login::Gssapi(_)) if !with_tls => Some((READER.0.into(), READER.1.into())),
            _ => None,
        };
        let connections = Arc::new(Mutex::new(Vec::new()));
        let proxy = Proxy {
            upstream,
            tls,
            login,
            log: log.clone(),
            connections: connections.clone(),
        };
        let proxy = Arc::new(proxy);
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let proxy = proxy.clone();
                std::thread::spawn(move || {
                    let _ = proxy.serve(conn);
                });
            }
        });
        SecureKafka {
            cluster,
            _client: client,
            port,
            log,
            connections,
            credentials,
        }
    }

    /// The broker's address as clients are given it.
    pub fn broker(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn create_topic(&self, topic: &str, partitions: i32) {
        let name = CString::new(topic).unwrap();
        let err =
            unsafe { rd::rd_kafka_mock_topic_create(self.cluster, name.as_ptr(), partitions, 1) };
        assert_eq!(
            err,
            rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR,
            "creating {topic}"
        );
    }

    /// Reads `topic` (without TLS; logging in with PLAIN if the broker wants it) until `n`
    /// messages came or 15 s passed.
    pub fn read(&self, topic: &str, n: usize) -> Vec<KafkaMessage> {
        let sasl = match &self.credentials {
            Some((user, password)) => vec![
                ("security.protocol", "sasl_plaintext"),
                ("sasl.mechanism", "PLAIN"),
                ("sasl.username", user.as_str()),
                ("sasl.password", password.as_str()),
            ],
            None => Vec::new(),
        };
        read_topic(&self.broker(), topic, n, &sasl)
    }

    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Closes every client's connection: they connect and log in again.
    pub fn drop_connections(&self) {
        for c in self.connections.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for SecureKafka {
    fn drop(&mut self) {
        unsafe { rd::rd_kafka_mock_cluster_destroy(self.cluster) };
    }
}

struct Proxy {
    upstream: SocketAddr,
    tls: Option<Arc<ServerConfig>>,
    login: Option<Login>,
    log: Arc<Mutex<Vec<String>>>,
    connections: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn serve(&self, conn: TcpStream) -> io::Result<()> {
        self.connections.lock().unwrap().push(conn.try_clone()?);
        let mut up = TcpStream::connect(self.upstream)?;
        let mut first = [0u8; 1];
        if conn.peek(&mut first)? == 0 {
            return Ok(());
        }
        match (first[0] == 0x16, &self.tls) {
            (true, Some(tls)) => {
                let session =
                    rustls::ServerConnection::new(tls.clone()).map_err(io::Error::other)?;
                self.log.lock().unwrap().push("tls".into());
                self.requests(rustls::StreamOwned::new(session, conn), up)
            }
            // A TLS handshake where there is no TLS: nothing to say.
            (true, None) => Ok(()),
            (false, None) if self.login.is_some() => self.requests(conn, up),
            (false, _) => {
                // A client in the clear, passed through both ways.
                let (mut from, mut to) = (conn.try_clone()?, up.try_clone()?);
                std::thread::spawn(move || {
                    let _ = io::copy(&mut from, &mut to);
                    let _ = to.shutdown(Shutdown::Write);
                });
                let mut conn = conn;
                let _ = io::copy(&mut up, &mut conn);
                let _ = conn.shutdown(Shutdown::Both);
                Ok(())
            }
        }
    }

    /// Serves `client`'s requests: the SASL ones here, the others (once authenticated)
    /// by the broker.
    fn requests(&self, mut client: impl Read + Write, mut up: TcpStream) -> io::Result<()> {
        let mut authenticated = self.login.is_none();
        let mut session = None;
        // Requests one at a time: clients wait for each response (the producer's acks),
        // so nothing is lost by not pipelining.
        while let Some(request) = read_frame(&mut client)? {
            let key = i16::from_be_bytes([request[0], request[1]]);
            let version = i16::from_be_bytes([request[2], request[3]]);
            let correlation = &request[4..8];
            let client_id_len = i16::from_be_bytes([request[8], request[9]]).max(0) as usize;
            let body = &request[10 + client_id_len..];
            match (key, &self.login) {
                (SASL_HANDSHAKE, Some(login)) => {
                    session = login.session(&string(body));
                    let offered = login.mechanisms();
                    let mut out = Vec::new();
                    let error: i16 = if session.is_some() { 0 } else { 33 };
                    out.extend_from_slice(&error.to_be_bytes());
                    out.extend_from_slice(&(offered.len() as i32).to_be_bytes());
                    for m in offered {
                        out.extend_from_slice(&(m.len() as i16).to_be_bytes());
                        out.extend_from_slice(m.as_bytes());
                    }
                    write_frame(&mut client, correlation, &out)?;
                }
                (SASL_AUTHENTICATE, Some(_)) => {
                    let len = i32::from_be_bytes(body[..4].try_into().unwrap()).max(0) as usize;
                    let outcome = match &mut session {
                        Some(s) => s.step(&body[4..4 + len]),
                        None => Outcome::Done(false, "no SaslHandshake".into()),
                    };
                    let (good, token) = match outcome {
                        Outcome::More(token) => (true, Some(token)),
                        Outcome::Done(good, given) if good => {
                            self.log
                                .lock()
                                .unwrap()
                                .push(format!("authenticated {given}"));
                            authenticated = true;
                            (true, None)
                        }
                        Outcome::Done(_, given) => {
                            self.log.lock().unwrap().push(format!("refused {given}"));
                            (false, None)
                        }
                    };
                    let mut out = Vec::new();
                    if good {
                        out.extend_from_slice(&0i16.to_be_bytes());
                        out.extend_from_slice(&(-1i16).to_be_bytes());
                    } else {
                        let message = b"Authentication failed: Invalid username or password";
                        out.extend_from_slice(&58i16.to_be_bytes());
                        out.extend_from_slice(&(message.len() as i16).to_be_bytes());
                        out.extend_from_slice(message);
                    }
                    let token = token.as_deref().unwrap_or_default();
                    out.extend_from_slice(&(token.len() as i32).to_be_bytes());
                    out.extend_from_slice(token);
                    if version >= 1 {
                        out.extend_from_slice(&0i64.to_be_bytes());
                    }
                    write_frame(&mut client, correlation, &out)?;
                    if !good {
                        return Ok(());
                    }
                }
                _ if key != API_VERSIONS && !authenticated => {
                    self.log
                        .lock()
                        .unwrap()
                        .push("unauthenticated request".into());
                    return Ok(());
                }
                _ => {
                    up.write_all(&(request.len() as i32).to_be_bytes())?;
                    up.write_all(&request)?;
                    let Some(mut response) = read_frame(&mut up)? else {
                        return Ok(());
                    };
                    if key == API_VERSIONS && self.login.is_some() {
                        advertise_sasl(&mut response);
                    }
                    client.write_all(&(response.len() as i32).to_be_bytes())?;
                    client.write_all(&response)?;
                    client.flush()?;
                }
            }
        }
        Ok(())
    }
}

/// Makes the mock's `ApiVersions` answer offer SASL: its entries for two transaction APIs
/// a producer without transactions never uses (AddPartitionsToTxn and AddOffsetsToTxn,
/// versions 0 to 1) become `SaslAuthenticate` and `SaslHandshake` (0 to 1), whatever the
/// answer's encoding. An error answer (a version the mock does not speak, which the client
/// retries lower) passes as it is.
fn advertise_sasl(response: &mut [u8]) {
    if response[4..6] != [0, 0] {
        return;
    }
    for (from, to) in [(24u8, SASL_AUTHENTICATE as u8), (25, SASL_HANDSHAKE as u8)] {
        let entry = [0, from, 0, 0, 0, 1];
        let at = response
            .windows(6)
            .position(|w| w == entry)
            .unwrap_or_else(|| panic!("the mock offers no transaction APIs: {response:?}"));
        response[at + 1] = to;
    }
}

/// A Kafka string: an i16 length and its bytes.
fn string(b: &[u8]) -> String {
    let len = i16::from_be_bytes([b[0], b[1]]).max(0) as usize;
    String::from_utf8_lossy(&b[2..2 + len]).into_owned()
}

/// One request or response: an i32 length and that many bytes; `None` at the end.
fn read_frame(r: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut frame = vec![0; i32::from_be_bytes(len).max(0) as usize];
    r.read_exact(&mut frame)?;
    Ok(Some(frame))
}

/// A response (header v0: the correlation id) with `body`.
fn write_frame(w: &mut impl Write, correlation: &[u8], body: &[u8]) -> io::Result<()> {
    w.write_all(&((4 + body.len()) as i32).to_be_bytes())?;
    w.write_all(correlation)?;
    w.write_all(body)?;
    w.flush()
}
