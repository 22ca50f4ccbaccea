//! W5, end-to-end alert latency: single-point writes that cross a threshold, timed from just
//! before the `POST /write` to the moment the alert's `post` handler reaches a receiver here
//! on 127.0.0.1, while the main load (if any) runs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// When each probe's alert arrived, by sequence number.
type Arrivals = Arc<Mutex<Vec<Option<Instant>>>>;

pub struct Probe {
    url: String,
    db: String,
    rp: String,
    task: String,
    arrivals: Arrivals,
}

/// Latencies in microseconds, sorted.
pub struct Latencies(pub Vec<u64>);

impl Latencies {
    pub fn percentile(&self, p: f64) -> u64 {
        if self.0.is_empty() {
            return 0;
        }
        let i = ((self.0.len() as f64 * p / 100.0).ceil() as usize).clamp(1, self.0.len()) - 1;
        self.0[i]
    }
}

impl Probe {
    /// Starts the receiver and defines the probe task (`<task>`, replaced if it exists).
    pub fn start(
        agent: &ureq::Agent,
        url: &str,
        db: &str,
        rp: &str,
        task: &str,
        n: usize,
    ) -> Result<Probe> {
        let listener = TcpListener::bind("127.0.0.1:0").context("binding the receiver")?;
        let port = listener.local_addr()?.port();
        let arrivals: Arrivals = Arc::new(Mutex::new(vec![None; n]));
        let sink = arrivals.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let sink = sink.clone();
                std::thread::spawn(move || serve(conn, &sink));
            }
        });
        let script = format!(
            "stream|from().measurement('probe')|alert().crit(lambda: \"value\" > 90.0).post('http://127.0.0.1:{port}/')"
        );
        let tasks = format!("{url}/kapacitor/v1/tasks");
        agent.delete(format!("{tasks}/{task}")).call().ok();
        let body = json!({
            "id": task, "type": "stream", "status": "enabled", "script": script,
            "dbrps": [{"db": db, "rp": rp}],
        });
        let mut r = agent.post(&tasks).send(body.to_string().as_bytes())?;
        if r.status().as_u16() != 200 {
            bail!(
                "defining the probe task: HTTP {}: {}",
                r.status(),
                r.body_mut().read_to_string().unwrap_or_default()
            );
        }
        Ok(Probe {
            url: url.to_owned(),
            db: db.to_owned(),
            rp: rp.to_owned(),
            task: task.to_owned(),
            arrivals,
        })
    }

    /// Sends the probes, `every` apart, and waits for their alerts (up to 5 s after the
    /// last); the latencies of those that arrived, and how many did not.
    pub fn run(&self, every: Duration) -> Result<(Latencies, usize)> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let write = format!(
            "{}/write?db={}&rp={}&precision=ns",
            self.url, self.db, self.rp
        );
        let n = self.arrivals.lock().expect("lock").len();
        let mut sent = Vec::with_capacity(n);
        let start = Instant::now();
        for seq in 0..n {
            let due = start + every * seq as u32;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let ts = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_nanos();
            let body = format!("probe,host=p value=95,seq={seq}i {ts}\n");
            let at = Instant::now();
            let r = agent.post(&write).send(body.as_bytes())?;
            if r.status().as_u16() != 204 {
                bail!("probe write: HTTP {}", r.status());
            }
            sent.push(at);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline
            && self
                .arrivals
                .lock()
                .expect("lock")
                .iter()
                .any(Option::is_none)
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        let arrivals = self.arrivals.lock().expect("lock").clone();
        let mut micros: Vec<u64> = sent
            .iter()
            .zip(&arrivals)
            .filter_map(|(s, a)| Some(a.as_ref()?.saturating_duration_since(*s).as_micros() as u64))
            .collect();
        micros.sort_unstable();
        let missing = n - micros.len();
        agent
            .delete(format!("{}/kapacitor/v1/tasks/{}", self.url, self.task))
            .call()
            .ok();
        Ok((Latencies(micros), missing))
    }
}

/// One keep-alive connection from the server's `post` handler: each request's alert is
/// stamped on arrival with the probe's `seq` field.
fn serve(conn: TcpStream, arrivals: &Arrivals) {
    let _ = conn.set_nodelay(true);
    let mut out = match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    };
    let mut r = BufReader::new(conn);
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        // Request line and headers.
        loop {
            line.clear();
            match r.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        let now = Instant::now();
        if let Some(seq) = seq_of(&body) {
            let mut a = arrivals.lock().expect("lock");
            if let Some(slot) = a.get_mut(seq)
                && slot.is_none()
            {
                *slot = Some(now);
            }
        }
        if out
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

/// The `seq` field of an alert's data (Kapacitor's event JSON).
fn seq_of(body: &[u8]) -> Option<usize> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let series = &v["data"]["series"][0];
    let i = series["columns"]
        .as_array()?
        .iter()
        .position(|c| c == "seq")?;
    series["values"][0][i].as_u64().map(|s| s as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sequence_is_read_from_the_event() {
        let body = br#"{"id":"x","data":{"series":[{"name":"probe","columns":["time","seq","value"],"values":[["t",17,95]]}]}}"#;
        assert_eq!(seq_of(body), Some(17));
        assert_eq!(seq_of(b"{}"), None);
    }

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let l = Latencies((1..=100).collect());
        assert_eq!(l.percentile(50.0), 50);
        assert_eq!(l.percentile(99.0), 99);
        assert_eq!(Latencies(vec![5]).percentile(99.0), 5);
    }
}
