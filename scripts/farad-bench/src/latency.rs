//! W5, end-to-end alert latency: single-point writes that cross a threshold, timed from just
//! before the `POST /write` to the moment the alert's `post` handler reaches a receiver here
//! on 127.0.0.1, while the main load (if any) runs. Two moments of reaching it: when the
//! receiver's thread has read the request, and when the request arrived at its socket (the
//! kernel's receive timestamp, `SO_TIMESTAMPNS`), which leaves out how long this process
//! waited to be scheduled.

use std::os::fd::AsRawFd;

use std::io::{BufRead, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// When each probe's alert arrived, by sequence number.
type Arrivals = Arc<Mutex<Vec<Option<Arrival>>>>;

#[derive(Clone, Copy)]
struct Arrival {
    /// When the receiver had read it.
    read: Instant,
    /// When its last bytes reached the socket (nanoseconds of the real-time clock).
    arrived_ns: Option<i128>,
}

/// Nanoseconds of the real-time clock, the kernel's receive timestamps' clock.
fn now_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

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
    /// last); the latencies of those that arrived (until read, until they reached the
    /// socket), and how many did not.
    pub fn run(&self, every: Duration) -> Result<(Latencies, Latencies, usize)> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        // One keep-alive connection, each request in one write: nothing of an HTTP client's
        // own work lies between the stamp and the request leaving.
        let host = self.url.trim_start_matches("http://").trim_end_matches('/');
        let mut conn = std::net::TcpStream::connect(host).context("connecting for probes")?;
        conn.set_nodelay(true)?;
        let mut reader = std::io::BufReader::new(conn.try_clone()?);
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
            let (at, at_ns) = (Instant::now(), now_ns());
            let body = format!("probe,host=p value=95,seq={seq}i {ts}\n");
            let request = format!(
                "POST /write?db={}&rp={}&precision=ns HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n\r\n{body}",
                self.db,
                self.rp,
                body.len()
            );
            conn.write_all(request.as_bytes())?;
            let status = read_response(&mut reader)?;
            if status != 204 {
                bail!("probe write: HTTP {status}");
            }
            sent.push((at, at_ns));
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
            .filter_map(|((s, _), a)| {
                Some(a.as_ref()?.read.saturating_duration_since(*s).as_micros() as u64)
            })
            .collect();
        micros.sort_unstable();
        let mut arrived: Vec<u64> = sent
            .iter()
            .zip(&arrivals)
            .filter_map(|((_, s), a)| Some(((a.as_ref()?.arrived_ns? - s).max(0) / 1000) as u64))
            .collect();
        arrived.sort_unstable();
        let missing = n - micros.len();
        agent
            .delete(format!("{}/kapacitor/v1/tasks/{}", self.url, self.task))
            .call()
            .ok();
        Ok((Latencies(micros), Latencies(arrived), missing))
    }
}

/// Reads one response of a keep-alive connection; its status.
fn read_response(r: &mut impl BufRead) -> Result<u16> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {line:?}"))?;
    let mut length = 0usize;
    loop {
        line.clear();
        r.read_line(&mut line)?;
        if line.trim_end().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse()?;
        }
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body)?;
    Ok(status)
}

/// One keep-alive connection from the server's `post` handler: each request's alert is
/// stamped with the probe's `seq` field when read, and with the kernel's receive time of the
/// last read that completed it.
fn serve(mut conn: TcpStream, arrivals: &Arrivals) {
    // The receiver stands for a service on another machine: where allowed it does not queue
    // for a CPU behind the load generator's own threads (the kernel's receive stamp is
    // taken either way).
    let param = libc::sched_param { sched_priority: 1 };
    // SAFETY: this thread (0), a valid parameter; failing leaves it as it was.
    unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    let _ = conn.set_nodelay(true);
    let on: libc::c_int = 1;
    // SAFETY: a valid socket and option value of the size given.
    let stamped = unsafe {
        libc::setsockopt(
            conn.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    } == 0;
    if !stamped {
        eprintln!(
            "receive timestamps unavailable: {}",
            std::io::Error::last_os_error()
        );
    }
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut arrived_ns = None;
    loop {
        while let Some((used, body)) = request(&pending) {
            let read = Instant::now();
            if let Some(seq) = seq_of(&pending[body]) {
                let mut a = arrivals.lock().expect("lock");
                if let Some(slot) = a.get_mut(seq)
                    && slot.is_none()
                {
                    *slot = Some(Arrival { read, arrived_ns });
                }
            }
            pending.drain(..used);
            if conn
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                .is_err()
            {
                return;
            }
        }
        match receive(&conn, &mut chunk) {
            Ok((0, _)) | Err(_) => return,
            Ok((n, ts)) => {
                pending.extend_from_slice(&chunk[..n]);
                // The read that completes a request stamps it.
                arrived_ns = ts;
            }
        }
    }
}

/// The length of the first whole HTTP request in `buf` and where its body lies.
fn request(buf: &[u8]) -> Option<(usize, std::ops::Range<usize>)> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..head_end]).ok()?;
    let length: usize = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    (buf.len() >= head_end + length).then_some((head_end + length, head_end..head_end + length))
}

/// One `recvmsg`: the bytes read and the kernel's receive timestamp of what was read.
fn receive(conn: &TcpStream, buf: &mut [u8]) -> std::io::Result<(usize, Option<i128>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut control = [0u64; 16];
    // SAFETY: msghdr is plain data; every pointer in it outlives the call, and the control
    // messages are read within the length the kernel reports.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        let n = libc::recvmsg(conn.as_raw_fd(), &mut msg, 0);
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut ts = None;
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let t: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                ts = Some(t.tv_sec as i128 * 1_000_000_000 + t.tv_nsec as i128);
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
        Ok((n as usize, ts))
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
