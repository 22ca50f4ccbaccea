//! SaaS alert handlers, which run as Wasm plugins built into Farad: each sends what its
//! vendor's API documents to a loopback receiver standing in for the vendor, from an alert
//! node property and from a topic handler spec, with the options and config keys Kapacitor
//! documents.

use farad_tests::{Farad, HttpSink, Received, TempDir};
use serde_json::{Value, json};

fn define(f: &Farad, id: &str, script: &str) {
    let body = json!({
        "id": id, "type": "stream", "status": "enabled", "script": script,
        "dbrps": [{"db": "db", "rp": "rp"}],
    });
    let r = f.post("/kapacitor/v1/tasks", body.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["executing"], true, "{}", r.body);
}

fn write(f: &Farad, lp: &str) {
    let r = f.post("/write?db=db&rp=rp&precision=s", lp);
    assert_eq!(r.status, 204, "{}", r.body);
}

fn add_handler(f: &Farad, topic: &str, spec: Value) {
    let r = f.post(
        &format!("/kapacitor/v1/alerts/topics/{topic}/handlers"),
        spec.to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

/// The request sent to `path`, among those received.
fn at<'a>(got: &'a [Received], path: &str) -> &'a Received {
    got.iter()
        .find(|r| r.target == path)
        .unwrap_or_else(|| panic!("nothing sent to {path}: {got:?}"))
}

const CPU_ALERT: &str = "stream|from().measurement('cpu').groupBy('host')|alert().id('cpu:{{ index .Tags \"host\" }}').crit(lambda: \"value\" > 90.0).topic('cpu')";

#[test]
fn slack_posts_attachments_by_level_to_the_workspace_webhook() {
    let sink = HttpSink::start();
    let dir = TempDir::new("saas-slack");
    let config = format!(
        "[[slack]]\nenabled = true\ndefault = true\nworkspace = \"main\"\nurl = \"{url}/services/T1/B1/main\"\nchannel = \"#alerts\"\n\
         [[slack]]\nenabled = true\nworkspace = \"ops\"\nurl = \"{url}/services/T1/B1/ops\"\ntoken = \"xoxb-1\"\nusername = \"farad\"\n",
        url = sink.url()
    );
    let f = Farad::start_in(dir.path(), &config);
    let script = CPU_ALERT.replace(
        ".topic('cpu')",
        ".slack().channel('#ops').iconEmoji(':fire:').slack().workspace('ops').topic('cpu')",
    );
    define(&f, "cpu_alert", &script);
    add_handler(
        &f,
        "cpu",
        json!({"id": "to-slack", "kind": "slack", "options": {"channel": "#topic"}}),
    );
    write(&f, "cpu,host=a value=97.5 10\ncpu,host=a value=12 20\n");
    // Two events (CRITICAL, then OK) through three handlers.
    let got = sink.wait_for(6);
    let main: Vec<&Received> = got
        .iter()
        .filter(|r| r.target == "/services/T1/B1/main")
        .collect();
    assert_eq!(main.len(), 4, "{got:?}");
    let node_crit = main
        .iter()
        .find(|r| r.json()["channel"] == "#ops")
        .expect("the node's own handler");
    assert_eq!(node_crit.method, "POST");
    assert_eq!(node_crit.header("content-type"), Some("application/json"));
    assert_eq!(node_crit.header("authorization"), None);
    assert_eq!(
        node_crit.json(),
        json!({
            "channel": "#ops", "text": "", "username": "kapacitor", "icon_emoji": ":fire:",
            "attachments": [{"fallback": "cpu:a is CRITICAL", "color": "danger",
                "text": "cpu:a is CRITICAL", "mrkdwn_in": ["text"]}],
        })
    );
    let topic: Vec<Value> = main
        .iter()
        .map(|r| r.json())
        .filter(|j| j["channel"] == "#topic")
        .collect();
    assert_eq!(topic.len(), 2, "{got:?}");
    assert_eq!(topic[1]["attachments"][0]["color"], "good");
    assert_eq!(topic[1]["attachments"][0]["text"], "cpu:a is OK");

    // The second workspace: its own URL, its token as a bearer, its username.
    let ops = at(&got, "/services/T1/B1/ops");
    assert_eq!(ops.header("authorization"), Some("Bearer xoxb-1"));
    assert_eq!(ops.json()["username"], "farad");
    assert_eq!(ops.json()["channel"], "");
}

#[test]
fn a_disabled_or_failing_vendor_costs_only_its_own_events() {
    let sink = HttpSink::start();
    let dir = TempDir::new("saas-disabled");
    let config = format!(
        "[[slack]]\nenabled = false\nurl = \"{}/services/x\"\n",
        sink.url()
    );
    let f = Farad::start_in(dir.path(), &config);
    let script = CPU_ALERT.replace(".topic('cpu')", ".slack().post('{url}/post')");
    define(&f, "cpu_alert", &script.replace("{url}", &sink.url()));
    // Unknown options of a topic handler are refused when it is defined.
    let r = f.post(
        "/kapacitor/v1/alerts/topics/cpu/handlers",
        json!({"id": "x", "kind": "slack", "options": {"chanel": "#a"}}).to_string(),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("chanel"), "{}", r.body);
    write(&f, "cpu,host=a value=97.5 10\n");
    // The post handler beside it still sends; Slack sends nothing.
    let got = sink.wait_for(1);
    assert_eq!(got[0].target, "/post");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(sink.received().len(), 1, "{:?}", sink.received());
    assert_eq!(f.get("/kapacitor/v1/ping").status, 204);
}

#[test]
fn a_global_vendor_hears_every_alert_node_and_only_state_changes() {
    let sink = HttpSink::start();
    let dir = TempDir::new("saas-global");
    let config = format!(
        "[[slack]]\nenabled = true\nglobal = true\nstate-changes-only = true\nurl = \"{}/services/g\"\n",
        sink.url()
    );
    let f = Farad::start_in(dir.path(), &config);
    // No `.slack()` in the script.
    define(&f, "cpu_alert", CPU_ALERT);
    write(
        &f,
        "cpu,host=a value=97.5 10\ncpu,host=a value=98 20\ncpu,host=a value=99 30\ncpu,host=a value=1 40\n",
    );
    let got = sink.wait_for(2);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let texts: Vec<String> = sink
        .received()
        .iter()
        .map(|r| {
            r.json()["attachments"][0]["text"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    assert_eq!(texts, ["cpu:a is CRITICAL", "cpu:a is OK"], "{got:?}");
}

/// Starts Farad with `config` (where `{url}` is the receiver's), defines the CPU alert with
/// `handler` on its node, writes a CRITICAL then an OK point, and returns the `n` requests
/// the vendor received.
fn two_events(label: &str, config: &str, handler: &str, n: usize) -> Vec<Received> {
    let sink = HttpSink::start();
    let dir = TempDir::new(label);
    let f = Farad::start_in(dir.path(), &config.replace("{url}", &sink.url()));
    define(
        &f,
        "cpu_alert",
        &CPU_ALERT.replace(".topic('cpu')", &handler.replace("{url}", &sink.url())),
    );
    write(&f, "cpu,host=a value=97.5 10\ncpu,host=a value=12 20\n");
    let got = sink.wait_for(n);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let all = sink.received();
    assert_eq!(all.len(), n, "{all:?}");
    drop(f);
    got
}

const SERIES: &str = r#"{"series":[{"name":"cpu","tags":{"host":"a"},"columns":["time","value"],"values":[["1970-01-01T00:00:10Z",97.5]]}]}"#;

#[test]
fn pagerduty2_triggers_and_resolves_by_dedup_key() {
    let got = two_events(
        "saas-pd2",
        "[pagerduty2]\nenabled = true\nurl = \"{url}/v2/enqueue\"\nrouting-key = \"rk-config\"\n",
        ".pagerDuty2().routingKey('rk-1').link('http://example.com/{{ .TaskName }}', 'Task').link('http://example.com/b')",
        2,
    );
    let r = &got[0];
    assert_eq!(r.target, "/v2/enqueue");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.header("accept"),
        Some("application/vnd.pagerduty+json;version=2")
    );
    let b = r.json();
    assert_eq!(b["routing_key"], "rk-1");
    assert_eq!(b["event_action"], "trigger");
    assert_eq!(b["dedup_key"], "cpu:a");
    assert_eq!(
        b["payload"],
        json!({"summary": "cpu:a is CRITICAL", "source": "a", "severity": "critical",
            "timestamp": "1970-01-01T00:00:10.000000000Z", "class": "cpu_alert",
            "component": "", "group": "",
            "custom_details": {"result": serde_json::from_str::<Value>(SERIES).unwrap()}})
    );
    assert_eq!(b["images"], Value::Null);
    assert_eq!(
        b["links"],
        json!([{"href": "http://example.com/cpu_alert", "text": "Task"},
            {"href": "http://example.com/b", "text": "http://example.com/b"}])
    );
    assert_eq!(b["client"], "kapacitor");
    assert!(
        b["client_url"].as_str().unwrap().ends_with("/kapacitor/v1"),
        "{b}"
    );
    let ok = got[1].json();
    assert_eq!(ok["event_action"], "resolve");
    assert_eq!(ok["payload"]["severity"], "info");
    assert_eq!(ok["dedup_key"], "cpu:a");
}

#[test]
fn pagerduty_v1_sends_details_as_a_string() {
    let got = two_events(
        "saas-pd1",
        "[pagerduty]\nenabled = true\nurl = \"{url}/generic/2010-04-15/create_event.json\"\nservice-key = \"sk\"\n",
        ".pagerDuty()",
        2,
    );
    let b = got[0].json();
    assert_eq!(got[0].target, "/generic/2010-04-15/create_event.json");
    assert_eq!(b["service_key"], "sk");
    assert_eq!(b["event_type"], "trigger");
    assert_eq!(b["incident_key"], "cpu:a");
    assert_eq!(b["description"], "cpu:a is CRITICAL");
    assert_eq!(b["client"], "kapacitor");
    assert!(b["details"].is_string(), "{b}");
    assert_eq!(got[1].json()["event_type"], "resolve");
}

#[test]
fn opsgenie2_creates_by_alias_and_closes_on_recovery() {
    let got = two_events(
        "saas-og2",
        "[opsgenie2]\nenabled = true\napi-key = \"k1\"\nurl = \"{url}/v2/alerts\"\nrecipients = [\"ops\"]\n",
        ".opsGenie2().teams('t1', 't2').recoveryAction('close')",
        2,
    );
    let r = &got[0];
    assert_eq!(r.target, "/v2/alerts");
    assert_eq!(r.header("authorization"), Some("GenieKey k1"));
    let b = r.json();
    // base64url("cpu:a") with padding.
    assert_eq!(b["alias"], "Y3B1OmE=");
    assert_eq!(b["entity"], "cpu:a");
    assert_eq!(b["message"], "cpu:a is CRITICAL");
    assert_eq!(b["priority"], "P1");
    assert_eq!(
        b["details"],
        json!({"Level": "CRITICAL", "Monitoring Tool": "Kapacitor", "host": "a",
            "Kapacitor Task Name": "cpu"})
    );
    assert_eq!(
        b["responders"],
        json!([{"name": "t1", "type": "team"}, {"name": "t2", "type": "team"},
            {"username": "ops", "type": "user"}])
    );
    let close = &got[1];
    assert_eq!(
        close.target,
        "/v2/alerts/Y3B1OmE=/close?identifierType=alias"
    );
    assert_eq!(close.json(), json!({"note": "cpu:a is OK"}));
}

#[test]
fn victorops_puts_the_keys_in_the_path() {
    let got = two_events(
        "saas-vo",
        "[victorops]\nenabled = true\napi-key = \"api\"\nrouting-key = \"default-team\"\nurl = \"{url}/integrations/generic/20131114/alert\"\n",
        ".victorOps().routingKey('team-a')",
        2,
    );
    assert_eq!(
        got[0].target,
        "/integrations/generic/20131114/alert/api/team-a"
    );
    let b = got[0].json();
    assert_eq!(b["message_type"], "CRITICAL");
    assert_eq!(b["entity_id"], "cpu:a");
    assert_eq!(b["state_message"], "cpu:a is CRITICAL");
    assert_eq!(b["monitoring_tool"], "kapacitor");
    assert_eq!(b["timestamp"], 10);
    assert_eq!(
        serde_json::from_str::<Value>(b["data"].as_str().unwrap()).unwrap(),
        serde_json::from_str::<Value>(SERIES).unwrap()
    );
    assert_eq!(got[1].json()["message_type"], "RECOVERY");
}

#[test]
fn alerta_renders_its_templates_and_maps_severity() {
    let got = two_events(
        "saas-alerta",
        "[alerta]\nenabled = true\nurl = \"{url}/api\"\ntoken = \"tok\"\nenvironment = \"prod\"\norigin = \"farad\"\n",
        ".alerta().resource('{{ index .Tags \"host\" }}').group('{{ .Group }}').value('{{ index .Fields \"value\" }}').services('web').attribute('team', 'ops')",
        2,
    );
    let r = &got[0];
    assert_eq!(r.target, "/api/alert");
    assert_eq!(r.header("authorization"), Some("Bearer tok"));
    let b = r.json();
    assert_eq!(b["resource"], "a");
    assert_eq!(b["event"], "cpu:a");
    assert_eq!(b["group"], "host=a");
    assert_eq!(b["value"], "97.5");
    assert_eq!(b["environment"], "prod");
    assert_eq!(b["origin"], "farad");
    assert_eq!(b["severity"], "critical");
    assert_eq!(b["service"], json!(["web"]));
    assert_eq!(b["correlate"], json!(["cpu"]));
    assert_eq!(b["attributes"], json!({"team": "ops"}));
    assert_eq!(b["tags"], json!(["host=a"]));
    assert_eq!(b["text"], "cpu:a is CRITICAL");
    assert_eq!(b["timeout"], 86400);
    assert_eq!(b["rawData"], serde_json::from_str::<Value>(SERIES).unwrap());
    assert_eq!(got[1].json()["severity"], "ok");
}

#[test]
fn every_bundled_plugin_loads_and_names_its_property() {
    let dir = TempDir::new("saas-list");
    let f = Farad::start_in(dir.path(), "");
    let list = f.get("/kapacitor/v1/handler-plugins").json();
    let mut props = Vec::new();
    for p in list["plugins"].as_array().unwrap() {
        assert_eq!(p["builtin"], true, "{p}");
        assert!(p.get("error").is_none(), "{p}");
        props.push(p["property"].as_str().unwrap().to_owned());
    }
    for want in [
        "alerta",
        "bigPanda",
        "discord",
        "hipChat",
        "opsGenie",
        "opsGenie2",
        "pagerDuty",
        "pagerDuty2",
        "pushover",
        "serviceNow",
        "slack",
        "talk",
        "teams",
        "telegram",
        "victorOps",
        "zenoss",
    ] {
        assert!(props.iter().any(|p| p == want), "{want} missing: {props:?}");
    }
}

#[test]
fn telegram_sends_to_the_bot_url_with_its_token() {
    let got = two_events(
        "saas-telegram",
        "[telegram]\nenabled = true\nurl = \"{url}/bot\"\ntoken = \"123:abc\"\nchat-id = \"-100\"\ndisable-notification = true\n",
        ".telegram().chatId('42').parseMode('Markdown').disableWebPagePreview()",
        2,
    );
    assert_eq!(got[0].target, "/bot123:abc/sendMessage");
    assert_eq!(
        got[0].json(),
        json!({"chat_id": "42", "text": "cpu:a is CRITICAL", "parse_mode": "Markdown",
            "disable_web_page_preview": true, "disable_notification": true})
    );
    assert_eq!(got[1].json()["text"], "cpu:a is OK");
}

#[test]
fn pushover_posts_a_form_with_priority_by_level() {
    let got = two_events(
        "saas-pushover",
        "[pushover]\nenabled = true\ntoken = \"app-token\"\nuser-key = \"config-user\"\nurl = \"{url}/1/messages.json\"\n",
        ".pushover().userKey('u1').title('CPU').uRL('http://example.com/x').uRLTitle('graphs').sound('siren')",
        2,
    );
    let r = &got[0];
    assert_eq!(r.target, "/1/messages.json");
    assert_eq!(
        r.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let form: std::collections::BTreeMap<String, String> =
        url_form(&String::from_utf8_lossy(&r.body));
    let want: std::collections::BTreeMap<String, String> = [
        ("token", "app-token"),
        ("user", "u1"),
        ("message", "cpu:a is CRITICAL"),
        ("priority", "1"),
        ("title", "CPU"),
        ("url", "http://example.com/x"),
        ("url_title", "graphs"),
        ("sound", "siren"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(form, want);
    assert_eq!(
        url_form(&String::from_utf8_lossy(&got[1].body))["priority"],
        "-2"
    );
}

/// A form body's fields, decoded.
fn url_form(body: &str) -> std::collections::BTreeMap<String, String> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' && i + 2 < b.len() {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).expect("hex"));
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8(out).expect("utf-8")
    };
    body.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

#[test]
fn teams_sends_a_message_card() {
    let got = two_events(
        "saas-teams",
        "[teams]\nenabled = true\nchannel-url = \"{url}/webhook/config\"\n",
        ".teams().channelURL('{url}/webhook/a')",
        2,
    );
    assert_eq!(got[0].target, "/webhook/a");
    assert_eq!(
        got[0].json(),
        json!({"@type": "MessageCard", "@context": "http://schema.org/extensions",
            "title": "CRITICAL: [cpu:a]", "text": "cpu:a is CRITICAL",
            "summary": "CRITICAL: [cpu:a] - cpu:a is CRITICAL...", "themeColor": "CC4A31"})
    );
    assert_eq!(got[1].json()["themeColor"], "34CC25");
}

#[test]
fn discord_sends_embeds_coloured_by_level() {
    let got = two_events(
        "saas-discord",
        "[[discord]]\nenabled = true\nurl = \"{url}/api/webhooks/1/x\"\nusername = \"farad\"\ntimestamp = true\n",
        ".discord().avatarURL('http://example.com/a.png').embedTitle('{{ .ID }} alert')",
        2,
    );
    assert_eq!(got[0].target, "/api/webhooks/1/x");
    assert_eq!(
        got[0].json(),
        json!({"username": "farad", "avatar_url": "http://example.com/a.png",
            "embeds": [{"color": 16342867, "title": "cpu:a alert",
                "description": "cpu:a is CRITICAL", "timestamp": "1970-01-01T00:00:10Z"}]})
    );
    assert_eq!(got[1].json()["embeds"][0]["color"], 8021490);
}

#[test]
fn hipchat_talk_and_bigpanda_send_their_formats() {
    let got = two_events(
        "saas-hipchat",
        "[hipchat]\nenabled = true\nurl = \"{url}/v2/room\"\ntoken = \"t k\"\n",
        ".hipChat().room('ops')",
        2,
    );
    assert_eq!(got[0].target, "/v2/room/ops/notification?auth_token=t+k");
    assert_eq!(
        got[0].json(),
        json!({"color": "red", "from": "kapacitor", "message": "cpu:a is CRITICAL", "notify": true})
    );
    assert_eq!(got[1].json()["color"], "green");

    let got = two_events(
        "saas-talk",
        "[talk]\nenabled = true\nurl = \"{url}/v2/services/webhook/uuid\"\nauthor_name = \"Farad\"\n",
        ".talk()",
        2,
    );
    assert_eq!(
        got[0].json(),
        json!({"authorName": "Farad", "text": "cpu:a is CRITICAL", "title": "cpu:a"})
    );

    let got = two_events(
        "saas-bigpanda",
        "[bigpanda]\nenabled = true\napp-key = \"app\"\ntoken = \"tok\"\nurl = \"{url}/data/v2/alerts\"\n",
        ".bigPanda().host('{{ index .Tags \"host\" }}').primaryProperty('host').attribute('team', 'ops')",
        2,
    );
    assert_eq!(got[0].header("authorization"), Some("Bearer tok"));
    assert_eq!(
        got[0].json(),
        json!({"description": "cpu:a is CRITICAL", "check": "cpu:a", "task": "cpu_alert:cpu",
            "timestamp": 10, "status": "critical", "primary_property": "host", "app_key": "app",
            "host": "a", "value": "97.5", "team": "ops"})
    );
    assert_eq!(got[1].json()["status"], "ok");
}

#[test]
fn servicenow_and_zenoss_send_their_records() {
    let got = two_events(
        "saas-servicenow",
        "[servicenow]\nenabled = true\nurl = \"{url}/api/global/em/jsonv2\"\nsource = \"Farad\"\nusername = \"u\"\npassword = \"p\"\n",
        ".serviceNow().node('{{ index .Tags \"host\" }}').type('CPU').resource('CPU-Total').metricName('value').messageKey('Alert: {{ .ID }}')",
        2,
    );
    assert_eq!(got[0].target, "/api/global/em/jsonv2");
    assert_eq!(got[0].header("authorization"), Some("Basic dTpw"));
    let rec = &got[0].json()["records"][0];
    assert_eq!(rec["source"], "Farad");
    assert_eq!(rec["node"], "a");
    assert_eq!(rec["type"], "CPU");
    assert_eq!(rec["resource"], "CPU-Total");
    assert_eq!(rec["metric_name"], "value");
    assert_eq!(rec["message_key"], "Alert: cpu:a");
    assert_eq!(rec["severity"], "1");
    assert_eq!(got[1].json()["records"][0]["severity"], "5");

    let got = two_events(
        "saas-zenoss",
        "[zenoss]\nenabled = true\nurl = \"{url}/zport/dmd/evconsole_router\"\n",
        ".zenoss().device('{{ index .Tags \"host\" }}').component('CPU').eventClass('/App')",
        2,
    );
    let b = got[0].json();
    assert_eq!(got[0].target, "/zport/dmd/evconsole_router");
    assert_eq!(b["action"], "EventsRouter");
    assert_eq!(b["method"], "add_event");
    assert_eq!(b["type"], "rpc");
    assert_eq!(b["tid"], 1);
    let d = &b["data"][0];
    assert_eq!(d["device"], "a");
    assert_eq!(d["component"], "CPU");
    assert_eq!(d["evclass"], "/App");
    assert_eq!(d["summary"], "cpu:a is CRITICAL");
    assert_eq!(d["severity"], "Critical");
    assert_eq!(d["collector"], "Kapacitor");
    assert_eq!(got[1].json()["data"][0]["severity"], "Clear");
}

#[test]
fn sensu_writes_check_results_to_the_client_socket() {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut line = String::new();
            BufReader::new(&conn).read_line(&mut line).ok();
            // As the Sensu client: `ok`, then close.
            conn.write_all(b"ok").ok();
            drop(conn);
            tx.send(line).ok();
        }
    });
    let dir = TempDir::new("saas-sensu");
    let config = format!("[sensu]\nenabled = true\naddr = \"{addr}\"\nhandlers = [\"default\"]\n");
    let f = Farad::start_in(dir.path(), &config);
    define(
        &f,
        "cpu_alert",
        "stream|from().measurement('cpu').groupBy('host')|alert().id('cpu.{{ index .Tags \"host\" }}').crit(lambda: \"value\" > 90.0).sensu().source('{{ index .Tags \"host\" }}').handlers('sns', 'slack').metadata('team', 'ops')",
    );
    write(&f, "cpu,host=a value=97.5 10\ncpu,host=a value=12 20\n");
    let wait = std::time::Duration::from_secs(10);
    let crit: Value = serde_json::from_str(&rx.recv_timeout(wait).unwrap()).unwrap();
    assert_eq!(
        crit,
        json!({"name": "cpu.a", "source": "a", "output": "cpu.a is CRITICAL", "status": 2,
            "handlers": ["sns", "slack"], "team": "ops"})
    );
    let ok: Value = serde_json::from_str(&rx.recv_timeout(wait).unwrap()).unwrap();
    assert_eq!(ok["status"], 0);
}

/// A vendor section's TLS keys (`ssl-ca`, `insecure-skip-verify`, as in Kapacitor's `[slack]`)
/// apply to its plugin's requests: a receiver with a certificate from a private CA is refused
/// by default, reached when the section trusts that CA or skips verification.
#[test]
fn slack_over_tls_trusts_its_ssl_ca_or_skips_verification() {
    let dir = TempDir::new("saas-slack-tls");
    let certs = farad_tests::certificates(&dir.path().join("certs"));
    let (ca, sink) = (&certs.ca, HttpSink::start_tls(&certs.cert, &certs.key));
    let url = sink.url();
    assert!(url.starts_with("https://"), "{url}");
    let f = Farad::start_in(
        &dir.path().join("data"),
        &format!(
            "[[slack]]\nenabled = true\ndefault = true\nworkspace = \"public\"\nurl = \"{url}/services/public\"\n\
             [[slack]]\nenabled = true\nworkspace = \"ca\"\nurl = \"{url}/services/ca\"\nssl-ca = {ca:?}\n\
             [[slack]]\nenabled = true\nworkspace = \"skip\"\nurl = \"{url}/services/skip\"\ninsecure-skip-verify = true\n\
             [[slack]]\nenabled = true\nworkspace = \"missing\"\nurl = \"{url}/services/missing\"\nssl-ca = \"/nonexistent/ca.pem\"\n"
        ),
    );
    let test = |workspace: &str| {
        let r = f.post(
            "/kapacitor/v1/service-tests/slack",
            json!({"workspace": workspace, "channel": "#tls", "level": "CRITICAL"}).to_string(),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    };
    let public = test("public");
    assert_eq!(public["success"], false, "{public}");
    let missing = test("missing");
    assert_eq!(missing["success"], false, "{missing}");
    assert!(
        missing["message"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/ca.pem"),
        "{missing}"
    );
    assert_eq!(test("ca"), json!({"success": true, "message": ""}));
    assert_eq!(test("skip"), json!({"success": true, "message": ""}));
    let got = sink.wait_for(2);
    let targets: Vec<&str> = got.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(targets, ["/services/ca", "/services/skip"]);
    assert_eq!(got[0].json()["channel"], "#tls");

    // From an alert node too: the workspace's TLS settings, not the default's.
    define(
        &f,
        "t",
        &CPU_ALERT.replace(".topic('cpu')", ".slack().workspace('ca')"),
    );
    write(&f, "cpu,host=a value=95 1\n");
    let got = sink.wait_for(3);
    assert_eq!(got[2].target, "/services/ca");
}
