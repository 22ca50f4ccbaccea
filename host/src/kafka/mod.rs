//! The `kafka` handler (`[[kafka]]`): alert events written to a Kafka topic, keyed by the
//! event ID, as Kapacitor writes them — the event's JSON line, or a template over it.
//!
//! One librdkafka producer per cluster and partitioning (made on first use, kept): it batches
//! (`batch-size`, `batch-timeout`) and delivers on its own thread, so a handler only queues.
//! Partitions are chosen by the event ID's hash as Kapacitor chooses them (crc32 by default;
//! murmur2, murmur3, fnv-1a; fnv-1a also when `disablePartitionById`, sarama's default), so
//! a Kafka consumer sees one event's history on one partition, in order.

pub mod kerberos;
mod oauth;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use farad_runtime::exec::TopicEvent;
use parking_lot::Mutex;
use rdkafka::ClientConfig;
use rdkafka::producer::{
    BaseRecord, DeliveryResult, Partitioner, ProducerContext, ThreadedProducer,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::config::Kafka;

/// A handler's options (`.kafka().cluster(c).kafkaTopic(t)...`, or a topic handler's).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct KafkaOptions {
    pub cluster: String,
    pub topic: String,
    /// A template over the event (`{{.Message}}`); empty: the event's JSON.
    pub template: String,
    #[serde(alias = "disablePartitionById")]
    pub disable_partition_by_id: bool,
    #[serde(alias = "partitionAlgorithm", alias = "partition-hash-algorithm")]
    pub partition_algorithm: String,
}

impl KafkaOptions {
    /// The options, checked (templates compiled) as when a handler is defined.
    pub fn parse(options: &Map<String, Value>) -> Result<KafkaOptions, String> {
        let o = crate::handlers::read_options::<KafkaOptions>("kafka", options)?;
        if o.topic.is_empty() {
            return Err("topic must not be empty".into());
        }
        if !o.template.is_empty() {
            farad_runtime::template::text("kafka alert template", &o.template)
                .map_err(|e| format!("failed to parse template: {e}"))?;
        }
        o.partitioning()?;
        Ok(o)
    }

    fn partitioning(&self) -> Result<Hash, String> {
        if self.disable_partition_by_id {
            return Ok(Hash::Fnv1a);
        }
        Ok(match self.partition_algorithm.as_str() {
            "" | "crc32" => Hash::Crc32,
            "murmur2" => Hash::Murmur2,
            "murmur3" => Hash::Murmur3,
            "fnv-1a" => Hash::Fnv1a,
            other => return Err(format!("invalid partition algorithm: {other:?}")),
        })
    }
}

/// How a message's key picks its partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Hash {
    Crc32,
    Murmur2,
    Murmur3,
    Fnv1a,
}

/// The `[[kafka]]` clusters, by id.
#[derive(Default)]
pub struct Clusters {
    configs: HashMap<String, Kafka>,
    producers: Mutex<HashMap<(String, Hash), Arc<KafkaProducer>>>,
    /// Why a producer could not be made, and when: not tried again for [`RETRY`].
    failed: Mutex<HashMap<(String, Hash), (Instant, String)>>,
}

/// How long a producer that could not be made (no token, say) is not tried again.
const RETRY: Duration = Duration::from_secs(10);

impl Clusters {
    pub fn new(configs: &[Kafka]) -> Clusters {
        Clusters {
            configs: configs
                .iter()
                .filter(|c| c.enabled)
                .map(|c| (c.id.clone(), c.clone()))
                .collect(),
            producers: Mutex::default(),
            failed: Mutex::default(),
        }
    }

    /// Writes `event` as the handler's options say.
    pub fn handle(&self, options: &Map<String, Value>, event: &TopicEvent) -> Result<(), String> {
        // Checked when the handler was defined.
        let o = crate::handlers::read_options::<KafkaOptions>("kafka", options)?;
        let body = if o.template.is_empty() {
            // Go's encoder: `alert.Data`'s field order, and its newline.
            let mut line = Vec::with_capacity(512);
            event.write_json(&mut line);
            line.push(b'\n');
            line
        } else {
            farad_runtime::template::Cache::shared()
                .text("kafka alert template", &o.template)
                .map_err(|e| format!("failed to parse template: {e}"))?
                .execute(&event.alert_data())
                .map_err(|e| format!("failed to execute alert template: {e}"))?
                .into_bytes()
        };
        self.write(&o, event.id.as_bytes(), &body)
    }

    /// Queues one message on the cluster's producer.
    pub fn write(&self, o: &KafkaOptions, key: &[u8], body: &[u8]) -> Result<(), String> {
        let config = self
            .configs
            .get(&o.cluster)
            .ok_or_else(|| format!("unknown cluster {:?}", o.cluster))?;
        let which = (o.cluster.clone(), o.partitioning()?);
        let made = self.producers.lock().get(&which).cloned();
        let producer = match made {
            Some(p) => p,
            None => self.start(config, which)?,
        };
        let record = BaseRecord::to(&o.topic).key(key).payload(body);
        producer
            .send(record)
            .map_err(|(e, _)| format!("failed to write message to kafka: {e}"))
    }

    /// Makes the producer for `key`, outside the lock: logging in may mean fetching a token
    /// first, which other clusters need not wait for.
    fn start(&self, config: &Kafka, key: (String, Hash)) -> Result<Arc<KafkaProducer>, String> {
        if let Some((at, e)) = self.failed.lock().get(&key)
            && at.elapsed() < RETRY
        {
            return Err(e.clone());
        }
        match producer(config, key.1) {
            // Had another thread made one meanwhile, the first stays.
            Ok(p) => Ok(self.producers.lock().entry(key).or_insert(p).clone()),
            Err(e) => {
                self.failed.lock().insert(key, (Instant::now(), e.clone()));
                Err(e)
            }
        }
    }

    /// Waits up to `timeout` for queued messages to be delivered (reconfiguration).
    pub fn flush(&self, timeout: std::time::Duration) {
        let _ = self.flush_checked(timeout);
    }

    /// Waits up to `timeout` for queued messages to be delivered: an error if they were
    /// not, or if any failed since the last check (service tests).
    pub fn flush_checked(&self, timeout: std::time::Duration) -> Result<(), String> {
        use rdkafka::producer::Producer;
        for p in self.producers.lock().values() {
            p.flush(timeout)
                .map_err(|e| format!("failed to write message to kafka: {e}"))?;
            if let Some(e) = p.context().last_error.lock().take() {
                return Err(format!("failed to write message to kafka: {e}"));
            }
        }
        Ok(())
    }
}

/// The cluster's producer for `hash`, logged in (OAUTHBEARER: with a token fetched first).
fn producer(c: &Kafka, hash: Hash) -> Result<Arc<KafkaProducer>, String> {
    let fail = |e: String| format!("[[kafka]] {}: {e}", c.id);
    let oauth = oauth::TokenSource::new(c).map_err(fail)?;
    // Its ticket is in the cache before the producer first connects.
    let kerberos = kerberos::Login::new(c).map_err(fail)?;
    if let Some(login) = &kerberos {
        login.kinit().map_err(fail)?;
    }
    // Fetched before the producer connects, so that its first login has it.
    let token = oauth
        .as_ref()
        .map(|o| o.token())
        .transpose()
        .map_err(fail)?;
    let producer = Arc::new(new_producer(c, hash)?);
    if let (Some(source), Some(token)) = (oauth, token) {
        source.hand_over(&producer, &token).map_err(fail)?;
        oauth::keep_fresh(&c.id, source, Arc::downgrade(&producer), token);
    }
    if let Some(login) = kerberos {
        kerberos::keep_fresh(&c.id, login, Arc::downgrade(&producer));
    }
    Ok(producer)
}

fn new_producer(c: &Kafka, hash: Hash) -> Result<KafkaProducer, String> {
    let ms = |d: crate::config::GoDuration, default: u64| {
        if d.0 > 0 {
            (d.0 / 1_000_000).max(1) as u64
        } else {
            default
        }
    };
    let timeout = ms(c.timeout, 10_000);
    let batch = if c.batch_size > 0 { c.batch_size } else { 100 };
    let mut config = ClientConfig::new();
    let protocol = match (c.use_ssl, c.sasl()) {
        (false, false) => "plaintext",
        (true, false) => "ssl",
        (false, true) => "sasl_plaintext",
        (true, true) => "sasl_ssl",
    };
    config.set("security.protocol", protocol);
    if c.use_ssl {
        for (key, path) in [
            ("ssl.ca.location", &c.ssl_ca),
            ("ssl.certificate.location", &c.ssl_cert),
            ("ssl.key.location", &c.ssl_key),
        ] {
            if !path.is_empty() {
                config.set(key, path);
            }
        }
        if c.insecure_skip_verify {
            config
                .set("enable.ssl.certificate.verification", "false")
                .set("ssl.endpoint.identification.algorithm", "none");
        }
    }
    match c.sasl_mechanism.as_str() {
        _ if !c.sasl() => {}
        // Tokens are handed over by `oauth`.
        "OAUTHBEARER" => {
            config.set("sasl.mechanism", "OAUTHBEARER");
        }
        // Tickets are got by `kerberos`: librdkafka's own kinit is off.
        "GSSAPI" => {
            let service = match c.sasl_gssapi_service_name.as_str() {
                "" => "kafka",
                s => s,
            };
            config
                .set("sasl.mechanism", "GSSAPI")
                .set("sasl.kerberos.service.name", service)
                .set("sasl.kerberos.principal", c.kerberos_principal())
                .set("sasl.kerberos.min.time.before.relogin", "0");
        }
        m => {
            config
                .set("sasl.mechanism", if m.is_empty() { "PLAIN" } else { m })
                .set("sasl.username", &c.sasl_username)
                .set("sasl.password", &c.sasl_password);
        }
    }
    config
        .set("bootstrap.servers", c.brokers.join(","))
        .set("client.id", &c.id)
        .set("socket.timeout.ms", timeout.max(10).to_string())
        .set("message.timeout.ms", timeout.to_string())
        .set("batch.num.messages", batch.to_string())
        .set("linger.ms", ms(c.batch_timeout, 1_000).to_string())
        // The partitioner runs for every message, keyed or not.
        .set("sticky.partitioning.linger.ms", "0")
        .create_with_context(Delivery {
            cluster: c.id.clone(),
            partitioner: KeyHash {
                hash,
                next: AtomicU32::new(0),
            },
            failed: AtomicU64::new(0),
            last_error: Mutex::default(),
        })
        .map_err(|e| format!("[[kafka]] {}: {e}", c.id))
}

type KafkaProducer = ThreadedProducer<Delivery, KeyHash>;

/// Sleeps `wait`, looking every second whether `producer` is still there: false once it is
/// not (a renewal thread then ends).
fn sleep_while_alive<T>(mut wait: Duration, producer: &std::sync::Weak<T>) -> bool {
    while !wait.is_zero() {
        let step = wait.min(Duration::from_secs(1));
        std::thread::sleep(step);
        wait -= step;
        if producer.strong_count() == 0 {
            return false;
        }
    }
    true
}

/// Logs messages that could not be delivered.
struct Delivery {
    cluster: String,
    partitioner: KeyHash,
    failed: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl rdkafka::ClientContext for Delivery {}

impl ProducerContext<KeyHash> for Delivery {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            let failed = self.failed.fetch_add(1, Relaxed) + 1;
            tracing::error!(cluster = self.cluster, error = %e, failed, "failed to write message to kafka");
            *self.last_error.lock() = Some(e.to_string());
        }
    }

    fn get_custom_partitioner(&self) -> Option<&KeyHash> {
        Some(&self.partitioner)
    }
}

/// Kapacitor's partitioners: a hash of the key modulo the partition count.
struct KeyHash {
    hash: Hash,
    /// Round robin for messages without a key.
    next: AtomicU32,
}

impl Partitioner for KeyHash {
    fn partition(&self, _: &str, key: Option<&[u8]>, count: i32, _: impl Fn(i32) -> bool) -> i32 {
        if count <= 0 {
            return rdkafka::producer::PARTITION_UA;
        }
        let n = count as u32;
        match key.filter(|k| !k.is_empty()) {
            None => (self.next.fetch_add(1, Relaxed) % n) as i32,
            Some(key) => partition(self.hash, key, n),
        }
    }
}

fn partition(hash: Hash, key: &[u8], n: u32) -> i32 {
    match hash {
        Hash::Crc32 => ((crc32fast::hash(key) % n) & 0x7fff_ffff) as i32,
        Hash::Murmur2 => ((murmur2(key) & 0x7fff_ffff) % n) as i32,
        // sarama's hash partitioner: the hash as a signed number, its remainder made positive.
        Hash::Murmur3 => (murmur3(key) as i32 % n as i32).abs(),
        Hash::Fnv1a => (fnv1a(key) as i32 % n as i32).abs(),
    }
}

/// Kafka's Java client's murmur2 (seed 0x9747b28c).
fn murmur2(data: &[u8]) -> u32 {
    const M: u32 = 0x5bd1_e995;
    let mut h = 0x9747_b28c ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M) ^ k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= (rest[2] as u32) << 16;
    }
    if rest.len() >= 2 {
        h ^= (rest[1] as u32) << 8;
    }
    if !rest.is_empty() {
        h ^= rest[0] as u32;
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^ (h >> 15)
}

/// MurmurHash3 x86 32-bit, seed 0.
fn murmur3(data: &[u8]) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut h = 0u32;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let k = u32::from_le_bytes([c[0], c[1], c[2], c[3]])
            .wrapping_mul(C1)
            .rotate_left(15)
            .wrapping_mul(C2);
        h = (h ^ k)
            .rotate_left(13)
            .wrapping_mul(5)
            .wrapping_add(0xe654_6b64);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut k = 0u32;
        for (i, b) in rest.iter().enumerate() {
            k |= (*b as u32) << (8 * i);
        }
        h ^= k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    }
    h ^= data.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// FNV-1a, 32-bit.
fn fnv1a(data: &[u8]) -> u32 {
    data.iter().fold(0x811c_9dc5u32, |h, b| {
        (h ^ *b as u32).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_their_references() {
        // Kafka's Java client: murmur2("21") = -973932308 (from its own tests).
        assert_eq!(murmur2(b"21") as i32, -973_932_308);
        assert_eq!(murmur2(b"foobar") as i32, -790_332_482);
        // MurmurHash3 x86_32 with seed 0.
        assert_eq!(murmur3(b""), 0);
        assert_eq!(murmur3(b"hello"), 0x248b_fa47);
        // FNV-1a 32.
        assert_eq!(fnv1a(b""), 0x811c_9dc5);
        assert_eq!(fnv1a(b"a"), 0xe40c_292c);
        assert_eq!(crc32fast::hash(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn partitions_stay_in_range() {
        for hash in [Hash::Crc32, Hash::Murmur2, Hash::Murmur3, Hash::Fnv1a] {
            for key in [&b"cpu:host=a"[..], b"x", b"serverA"] {
                let p = partition(hash, key, 3);
                assert!((0..3).contains(&p), "{hash:?} {p}");
                assert_eq!(p, partition(hash, key, 3), "stable");
            }
        }
    }

    #[test]
    fn options_are_checked() {
        let parse = |v: Value| KafkaOptions::parse(v.as_object().unwrap());
        assert!(parse(serde_json::json!({"cluster": "c"})).is_err());
        let o = parse(serde_json::json!({"cluster": "c", "topic": "t",
            "disablePartitionById": true}))
        .unwrap();
        assert_eq!(o.partitioning().unwrap(), Hash::Fnv1a);
        let bad = parse(serde_json::json!({"topic": "t", "partition-algorithm": "md5"}));
        assert!(bad.unwrap_err().contains("invalid partition algorithm"));
        let bad = parse(serde_json::json!({"topic": "t", "template": "{{"}));
        assert!(bad.unwrap_err().contains("failed to parse template"));
    }
}
