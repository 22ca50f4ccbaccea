//! Users' own alert handler plugins: uploaded over HTTP, checked against the `handler` world,
//! kept across restarts, named as a topic handler's kind, and held to the hosts their config
//! names.

use farad_tests::{Farad, HttpSink, TempDir, guest_wasm};
use serde_json::json;

fn upload(f: &Farad, kind: &str, wasm: &[u8]) -> farad_tests::Reply {
    f.post(&format!("/kapacitor/v1/handler-plugins/{kind}"), wasm)
}

#[test]
fn an_uploaded_plugin_handles_a_topic_and_survives_a_restart() {
    let sink = HttpSink::start();
    let elsewhere = HttpSink::start();
    let dir = TempDir::new("handler-plugins");
    let config = format!("[webhook]\nurl = \"{}/hook\"\n", sink.url());
    let f = Farad::start_in(dir.path(), &config);

    // What is not a handler plugin is refused with the reason.
    let r = upload(&f, "webhook", b"not wasm at all");
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("not a valid Wasm component"), "{}", r.body);
    let slack = guest_wasm("handler-slack");
    let r = upload(&f, "webhook", &slack);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("calls itself \\\"slack\\\""), "{}", r.body);
    let r = upload(&f, "slack", &slack);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("built into Farad"), "{}", r.body);
    let udf = guest_wasm("moving-average");
    let r = upload(&f, "webhook", &udf);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("handler"), "{}", r.body);

    let wasm = guest_wasm("webhook-handler");
    let r = upload(&f, "webhook", &wasm);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["kind"], "webhook");
    assert_eq!(r.json()["builtin"], false);
    assert_eq!(r.json()["size"], wasm.len());
    let list = f.get("/kapacitor/v1/handler-plugins").json();
    let kinds: Vec<(&str, bool)> = list["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["kind"].as_str().unwrap(), p["builtin"].as_bool().unwrap()))
        .collect();
    assert!(kinds.contains(&("webhook", false)), "{kinds:?}");
    assert!(kinds.contains(&("slack", true)), "{kinds:?}");
    drop(f);

    // After a restart it is still there.
    let f = Farad::start_in(dir.path(), &config);
    assert_eq!(f.get("/kapacitor/v1/handler-plugins/webhook").status, 200);
    for (id, options) in [
        ("noted", json!({"note": "n1"})),
        // Plugins that trap or run out of memory cost their own event only.
        ("panics", json!({"panic": true})),
        ("hogs", json!({"hog": true})),
        // The plugin tries a host its config does not name: refused, nothing sent there.
        (
            "escapes",
            json!({"elsewhere": format!("{}/x", elsewhere.url())}),
        ),
    ] {
        let r = f.post(
            "/kapacitor/v1/alerts/topics/cpu/handlers",
            json!({"id": id, "kind": "webhook", "options": options}).to_string(),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = f.post(
        "/kapacitor/v1/alerts/topics/cpu/handlers",
        json!({"id": "bad", "kind": "webhook", "options": {"nope": 1}}).to_string(),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let task = json!({
        "id": "cpu_alert", "type": "stream", "status": "enabled",
        "script": "stream|from().measurement('cpu').groupBy('host')|alert().crit(lambda: \"value\" > 90.0).topic('cpu')",
        "dbrps": [{"db": "db", "rp": "rp"}],
    });
    assert_eq!(f.post("/kapacitor/v1/tasks", task.to_string()).status, 200);
    let r = f.post(
        "/write?db=db&rp=rp&precision=s",
        "cpu,host=a value=97.5 10\n",
    );
    assert_eq!(r.status, 204);
    let got = sink.wait_for(1);
    assert_eq!(got[0].target, "/hook");
    assert_eq!(got[0].header("x-alert"), Some("cpu_alert/a/CRITICAL"));
    assert_eq!(got[0].header("x-note"), Some("n1"));
    let body = got[0].json();
    assert_eq!(body["event"]["id"], "cpu:host=a");
    assert_eq!(body["event"]["level"], "CRITICAL");
    assert_eq!(body["fields"]["value"], 97.5);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(elsewhere.received().is_empty());
    assert_eq!(sink.received().len(), 1);
    // The daemon is fine, and so is the next event.
    assert_eq!(f.get("/kapacitor/v1/ping").status, 204);
    let r = f.post("/write?db=db&rp=rp&precision=s", "cpu,host=a value=1 20\n");
    assert_eq!(r.status, 204);
    let got = sink.wait_for(2);
    assert_eq!(got[1].header("x-alert"), Some("cpu_alert/a/OK"));

    assert_eq!(
        f.delete("/kapacitor/v1/handler-plugins/webhook").status,
        204
    );
    assert_eq!(f.get("/kapacitor/v1/handler-plugins/webhook").status, 404);
    assert_eq!(
        f.delete("/kapacitor/v1/handler-plugins/webhook").status,
        404
    );
}
