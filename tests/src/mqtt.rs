//! An MQTT broker on 127.0.0.1 (Debian's mosquitto, installed by `scripts/test`) and a
//! subscriber that keeps what is published.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct Mosquitto {
    child: Child,
    pub port: u16,
}

impl Mosquitto {
    pub fn start(dir: &Path) -> Mosquitto {
        let port = crate::influxd::free_port();
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"),
        )
        .expect("writing mosquitto.conf");
        let child = Command::new("/usr/sbin/mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting mosquitto (apt-get install mosquitto)");
        crate::influxd::wait_for_port(port, "mosquitto");
        Mosquitto { child, port }
    }

    /// Subscribes to `filter`; the returned list fills with (topic, payload, retained).
    pub fn subscribe(&self, filter: &str) -> Arc<Mutex<Vec<(String, String, bool)>>> {
        let got = Arc::new(Mutex::new(Vec::new()));
        let mut opts =
            rumqttc::MqttOptions::new(format!("sub-{}", self.port), "127.0.0.1", self.port);
        opts.set_keep_alive(Duration::from_secs(5));
        let (client, mut conn) = rumqttc::Client::new(opts, 64);
        client
            .subscribe(filter, rumqttc::QoS::AtLeastOnce)
            .expect("subscribing");
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = got.clone();
        std::thread::spawn(move || {
            let _client = client;
            for n in conn.iter() {
                match n {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) => {
                        let _ = tx.send(());
                    }
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                        sink.lock().unwrap().push((
                            p.topic.clone(),
                            String::from_utf8_lossy(&p.payload).into_owned(),
                            p.retain,
                        ));
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the broker acknowledged the subscription");
        got
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
