//! Logging with `tracing`: Kapacitor's levels and destinations, changeable while running.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use tracing_subscriber::{EnvFilter, fmt, prelude::*, reload};

use crate::config::Logging;

/// Changes the log level of a running daemon (`POST /kapacitor/v1/loglevel`).
#[derive(Clone)]
pub struct LevelHandle {
    set: Arc<SetLevel>,
}

type SetLevel = dyn Fn(&str) -> Result<()> + Send + Sync;

impl LevelHandle {
    /// Sets the level: `debug`, `info`, `warn`, `error` or `off`, in any case.
    pub fn set(&self, level: &str) -> Result<()> {
        (self.set)(level)
    }
}

/// Kapacitor's level names to a filter directive.
pub fn parse_level(level: &str) -> Result<&'static str> {
    Ok(match level.to_ascii_lowercase().as_str() {
        "debug" => "debug",
        "info" => "info",
        "warn" | "warning" => "warn",
        "error" => "error",
        "off" => "off",
        _ => bail!("invalid log level {level:?}: expected one of debug, info, warn, error, off"),
    })
}

/// Installs the global subscriber. `RUST_LOG`, when set, refines the configured level.
pub fn init(config: &Logging) -> Result<LevelHandle> {
    let level = parse_level(&config.level)?;
    let filter = |lvl: &str| match std::env::var("RUST_LOG") {
        Ok(extra) if !extra.is_empty() => EnvFilter::new(format!("{lvl},{extra}")),
        _ => EnvFilter::new(lvl),
    };
    let (filter_layer, handle) = reload::Layer::new(filter(level));
    let writer: fmt::writer::BoxMakeWriter = match config.file.as_str() {
        "" | "STDERR" => fmt::writer::BoxMakeWriter::new(std::io::stderr),
        "STDOUT" => fmt::writer::BoxMakeWriter::new(std::io::stdout),
        path => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening log file {path}"))?;
            fmt::writer::BoxMakeWriter::new(Arc::new(file))
        }
    };
    tracing_subscriber::registry()
        .with(filter_layer)
        .with(fmt::layer().with_writer(writer).with_ansi(false))
        .with(crate::log_sessions::SessionLayer)
        .try_init()
        .context("installing the logger")?;
    Ok(LevelHandle {
        set: Arc::new(move |l| {
            let lvl = parse_level(l)?;
            handle.reload(filter(lvl)).context("changing the log level")
        }),
    })
}
