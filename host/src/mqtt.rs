//! The MQTT handler's brokers (`[[mqtt]]`): one client each, kept connected by a thread of
//! its own (rumqttc reconnects after failures); alerts publish their message to a topic.

use std::collections::HashMap;

use rumqttc::{Client, MqttOptions, QoS};

use crate::config::Mqtt;

#[derive(Default)]
pub struct Brokers {
    clients: HashMap<String, Client>,
    default: Option<String>,
}

impl Brokers {
    pub fn start(configs: &[Mqtt]) -> Result<Brokers, String> {
        let mut b = Brokers::default();
        let enabled: Vec<&Mqtt> = configs.iter().filter(|c| c.enabled).collect();
        for c in &enabled {
            let rest = c.url.strip_prefix("tcp://").ok_or_else(|| {
                format!(
                    "[[mqtt]] {}: url {:?} must be tcp://host:port (ssl:// and ws:// are not supported yet)",
                    c.name, c.url
                )
            })?;
            let (host, port) = match rest.rsplit_once(':') {
                Some((h, p)) => (
                    h,
                    p.parse::<u16>()
                        .map_err(|_| format!("[[mqtt]] {}: bad port in {:?}", c.name, c.url))?,
                ),
                None => (rest, 1883),
            };
            let id = if c.client_id.is_empty() {
                &c.name
            } else {
                &c.client_id
            };
            let mut opts = MqttOptions::new(id.clone(), host, port);
            opts.set_keep_alive(std::time::Duration::from_secs(30));
            if !c.username.is_empty() {
                opts.set_credentials(c.username.clone(), c.password.clone());
            }
            let (client, mut conn) = Client::new(opts, 1024);
            let name = c.name.clone();
            std::thread::Builder::new()
                .name(format!("farad-mqtt-{name}"))
                .spawn(move || {
                    for n in conn.iter() {
                        match n {
                            // The client is gone (the broker was reconfigured): stop.
                            Err(rumqttc::ConnectionError::RequestsDone) => break,
                            Err(e) => {
                                tracing::warn!(broker = name, error = %e, "mqtt connection failed; retrying");
                                std::thread::sleep(std::time::Duration::from_secs(1));
                            }
                            Ok(_) => {}
                        }
                    }
                })
                .map_err(|e| format!("starting the mqtt client: {e}"))?;
            if c.default || enabled.len() == 1 {
                b.default = Some(c.name.clone());
            }
            b.clients.insert(c.name.clone(), client);
        }
        Ok(b)
    }

    /// Publishes `payload` to `topic` on broker `broker` (empty: the default one).
    pub fn publish(
        &self,
        broker: &str,
        topic: &str,
        qos: u8,
        retained: bool,
        payload: &[u8],
    ) -> Result<(), String> {
        let name = if broker.is_empty() {
            self.default
                .as_deref()
                .ok_or("no default mqtt broker: name one with brokerName")?
        } else {
            broker
        };
        let client = self
            .clients
            .get(name)
            .ok_or_else(|| format!("unknown mqtt broker {name:?}"))?;
        let qos = match qos {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            2 => QoS::ExactlyOnce,
            q => return Err(format!("invalid qos {q}: 0, 1 or 2")),
        };
        client
            .publish(topic, qos, retained, payload.to_vec())
            .map_err(|e| format!("publishing to mqtt: {e}"))
    }
}
