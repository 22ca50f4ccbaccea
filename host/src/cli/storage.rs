//! `backup` (over the API, as Kapacitor's CLI) and `restore` (offline, into a data dir).

use std::path::Path;

use anyhow::{Context, Result, bail};

use super::client::Client;

/// Saves the server's backup to `file`, refusing a short download.
pub fn backup(c: &Client, file: &Path) -> Result<()> {
    let tmp = file.with_extension("partial");
    let mut out = std::fs::File::create(&tmp)
        .with_context(|| format!("failed to create backup file {}", tmp.display()))?;
    let (n, announced) = c
        .download("/storage/backup", &mut out)
        .context("failed to perform backup")?;
    out.sync_all()?;
    drop(out);
    if let Some(size) = announced.filter(|s| *s != n) {
        let _ = std::fs::remove_file(&tmp);
        bail!(
            "failed to download entire backup, only wrote {n} bytes out of a total {size} bytes."
        );
    }
    std::fs::rename(&tmp, file).context("failed to save backup")?;
    Ok(())
}

/// Puts a backup into the data dir of `config` (the daemon must not be running there).
pub fn restore(file: &Path, config: Option<&Path>, force: bool) -> Result<()> {
    let config = crate::config::Config::load(config)?;
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let r = crate::backup::restore(&bytes, &config, force)?;
    println!(
        "restored {} files (from Farad {}, {}) into {}",
        r.files,
        r.manifest["farad"].as_str().unwrap_or("?"),
        r.manifest["created"].as_str().unwrap_or("?"),
        config.data_dir.display()
    );
    Ok(())
}
