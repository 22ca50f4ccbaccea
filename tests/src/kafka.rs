//! A Kafka cluster on 127.0.0.1: librdkafka's mock cluster, a real broker protocol served
//! in this process, and a consumer that keeps what is written to a topic.

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

/// One message as a consumer sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct KafkaMessage {
    pub partition: i32,
    pub key: String,
    pub payload: String,
}

pub struct KafkaCluster {
    cluster: MockCluster<'static, DefaultProducerContext>,
}

impl KafkaCluster {
    /// Three brokers.
    pub fn start() -> KafkaCluster {
        KafkaCluster {
            cluster: MockCluster::new(3).expect("starting the mock Kafka cluster"),
        }
    }

    /// `host:port,...` of the brokers.
    pub fn brokers(&self) -> String {
        self.cluster.bootstrap_servers()
    }

    pub fn create_topic(&self, topic: &str, partitions: i32) {
        self.cluster
            .create_topic(topic, partitions, 1)
            .expect("creating a topic");
    }

    /// Reads `topic` from the beginning until `n` messages came or 15 s passed.
    pub fn read(&self, topic: &str, n: usize) -> Vec<KafkaMessage> {
        read_topic(&self.brokers(), topic, n, &[])
    }
}

/// Reads `topic` from `brokers` from the beginning until `n` messages came or 15 s passed,
/// with `extra` client settings.
static READS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

pub(crate) fn read_topic(
    brokers: &str,
    topic: &str,
    n: usize,
    extra: &[(&str, &str)],
) -> Vec<KafkaMessage> {
    let mut config = ClientConfig::new();
    for (k, v) in extra {
        config.set(*k, *v);
    }
    let consumer: BaseConsumer = config
        .set("bootstrap.servers", brokers)
        // A group of its own each time, from the start: a group's earlier consumer, gone
        // without leaving, would hold the partitions until its session times out.
        .set(
            "group.id",
            format!("test-{topic}-{}", READS.fetch_add(1, Relaxed)),
        )
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("a consumer");
    consumer.subscribe(&[topic]).expect("subscribing");
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while out.len() < n && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            out.push(KafkaMessage {
                partition: m.partition(),
                key: String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned(),
                payload: String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
            });
        }
    }
    out
}
