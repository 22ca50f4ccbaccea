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
