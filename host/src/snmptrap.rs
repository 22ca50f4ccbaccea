//! The `snmpTrap` handler (`[snmptrap]`): SNMPv2c traps over UDP, as Kapacitor sends them —
//! `sysUpTime.0`, `snmpTrapOID.0`, then the handler's data, each value a template over the
//! event.
//!
//! The BER encoding is written here: a trap is one small message of a handful of types, and
//! the SNMP crates build theirs only for the requests they send themselves.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicI32, Ordering::Relaxed};
use std::time::Instant;

use farad_runtime::exec::TopicEvent;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::config::SnmpTrap;

const SYS_UP_TIME: &str = "1.3.6.1.2.1.1.3.0";
const SNMP_TRAP_OID: &str = "1.3.6.1.6.3.1.1.4.1.0";

/// The handler's options (`.snmpTrap(oid).data(oid, type, value)`, or a topic handler's
/// `trap-oid` and `data-list`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TrapOptions {
    #[serde(default)]
    pub trap_oid: String,
    #[serde(default)]
    pub data_list: Vec<TrapData>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrapData {
    pub oid: String,
    /// net-snmp's type letters: `c` counter, `i` integer, `n` null, `s` string, `t` time
    /// ticks, and beyond Kapacitor `u` unsigned, `a` IP address, `o` OID, `x` hex string,
    /// `d` decimal string.
    #[serde(rename = "type")]
    pub kind: String,
    /// A template over the event (`{{.Message}}`).
    #[serde(default)]
    pub value: String,
}

impl TrapOptions {
    /// The options, checked (templates compiled) as when a handler is defined.
    pub fn parse(options: &Map<String, Value>) -> Result<TrapOptions, String> {
        let o = crate::handlers::read_options::<TrapOptions>("snmptrap", options)?;
        oid(&o.trap_oid).map_err(|e| format!("invalid trap Oid {:?}: {e}", o.trap_oid))?;
        for d in &o.data_list {
            oid(&d.oid).map_err(|e| format!("invalid data Oid {:?}: {e}", d.oid))?;
            farad_runtime::template::text("data", &d.value)
                .map_err(|e| format!("invalid data template {:?}: {e}", d.value))?;
            // The type letter is checked here; the value once rendered.
            if !matches!(
                d.kind.as_str(),
                "c" | "i" | "n" | "s" | "t" | "u" | "a" | "o" | "x" | "d"
            ) {
                return Err(format!("Snmptrap Datatype not known: {}", d.kind));
            }
        }
        Ok(o)
    }
}

/// Sends traps to the configured receiver.
pub struct Trapper {
    config: SnmpTrap,
    started: Instant,
    request_id: AtomicI32,
}

impl Trapper {
    pub fn new(config: &SnmpTrap) -> Trapper {
        Trapper {
            config: config.clone(),
            started: Instant::now(),
            request_id: AtomicI32::new(1),
        }
    }

    /// Renders the data's templates over `event` and sends the trap.
    pub fn handle(&self, options: &Map<String, Value>, event: &TopicEvent) -> Result<(), String> {
        // Checked when the handler was defined; its templates are parsed once.
        let mut o = crate::handlers::read_options::<TrapOptions>("snmptrap", options)?;
        if o.data_list.iter().any(|d| d.value.contains("{{")) {
            let data = event.template_data();
            for d in &mut o.data_list {
                d.value = farad_runtime::template::Cache::shared()
                    .text("data", &d.value)
                    .and_then(|t| t.execute(&data))
                    .map_err(|e| format!("failed to handle event: {e}"))?;
            }
        }
        self.trap(&o.trap_oid, &o.data_list)
    }

    /// Sends one trap with `data` (values already rendered).
    pub fn trap(&self, trap_oid: &str, data: &[TrapData]) -> Result<(), String> {
        if !self.config.enabled {
            return Err("service is not enabled".into());
        }
        let uptime = (self.started.elapsed().as_millis() / 10) as u32;
        let id = self.request_id.fetch_add(1, Relaxed) & i32::MAX;
        let message = encode_trap(&self.config.community, id, uptime, trap_oid, data)?;
        let socket = UdpSocket::bind("0.0.0.0:0")
            .or_else(|_| UdpSocket::bind("[::]:0"))
            .map_err(|e| format!("failed to send SNMP trap: {e}"))?;
        socket
            .connect(&self.config.addr)
            .and_then(|()| socket.send(&message))
            .map(|_| ())
            .map_err(|e| format!("failed to send SNMP trap to {}: {e}", self.config.addr))
    }
}

/// An SNMPv2c message holding an SNMPv2-Trap-PDU.
fn encode_trap(
    community: &str,
    request_id: i32,
    uptime: u32,
    trap_oid: &str,
    data: &[TrapData],
) -> Result<Vec<u8>, String> {
    let trap = oid(trap_oid).map_err(|e| format!("invalid trap Oid {trap_oid:?}: {e}"))?;
    let mut binds = Vec::new();
    varbind(&mut binds, &oid(SYS_UP_TIME)?, |v| {
        tlv(v, 0x43, &unsigned(uptime as u64))
    });
    varbind(&mut binds, &oid(SNMP_TRAP_OID)?, |v| tlv(v, 0x06, &trap));
    for d in data {
        let name = oid(&d.oid).map_err(|e| format!("invalid data Oid {:?}: {e}", d.oid))?;
        let mut value = Vec::new();
        encode_value(&d.kind, &d.value, &mut value)?;
        varbind(&mut binds, &name, |v| v.extend_from_slice(&value));
    }
    let mut pdu = Vec::new();
    tlv(&mut pdu, 0x02, &integer(request_id as i64));
    tlv(&mut pdu, 0x02, &integer(0)); // error-status
    tlv(&mut pdu, 0x02, &integer(0)); // error-index
    tlv(&mut pdu, 0x30, &binds);
    let mut message = Vec::new();
    tlv(&mut message, 0x02, &integer(1)); // version: v2c
    tlv(&mut message, 0x04, community.as_bytes());
    tlv(&mut message, 0xA7, &pdu);
    let mut out = Vec::with_capacity(message.len() + 4);
    tlv(&mut out, 0x30, &message);
    Ok(out)
}

fn varbind(out: &mut Vec<u8>, name: &[u8], value: impl FnOnce(&mut Vec<u8>)) {
    let mut bind = Vec::new();
    tlv(&mut bind, 0x06, name);
    value(&mut bind);
    tlv(out, 0x30, &bind);
}

/// One value as its type letter says, with Kapacitor's conversions (`i` is cut to 32 bits,
/// `c` is a Counter64).
fn encode_value(kind: &str, text: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let int = || {
        text.trim()
            .parse::<i64>()
            .map_err(|_| format!("strconv.ParseInt: parsing {text:?}: invalid syntax"))
    };
    match kind {
        "c" => tlv(out, 0x46, &unsigned(int()? as u64)),
        "i" => tlv(out, 0x02, &integer(int()? as i32 as i64)),
        "n" => tlv(out, 0x05, &[]),
        "s" => tlv(out, 0x04, text.as_bytes()),
        "t" => tlv(out, 0x43, &unsigned(int()? as u32 as u64)),
        "u" => tlv(out, 0x42, &unsigned(int()? as u32 as u64)),
        "a" => {
            let ip: std::net::Ipv4Addr = text
                .trim()
                .parse()
                .map_err(|_| format!("invalid IP address {text:?}"))?;
            tlv(out, 0x40, &ip.octets())
        }
        "o" => tlv(out, 0x06, &oid(text)?),
        "x" => {
            let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            let bytes = (0..digits.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(digits.get(i..i + 2).unwrap_or("x"), 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| format!("invalid hex string {text:?}"))?;
            tlv(out, 0x04, &bytes)
        }
        "d" => {
            let bytes = text
                .split(|c: char| c == '.' || c.is_whitespace())
                .filter(|s| !s.is_empty())
                .map(str::parse::<u8>)
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| format!("invalid decimal string {text:?}"))?;
            tlv(out, 0x04, &bytes)
        }
        other => return Err(format!("Snmptrap Datatype not known: {other}")),
    }
    Ok(())
}

/// A BER type-length-value.
fn tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
}

/// A two's complement integer in as few bytes as hold it.
fn integer(v: i64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let mut start = 0;
    while start < 7 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0 && next & 0x80 == 0) || (b == 0xFF && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    bytes[start..].to_vec()
}

/// An unsigned integer (counters, gauges, time ticks): a leading zero keeps it positive.
fn unsigned(v: u64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count().min(7);
    let mut out = Vec::with_capacity(9);
    if bytes[skip] & 0x80 != 0 {
        out.push(0);
    }
    out.extend_from_slice(&bytes[skip..]);
    out
}

/// An object identifier's content octets (`1.3.6.1...`, a leading dot allowed).
fn oid(text: &str) -> Result<Vec<u8>, String> {
    let arcs = text
        .strip_prefix('.')
        .unwrap_or(text)
        .split('.')
        .map(str::parse::<u64>)
        .collect::<Result<Vec<u64>, _>>()
        .map_err(|_| format!("{text:?} is not an object identifier"))?;
    let (first, second) = match arcs.as_slice() {
        [a, b, ..] if *a <= 2 && (*a == 2 || *b < 40) => (*a, *b),
        _ => return Err(format!("{text:?} is not an object identifier")),
    };
    let mut out = Vec::new();
    for arc in std::iter::once(first * 40 + second).chain(arcs[2..].iter().copied()) {
        let mut chunk = [0u8; 10];
        let mut n = 0;
        let mut v = arc;
        loop {
            chunk[n] = (v & 0x7F) as u8;
            n += 1;
            v >>= 7;
            if v == 0 {
                break;
            }
        }
        for i in (0..n).rev() {
            out.push(chunk[i] | if i > 0 { 0x80 } else { 0 });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_take_as_few_bytes_as_hold_them() {
        assert_eq!(integer(0), [0]);
        assert_eq!(integer(127), [0x7F]);
        assert_eq!(integer(128), [0x00, 0x80]);
        assert_eq!(integer(-1), [0xFF]);
        assert_eq!(integer(-129), [0xFF, 0x7F]);
        assert_eq!(unsigned(255), [0x00, 0xFF]);
        assert_eq!(unsigned(1000), [0x03, 0xE8]);
    }

    #[test]
    fn oids_are_base_128() {
        assert_eq!(oid("1.3.6.1.2.1.1.3.0").unwrap(), [43, 6, 1, 2, 1, 1, 3, 0]);
        assert_eq!(
            oid(".1.3.6.1.4.1.311").unwrap(),
            [43, 6, 1, 4, 1, 0x82, 0x37]
        );
        for bad in ["", "1", "3.1", "1.40", "1.x.3"] {
            assert!(oid(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn long_lengths_use_the_long_form() {
        let mut out = Vec::new();
        tlv(&mut out, 0x04, &[b'a'; 300]);
        assert_eq!(&out[..4], [0x04, 0x82, 0x01, 0x2C]);
    }

    #[test]
    fn a_trap_is_kapacitors_message() {
        let data = [TrapData {
            oid: "1.1.1.1.2".into(),
            kind: "s".into(),
            value: "hi".into(),
        }];
        let m = encode_trap("public", 5, 1000, "1.1.1.1", &data).unwrap();
        // SEQUENCE { version 1, community, SNMPv2-Trap-PDU { id, 0, 0, varbinds } }
        assert_eq!(&m[..2], [0x30, m.len() as u8 - 2]);
        let head = [
            0x02, 0x01, 0x01, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c', 0xA7,
        ];
        assert_eq!(&m[2..14], head);
        assert_eq!(
            &m[15..24],
            [0x02, 0x01, 0x05, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00]
        );
        let uptime = [0x43, 0x02, 0x03, 0xE8];
        assert!(m.windows(4).any(|w| w == uptime));
        let trap = [
            0x06, 0x0A, 43, 6, 1, 6, 3, 1, 1, 4, 1, 0, 0x06, 0x03, 41, 1, 1,
        ];
        assert!(m.windows(trap.len()).any(|w| w == trap));
        assert!(m.ends_with(&[0x06, 0x04, 41, 1, 1, 2, 0x04, 0x02, b'h', b'i']));
    }

    #[test]
    fn values_follow_their_type_letter() {
        let enc = |k: &str, v: &str| {
            let mut out = Vec::new();
            encode_value(k, v, &mut out).map(|()| out)
        };
        assert_eq!(enc("i", "-2").unwrap(), [0x02, 0x01, 0xFE]);
        assert_eq!(enc("c", "300").unwrap(), [0x46, 0x02, 0x01, 0x2C]);
        assert_eq!(enc("n", "").unwrap(), [0x05, 0x00]);
        assert_eq!(enc("a", "10.0.0.1").unwrap(), [0x40, 0x04, 10, 0, 0, 1]);
        assert_eq!(enc("x", "0a ff").unwrap(), [0x04, 0x02, 0x0A, 0xFF]);
        assert!(enc("i", "ten").unwrap_err().contains("invalid syntax"));
        assert!(enc("q", "1").unwrap_err().contains("not known"));
    }
}
