//! `[[udp]]` listeners: one line-protocol packet per datagram, into a configured db/rp.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use anyhow::{Context, Result};
use farad_runtime::lineproto::Precision;
use tokio::net::UdpSocket;

use super::Ingest;
use crate::config::Udp;

/// Counters of one listener (Kapacitor's `udp` statistics).
#[derive(Default)]
pub struct UdpStats {
    pub bind: String,
    pub points_rx: AtomicU64,
    pub bytes_rx: AtomicU64,
    pub points_parse_fail: AtomicU64,
}

/// Binds the listener; the returned future serves until `shutdown` resolves.
pub async fn bind(
    config: &Udp,
    ingest: Arc<Ingest>,
    now: fn() -> i64,
) -> Result<(Arc<UdpStats>, impl Future<Output = ()> + use<>)> {
    let addr = config.socket_addr()?;
    let socket = UdpSocket::bind(addr)
        .await
        .with_context(|| format!("binding udp listener {addr}"))?;
    let local = socket.local_addr()?;
    let stats = Arc::new(UdpStats {
        bind: local.to_string(),
        ..UdpStats::default()
    });
    let precision = Precision::parse(&config.precision).unwrap_or_default();
    let (db, rp) = (config.database.clone(), config.retention_policy.clone());
    let st = stats.clone();
    tracing::info!(addr = %local, db, rp, "udp listener started");
    let serve = async move {
        // A UDP datagram is at most 64 KiB.
        let mut buf = vec![0u8; 65_536];
        loop {
            let n = match socket.recv(&mut buf).await {
                Ok(n) => n,
                Err(error) => {
                    tracing::warn!(%error, "udp receive failed");
                    continue;
                }
            };
            st.bytes_rx.fetch_add(n as u64, Relaxed);
            let out = ingest.write(&db, &rp, precision, &buf[..n], now());
            st.points_rx.fetch_add(out.accepted as u64, Relaxed);
            if out.rejected > 0 {
                st.points_parse_fail.fetch_add(out.rejected as u64, Relaxed);
                if let Some(msg) = out.message() {
                    tracing::debug!(error = %msg, "udp packet had bad lines");
                }
            }
        }
    };
    Ok((stats, serve))
}
