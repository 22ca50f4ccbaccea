//! The HTTP listener: connections accepted here (over TLS with `[http] https-enabled`) and
//! served by hyper. Requests go to warp's routes, but for the log stream
//! (`/kapacitor/v1preview/logs`), whose body has no end, which warp cannot send; and other
//! `/kapacitor/v1preview/...` paths are the `/kapacitor/v1/...` ones, as Kapacitor has them.
//!
//! `https-certificate` is a PEM file with the certificate chain, and the private key too
//! unless `https-private-key` names another file.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

use crate::config::Http;

/// The TLS settings of `[http]`, read and checked (a start-up error names the file).
pub fn acceptor(http: &Http) -> Result<TlsAcceptor> {
    let cert_path = Path::new(&http.https_certificate);
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_path)
        .with_context(|| format!("reading https-certificate {}", cert_path.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("reading https-certificate {}", cert_path.display()))?;
    if certs.is_empty() {
        bail!(
            "https-certificate {} holds no certificate",
            cert_path.display()
        );
    }
    let key_path = if http.https_private_key.is_empty() {
        cert_path
    } else {
        Path::new(&http.https_private_key)
    };
    let key = PrivateKeyDer::from_pem_file(key_path)
        .with_context(|| format!("reading the private key in {}", key_path.display()))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the https certificate and key do not go together")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

type BoxBody = http_body_util::combinators::BoxBody<bytes::Bytes, BoxError>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serves the API until `stop` resolves, then lets open connections finish for up to
/// `grace`.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    state: Arc<crate::server::State>,
    stop: impl Future<Output = ()>,
    grace: Duration,
) {
    let routes = warp::service(crate::http::routes(state.clone()));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let tls = tls.clone();
        // warp's routes once per connection; a request only locks them to start its future.
        let routes = Arc::new(parking_lot::Mutex::new(routes.clone()));
        let state = state.clone();
        let service = hyper::service::service_fn(move |req| {
            let (routes, state) = (routes.clone(), state.clone());
            async move { Ok::<_, std::convert::Infallible>(route(&routes, state, req).await) }
        });
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            // HTTP/1.1 only, as Kapacitor's API is.
            let builder = hyper::server::conn::http1::Builder::new();
            let served =
                match tls {
                    None => {
                        let conn = builder.serve_connection(TokioIo::new(tcp), service);
                        watcher.watch(conn).await
                    }
                    Some(tls) => {
                        let stream =
                            match tokio::time::timeout(Duration::from_secs(10), tls.accept(tcp))
                                .await
                            {
                                Ok(Ok(s)) => s,
                                Ok(Err(e)) => {
                                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                    return;
                                }
                                Err(_) => {
                                    tracing::debug!(%peer, "TLS handshake timed out");
                                    return;
                                }
                            };
                        let conn = builder.serve_connection(TokioIo::new(stream), service);
                        watcher.watch(conn).await
                    }
                };
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, "http connection");
            }
        });
    }
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("open connections did not finish within the shutdown timeout");
    }
}

async fn route<F>(
    routes: &parking_lot::Mutex<F>,
    state: Arc<crate::server::State>,
    mut req: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<BoxBody>
where
    F: tower_service::Service<
            hyper::Request<hyper::body::Incoming>,
            Response = warp::reply::Response,
            Error = std::convert::Infallible,
        >,
{
    use http_body_util::BodyExt;
    const PREVIEW: &str = "/kapacitor/v1preview";
    let path = req.uri().path();
    if path == "/kapacitor/v1preview/logs" {
        return crate::http::logs::serve(&state, req).await;
    }
    if let Some(rest) = path.strip_prefix(PREVIEW).filter(|r| r.starts_with('/')) {
        let pq = match req.uri().query() {
            Some(q) => format!("/kapacitor/v1{rest}?{q}"),
            None => format!("/kapacitor/v1{rest}"),
        };
        if let Ok(uri) = pq.parse() {
            *req.uri_mut() = uri;
        }
    }
    let answer = routes.lock().call(req);
    match answer.await {
        Ok(resp) => resp.map(|b| b.map_err(|e| Box::new(e) as BoxError).boxed()),
        Err(never) => match never {},
    }
}
