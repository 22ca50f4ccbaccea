//! The server's state from the command line: `level`, `stats general|ingress`, `vars`, as
//! Kapacitor's CLI prints them (from `debug/vars`).

use anyhow::{Result, bail};
use serde_json::{Value, json};

use super::client::Client;

/// `farad level LEVEL`: the server's log level, changed at run time.
pub fn level(c: &Client, level: &str) -> Result<()> {
    c.post(
        "/loglevel",
        json!({ "level": level }).to_string().as_bytes(),
    )?;
    Ok(())
}

/// `farad vars`: the whole `debug/vars` document.
pub fn vars(c: &Client) -> Result<()> {
    let v = c.get("/debug/vars")?;
    // Compact, as the server writes it (Kapacitor's CLI copies the body).
    println!("{v}");
    Ok(())
}

/// `farad stats general` or `farad stats ingress`.
pub fn stats(c: &Client, what: &str) -> Result<()> {
    let v = c.get("/debug/vars")?;
    match what {
        "general" => {
            let s = |k: &str| match &v[k] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            for (label, key) in [
                ("ClusterID:", "cluster_id"),
                ("ServerID:", "server_id"),
                ("Host:", "host"),
                ("Tasks:", "num_tasks"),
                ("Enabled Tasks:", "num_enabled_tasks"),
                ("Subscriptions:", "num_subscriptions"),
                ("Platform:", "platform"),
                ("Version:", "version"),
            ] {
                // Kapacitor's `%-30s%-30s`.
                println!("{label:<30}{:<30}", s(key));
            }
            Ok(())
        }
        "ingress" => {
            let mut rows: Vec<Vec<String>> = v["kapacitor"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(_, s)| s)
                .filter(|s| s["name"] == "ingress" && s["tags"]["task_master"] == "main")
                .map(|s| {
                    let t = |k: &str| s["tags"][k].as_str().unwrap_or("").to_owned();
                    vec![
                        t("database"),
                        t("retention_policy"),
                        t("measurement"),
                        s["values"]["points_received"].to_string(),
                    ]
                })
                .collect();
            rows.sort();
            // Kapacitor's columns: as wide as their longest cell and one space, the count
            // right-aligned in 15.
            use super::client::Col;
            super::client::print_columns(
                &[Col::Grow(8), Col::Grow(16), Col::Grow(11), Col::Right(15)],
                // ("Points Received" is 15 wide: the header lines up as Kapacitor's.)
                &[
                    "Database",
                    "Retention Policy",
                    "Measurement",
                    "Points Received",
                ],
                &rows,
            );
            Ok(())
        }
        other => bail!("unknown stats {other:?}: general or ingress"),
    }
}
