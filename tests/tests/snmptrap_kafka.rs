//! The SNMP trap and Kafka handlers against real receivers on 127.0.0.1: net-snmp's
//! snmptrapd, and librdkafka's mock Kafka cluster read by a Kafka consumer. Each from an
//! alert node, as a topic handler and as a service test.

use farad_tests::{
    Farad, HttpSink, KafkaCluster, Kdc, Login, REALM, SecureKafka, Snmptrapd, TempDir,
};
use serde_json::json;

fn define(f: &Farad, id: &str, script: &str) {
    let task = json!({
        "id": id, "type": "stream", "status": "enabled", "script": script,
        "dbrps": [{"db": "db", "rp": "rp"}],
    });
    let r = f.post("/kapacitor/v1/tasks", task.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["executing"], true, "{}", r.body);
}

fn write(f: &Farad, lines: &str) {
    let r = f.post("/write?db=db&rp=rp&precision=s", lines);
    assert_eq!(r.status, 204, "{}", r.body);
}

/// Kafka's service test of `cluster`, writing to `topic`: its answer.
fn test_kafka(f: &Farad, cluster: &str, topic: &str) -> serde_json::Value {
    let r = f.post(
        "/kapacitor/v1/service-tests/kafka",
        json!({"cluster": cluster, "topic": topic}).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// A CRITICAL alert `cpu` sent by a task's `.kafka()` through `cluster` to topic `alerts`
/// of `kafka`: the message it got.
fn alert_through(f: &Farad, cluster: &str, kafka: &SecureKafka) -> farad_tests::KafkaMessage {
    define(
        f,
        "cpu",
        &format!(
            r#"stream|from().measurement('cpu')
    |alert().id('cpu').crit(lambda: "value" > 90.0).kafka().cluster('{cluster}').kafkaTopic('alerts')"#
        ),
    );
    write(f, "cpu value=95 1\n");
    let mut events = kafka.read("alerts", 1);
    assert_eq!(events.len(), 1, "{:?}", kafka.log());
    assert_eq!(events[0].key, "cpu");
    events.remove(0)
}

/// Traps carry sysUpTime, the trap OID and the handler's data, each of its type, the values
/// rendered from the event; bad OIDs and types are refused when the handler is defined.
#[test]
fn snmptrap_handler_sends_v2c_traps() {
    let dir = TempDir::new("snmptrap");
    let receiver = Snmptrapd::start(dir.path(), "farad-community");
    let conf = format!(
        "[snmptrap]\nenabled = true\naddr = \"127.0.0.1:{}\"\ncommunity = \"farad-community\"\n",
        receiver.port
    );
    let f = Farad::start_in(&dir.path().join("data"), &conf);
    define(
        &f,
        "cpu",
        r#"stream|from().measurement('cpu')
    |alert().id('cpu:{{ index .Tags "host" }}').crit(lambda: "value" > 90.0).topic('cpu')
        .snmpTrap('1.3.6.1.4.1.99.1')
            .data('1.3.6.1.4.1.99.1.1', 's', '{{ .Message }}')
            .data('1.3.6.1.4.1.99.1.2', 'i', '{{ index .Fields "load" }}')
            .data('1.3.6.1.4.1.99.1.3', 'c', '7')
            .data('.1.3.6.1.4.1.99.1.4', 't', '250')
            .data('1.3.6.1.4.1.99.1.5', 'n', '')
            .data('1.3.6.1.4.1.99.1.6', 'a', '10.1.2.3')"#,
    );
    let spec = json!({"id": "trap", "kind": "snmptrap", "options": {
        "trap-oid": "1.3.6.1.4.1.99.2",
        "data-list": [{"oid": "1.3.6.1.4.1.99.2.1", "type": "s", "value": "{{ .Level }} on {{ .TaskName }}"}],
    }});
    let r = f.post("/kapacitor/v1/alerts/topics/cpu/handlers", spec.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    for (bad, why) in [
        (
            json!({"trap-oid": "1.3.x", "data-list": []}),
            "invalid trap Oid",
        ),
        (
            json!({"trap-oid": "1.3.6", "data-list": [{"oid": "1.3.6.1", "type": "q", "value": ""}]}),
            "Datatype not known",
        ),
        (json!({"data-list": []}), "invalid trap Oid"),
    ] {
        let spec = json!({"id": "bad", "kind": "snmptrap", "options": bad});
        let r = f.post("/kapacitor/v1/alerts/topics/cpu/handlers", spec.to_string());
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(r.body.contains(why), "{why}: {}", r.body);
    }
    let bad_task = json!({"id": "bad", "type": "stream", "status": "enabled", "dbrps": [{"db": "db", "rp": "rp"}],
        "script": "stream|from()|alert().crit(lambda: TRUE).snmpTrap('x.y')"});
    let r = f.post("/kapacitor/v1/tasks", bad_task.to_string()).json();
    assert_eq!(r["executing"], false, "{r}");
    assert!(
        r["error"].as_str().unwrap().contains("invalid trap Oid"),
        "{r}"
    );

    write(&f, "cpu,host=a value=95,load=3i 1\n");
    let traps = receiver.wait_for(2);
    assert_eq!(traps.len(), 2, "{traps:?}");
    let node = traps
        .iter()
        .find(|t| t.contains("OID: .1.3.6.1.4.1.99.1\t"))
        .unwrap_or_else(|| panic!("the node's trap: {traps:?}"));
    assert!(
        node.starts_with(".1.3.6.1.2.1.1.3.0 = Timeticks: ("),
        "{node}"
    );
    for want in [
        ".1.3.6.1.6.3.1.1.4.1.0 = OID: .1.3.6.1.4.1.99.1\t",
        ".1.3.6.1.4.1.99.1.1 = STRING: \"cpu:a is CRITICAL\"",
        ".1.3.6.1.4.1.99.1.2 = INTEGER: 3",
        ".1.3.6.1.4.1.99.1.3 = Counter64: 7",
        ".1.3.6.1.4.1.99.1.4 = Timeticks: (250) 0:00:02.50",
        ".1.3.6.1.4.1.99.1.5 = NULL",
        ".1.3.6.1.4.1.99.1.6 = IpAddress: 10.1.2.3",
    ] {
        assert!(node.contains(want), "{want} in {node}");
    }
    let topic = traps
        .iter()
        .find(|t| t.contains("OID: .1.3.6.1.4.1.99.2"))
        .unwrap_or_else(|| panic!("the topic handler's trap: {traps:?}"));
    assert!(
        topic.contains(".1.3.6.1.4.1.99.2.1 = STRING: \"CRITICAL on cpu\""),
        "{topic}"
    );

    let r = f.post("/kapacitor/v1/service-tests/snmptrap", "{}");
    assert_eq!(r.json()["success"], true, "{}", r.body);
    let traps = receiver.wait_for(3);
    assert!(
        traps[2].contains(".1.1.1.1.2 = STRING: \"test snmptrap message\""),
        "{traps:?}"
    );
    let r = f.post(
        "/kapacitor/v1/service-tests/snmptrap",
        json!({"trap-oid": "1.1", "data-list": [{"oid": "1.1.1", "type": "i", "value": "ten"}]})
            .to_string(),
    );
    assert_eq!(r.json()["success"], false, "{}", r.body);
    assert!(r.body.contains("invalid syntax"), "{}", r.body);
}

/// The CRC-32 of Kapacitor's default partitioner.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for b in data {
        crc ^= *b as u32;
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// Events are written keyed by their ID, one ID's events on one partition (crc32 of the ID,
/// Kapacitor's default), as JSON lines or through a template; unknown clusters and bad
/// options are refused.
#[test]
fn kafka_handler_writes_events_keyed_by_id() {
    let kafka = KafkaCluster::start();
    for topic in ["alerts", "alerts-text", "from-topic", "svc"] {
        kafka.create_topic(topic, 3);
    }
    let brokers: Vec<String> = kafka.brokers().split(',').map(str::to_owned).collect();
    let dir = TempDir::new("kafka");
    let conf = format!(
        "[[kafka]]\nenabled = true\nid = \"local\"\nbrokers = {}\nbatch-timeout = \"5ms\"\n",
        serde_json::to_string(&brokers).unwrap()
    );
    let f = Farad::start_in(&dir.path().join("data"), &conf);
    define(
        &f,
        "cpu",
        r#"stream|from().measurement('cpu').groupBy('host')
    |alert().id('cpu:{{ index .Tags "host" }}').crit(lambda: "value" > 90.0).topic('cpu')
        .kafka().cluster('local').kafkaTopic('alerts')
        .kafka().cluster('local').kafkaTopic('alerts-text')
            .template('{{ .ID }} {{ .Level }} was {{ .PreviousLevel }}')"#,
    );
    let spec = json!({"id": "k", "kind": "kafka", "options": {
        "cluster": "local", "topic": "from-topic", "template": "{{ .Message }}",
        "disablePartitionById": true,
    }});
    let r = f.post("/kapacitor/v1/alerts/topics/cpu/handlers", spec.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    for (bad, why) in [
        (json!({"cluster": "local"}), "topic must not be empty"),
        (
            json!({"cluster": "local", "topic": "t", "partition-algorithm": "md5"}),
            "invalid partition algorithm",
        ),
        (
            json!({"cluster": "local", "topic": "t", "template": "{{ .ID"}),
            "template",
        ),
    ] {
        let spec = json!({"id": "bad", "kind": "kafka", "options": bad});
        let r = f.post("/kapacitor/v1/alerts/topics/cpu/handlers", spec.to_string());
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(r.body.contains(why), "{why}: {}", r.body);
    }

    write(
        &f,
        "cpu,host=a value=95 1\ncpu,host=b value=96 1\ncpu,host=c value=97 1\ncpu,host=d value=98 1\n",
    );
    write(&f, "cpu,host=a value=10 2\n");

    let json_events = kafka.read("alerts", 5);
    assert_eq!(json_events.len(), 5, "{json_events:?}");
    for m in &json_events {
        let event: serde_json::Value = serde_json::from_str(&m.payload).unwrap();
        assert_eq!(event["id"], m.key, "keyed by the event ID");
        assert!(m.payload.ends_with('\n'), "a JSON line");
        let head = format!("{{\"id\":\"{}\",\"message\":", m.key);
        assert!(
            m.payload.starts_with(&head),
            "alert.Data's order: {}",
            m.payload
        );
        let want = (crc32(m.key.as_bytes()) % 3) as i32;
        assert_eq!(m.partition, want, "crc32 partition of {}", m.key);
    }
    let a: Vec<&str> = json_events
        .iter()
        .filter(|m| m.key == "cpu:a")
        .map(|m| m.payload.as_str())
        .collect();
    assert_eq!(a.len(), 2, "{a:?}");
    assert!(a[0].contains("\"level\":\"CRITICAL\""), "{}", a[0]);
    assert!(a[1].contains("\"level\":\"OK\""), "in order: {}", a[1]);

    let mut text: Vec<String> = kafka
        .read("alerts-text", 5)
        .into_iter()
        .map(|m| m.payload)
        .collect();
    text.sort();
    assert_eq!(
        text,
        [
            "cpu:a CRITICAL was OK",
            "cpu:a OK was CRITICAL",
            "cpu:b CRITICAL was OK",
            "cpu:c CRITICAL was OK",
            "cpu:d CRITICAL was OK",
        ]
    );
    let from_topic = kafka.read("from-topic", 5);
    assert_eq!(from_topic.len(), 5, "{from_topic:?}");
    assert!(
        from_topic
            .iter()
            .any(|m| m.key == "cpu:b" && m.payload == "cpu:b is CRITICAL"),
        "{from_topic:?}"
    );

    let r = test_kafka(&f, "local", "svc");
    assert_eq!(r["success"], true, "{r}");
    let svc = kafka.read("svc", 1);
    assert_eq!(svc.len(), 1);
    assert_eq!(
        (svc[0].key.as_str(), svc[0].payload.as_str()),
        ("key", "test kafka message")
    );
    let r = f.post("/kapacitor/v1/service-tests/kafka", "{}");
    assert_eq!(r.json()["success"], false, "{}", r.body);
    assert!(r.body.contains("unknown cluster"), "{}", r.body);
}

/// `use-ssl` and SASL as in `kapacitor.conf`: events reach a broker that wants TLS (its
/// certificate trusted through `ssl-ca`) and SASL/PLAIN; the broker refuses a wrong
/// password and the client a certificate it does not trust (each reported by the service
/// test), unless `insecure-skip-verify`; the password is not shown by the config API.
#[test]
fn kafka_handler_over_tls_with_sasl() {
    let dir = TempDir::new("kafka-tls");
    let certs = farad_tests::certificates(&dir.path().join("certs"));
    let ca = &certs.ca;
    let kafka = SecureKafka::start(
        Some((&certs.cert, &certs.key)),
        Login::plain("farad", "s3cret"),
    );
    for topic in ["alerts", "svc"] {
        kafka.create_topic(topic, 1);
    }
    let cluster = |id: &str, extra: &str| {
        format!(
            "[[kafka]]\nenabled = true\nid = {id:?}\nbrokers = [{:?}]\nbatch-timeout = \"5ms\"\n\
             timeout = \"3s\"\nuse-ssl = true\nsasl-username = \"farad\"\n{extra}",
            kafka.broker()
        )
    };
    let ca = format!("ssl-ca = {:?}\n", ca.display().to_string());
    let conf = [
        cluster("secure", &format!("{ca}sasl-password = \"s3cret\"\n")),
        cluster(
            "wrong-password",
            &format!("{ca}sasl-password = \"guess\"\n"),
        ),
        cluster("untrusted", "sasl-password = \"s3cret\"\n"),
        cluster(
            "unverified",
            "sasl-password = \"s3cret\"\ninsecure-skip-verify = true\nsasl-mechanism = \"PLAIN\"\n",
        ),
    ]
    .concat();
    let f = Farad::start_in(&dir.path().join("data"), &conf);
    let event = alert_through(&f, "secure", &kafka);
    assert!(
        event.payload.contains("\"level\":\"CRITICAL\""),
        "{}",
        event.payload
    );

    let test = |cluster: &str| test_kafka(&f, cluster, "svc");
    let r = test("wrong-password");
    assert_eq!(r["success"], false, "{r}");
    assert!(
        kafka.log().contains(&"refused farad".to_owned()),
        "{:?}",
        kafka.log()
    );
    let r = test("untrusted");
    assert_eq!(r["success"], false, "{r}");
    let r = test("unverified");
    assert_eq!(r["success"], true, "{r}");
    let svc = kafka.read("svc", 1);
    assert_eq!(
        svc.len(),
        1,
        "only the unverified cluster's test got through"
    );
    let log = kafka.log();
    assert!(log.contains(&"authenticated farad".to_owned()), "{log:?}");
    assert!(
        !log.contains(&"unauthenticated request".to_owned()),
        "{log:?}"
    );

    let r = f.get("/kapacitor/v1/config/kafka");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!r.body.contains("s3cret"), "{}", r.body);
}

/// SASL without TLS (`sasl_plaintext`), SCRAM's names refused by a PLAIN-only broker.
#[test]
fn kafka_handler_with_sasl_in_the_clear() {
    let kafka = SecureKafka::start(None, Login::plain("farad", "s3cret"));
    kafka.create_topic("alerts", 1);
    let dir = TempDir::new("kafka-sasl");
    let cluster = |id: &str, extra: &str| {
        format!(
            "[[kafka]]\nenabled = true\nid = {id:?}\nbrokers = [{:?}]\nbatch-timeout = \"5ms\"\n\
             timeout = \"3s\"\nsasl-username = \"farad\"\nsasl-password = \"s3cret\"\n{extra}",
            kafka.broker()
        )
    };
    let conf = [
        cluster("plain", ""),
        cluster("scram", "sasl-mechanism = \"SCRAM-SHA-256\"\n"),
    ]
    .concat();
    let f = Farad::start_in(&dir.path().join("data"), &conf);
    let r = test_kafka(&f, "plain", "alerts");
    assert_eq!(r["success"], true, "{r}");
    let got = kafka.read("alerts", 1);
    assert_eq!(got.len(), 1, "{:?}", kafka.log());
    assert_eq!(got[0].payload, "test kafka message");
    let r = test_kafka(&f, "scram", "alerts");
    assert_eq!(r["success"], false, "{r}");
    let log = kafka.log();
    assert!(log.contains(&"authenticated farad".to_owned()), "{log:?}");
    assert!(!log.contains(&"tls".to_owned()), "{log:?}");
}

/// GSSAPI (Kerberos) against a KDC on 127.0.0.1 (MIT's krb5kdc) and a broker that accepts
/// with its service keytab: logins by password (`KRB5_USER_AUTH`, the realm from
/// `sasl-gssapi-realm`) and by keytab (`KRB5_KEYTAB_AUTH`), `krb5.conf` from
/// `sasl-gssapi-kerberos-config-path`; a wrong password is Kerberos' own error in the
/// service test, and the broker never sees an unauthenticated request.
#[test]
fn kafka_handler_logs_in_with_kerberos() {
    let dir = TempDir::new("kafka-gssapi");
    let kdc = Kdc::start(dir.path());
    kdc.add_user("farad", "s3cret");
    let broker_keytab = dir.path().join("kafka.keytab");
    kdc.add_keytab("kafka/127.0.0.1", &broker_keytab);
    let kafka = SecureKafka::start(None, Some(Login::Gssapi(broker_keytab)));
    kafka.create_topic("alerts", 1);
    let cluster = |id: &str, extra: &str| {
        format!(
            "[[kafka]]\nenabled = true\nid = {id:?}\nbrokers = [{:?}]\nbatch-timeout = \"5ms\"\n\
             timeout = \"5s\"\nsasl-mechanism = \"GSSAPI\"\nsasl-gssapi-realm = {REALM:?}\n\
             sasl-gssapi-kerberos-config-path = {:?}\n{extra}",
            kafka.broker(),
            kdc.krb5_conf().display().to_string(),
        )
    };
    let user = "sasl-gssapi-auth-type = \"KRB5_USER_AUTH\"\nsasl-username = \"farad\"\n";
    let conf = [
        cluster("password", &format!("{user}sasl-password = \"s3cret\"\n")),
        cluster("wrong", &format!("{user}sasl-password = \"guess\"\n")),
    ]
    .concat();
    // The credential cache is the test's, not the user's default.
    let ccache = format!("FILE:{}", dir.path().join("ccache").display());
    let f = Farad::start_with_env(
        &dir.path().join("data"),
        &conf,
        &[("KRB5CCNAME", ccache.as_str())],
    );
    let event = alert_through(&f, "password", &kafka);
    assert!(
        event.payload.contains("\"level\":\"CRITICAL\""),
        "{}",
        event.payload
    );
    let log = kafka.log();
    assert!(
        log.contains(&format!("authenticated farad@{REALM}")),
        "{log:?}"
    );

    let r = test_kafka(&f, "wrong", "alerts");
    assert_eq!(r["success"], false, "{r}");
    let message = r["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("kinit farad@FARAD.TEST") && message.contains("Password incorrect"),
        "{r}"
    );
    drop(f);

    // A keytab instead of a password.
    let client_keytab = dir.path().join("farad.keytab");
    kdc.add_keytab("farad-service", &client_keytab);
    let conf = cluster(
        "keytab",
        &format!(
            "sasl-gssapi-auth-type = \"KRB5_KEYTAB_AUTH\"\nsasl-username = \"farad-service\"\n\
             sasl-gssapi-key-tab-path = {:?}\n",
            client_keytab.display().to_string()
        ),
    );
    let f = Farad::start_with_env(
        &dir.path().join("data2"),
        &conf,
        &[("KRB5CCNAME", ccache.as_str())],
    );
    let r = test_kafka(&f, "keytab", "alerts");
    assert_eq!(r["success"], true, "{r}");
    let got = kafka.read("alerts", 2);
    assert_eq!(got.len(), 2, "{:?}", kafka.log());
    assert_eq!(got[1].payload, "test kafka message");
    let log = kafka.log();
    assert!(
        log.contains(&format!("authenticated farad-service@{REALM}")),
        "{log:?}"
    );
    assert!(
        !log.contains(&"unauthenticated request".to_owned()),
        "{log:?}"
    );
}

/// OAUTHBEARER: a token from the config (with extensions) and tokens fetched by OAuth 2
/// client credentials from a token endpoint on 127.0.0.1, renewed before they expire.
#[test]
fn kafka_handler_logs_in_with_oauth_tokens() {
    let dir = TempDir::new("kafka-oauth");
    let certs = farad_tests::certificates(&dir.path().join("certs"));
    let ca = &certs.ca;
    let tokens = std::sync::Arc::new(std::sync::Mutex::new(vec![
        "static-t".to_owned(),
        "fetched-1".to_owned(),
    ]));
    let kafka = SecureKafka::start(
        Some((&certs.cert, &certs.key)),
        Some(Login::Bearer(tokens.clone())),
    );
    for topic in ["alerts", "svc"] {
        kafka.create_topic(topic, 1);
    }
    let issuer = HttpSink::start();
    // Good for 12 s, renewed 10 s before: the next fetch comes 2 s after each.
    issuer.reply_with(
        "application/json",
        r#"{"access_token":"fetched-1","token_type":"bearer","expires_in":12}"#,
    );
    let cluster = |id: &str, extra: &str| {
        format!(
            "[[kafka]]\nenabled = true\nid = {id:?}\nbrokers = [{:?}]\nbatch-timeout = \"5ms\"\n\
             timeout = \"3s\"\nuse-ssl = true\nssl-ca = {:?}\nsasl-mechanism = \"OAUTHBEARER\"\n{extra}",
            kafka.broker(),
            ca.display().to_string(),
        )
    };
    let conf = [
        cluster(
            "static",
            "sasl-access-token = \"static-t\"\n[kafka.sasl_extensions]\nlogicalCluster = \"lkc-1\"\n",
        ),
        cluster("wrong", "sasl-access-token = \"guess\"\n"),
        cluster(
            "fetched",
            &format!(
                "sasl-oauth-client-id = \"farad-id\"\nsasl-oauth-client-secret = \"s3cr&t\"\n\
                 sasl-oauth-token-url = \"{}/oauth/token\"\nsasl-oauth-scopes = [\"kafka\", \"write\"]\n\
                 [kafka.sasl-oauth-parameters]\naudience = \"brokers\"\n",
                issuer.url()
            ),
        ),
    ]
    .concat();
    let f = Farad::start_in(&dir.path().join("data"), &conf);
    alert_through(&f, "fetched", &kafka);

    // The next fetch gets a new token; the broker takes only that one from now on, and
    // makes every client log in again.
    issuer.reply_with(
        "application/json",
        r#"{"access_token":"fetched-2","token_type":"bearer","expires_in":3600}"#,
    );
    let fetched = issuer.received().len();
    issuer.wait_for(fetched + 1);
    std::thread::sleep(std::time::Duration::from_millis(500));
    *tokens.lock().unwrap() = vec!["static-t".to_owned(), "fetched-2".to_owned()];
    kafka.drop_connections();
    write(&f, "cpu value=10 2\n");
    let events = kafka.read("alerts", 2);
    assert_eq!(events.len(), 2, "the recovery: {:?}", kafka.log());
    assert!(
        events[1].payload.contains("\"level\":\"OK\""),
        "{}",
        events[1].payload
    );

    let fetches = issuer.received();
    for r in &fetches {
        assert_eq!(
            (r.method.as_str(), r.target.as_str()),
            ("POST", "/oauth/token")
        );
        assert_eq!(
            r.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        // Go's oauth2 escapes the id and secret before basic auth: `farad-id:s3cr%26t`.
        assert_eq!(
            r.header("authorization"),
            Some("Basic ZmFyYWQtaWQ6czNjciUyNnQ=")
        );
        let mut form: Vec<(String, String)> = String::from_utf8_lossy(&r.body)
            .split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (k.to_owned(), v.replace('+', " "))
            })
            .collect();
        form.sort();
        assert_eq!(
            form,
            [
                ("audience".into(), "brokers".into()),
                ("grant_type".into(), "client_credentials".into()),
                ("scope".into(), "kafka write".into()),
            ],
            "{}",
            String::from_utf8_lossy(&r.body)
        );
    }

    assert_eq!(test_kafka(&f, "static", "svc")["success"], true);
    assert_eq!(kafka.read("svc", 1).len(), 1);
    assert_eq!(test_kafka(&f, "wrong", "svc")["success"], false);
    let log = kafka.log();
    for line in [
        "authenticated fetched-1",
        "authenticated fetched-2",
        "authenticated static-t logicalCluster=lkc-1",
        "refused guess",
    ] {
        assert!(log.contains(&line.to_owned()), "{line:?} not in {log:?}");
    }
    let r = f.get("/kapacitor/v1/config/kafka");
    assert!(
        !r.body.contains("static-t") && !r.body.contains("s3cr&t"),
        "{}",
        r.body
    );
}
