//! httpPost: rows go out to a real HTTP receiver on loopback, by URL, URL template or
//! configured endpoint; `.codeField()` records the answer; a dead receiver hurts nothing.

use farad_tests::{Farad, HttpSink, TempDir};
use serde_json::json;

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

#[test]
fn posts_rows_by_url_template_and_endpoint() {
    let sink = HttpSink::start();
    let dir = TempDir::new("http-post");
    let config = format!(
        "[[httppost]]\nendpoint = \"hook\"\nurl = \"{}/hook\"\nheaders = {{ X-Team = \"ops\" }}\nbasic-auth = {{ username = \"u\", password = \"p\" }}\nrow-template = \"{{{{ .Name }}}} {{{{ index .Tags \\\"host\\\" }}}} {{{{ range .Values }}}}{{{{ index . \\\"value\\\" }}}}{{{{ end }}}}\"\n",
        sink.url()
    );
    let f = Farad::start_in(dir.path(), &config);
    let url = sink.url();
    define(
        &f,
        "plain",
        &format!(
            "stream|from().measurement('cpu').groupBy('host')|httpPost('{url}/plain').header('X-Key', 'k1')|httpOut('out')"
        ),
    );
    define(
        &f,
        "templated",
        &format!(
            "stream|from().measurement('cpu').groupBy('host')|httpPost('{url}/{{{{ .Name }}}}?host={{{{ index .Tags \"host\" }}}}')"
        ),
    );
    define(
        &f,
        "endpoint",
        "stream|from().measurement('cpu').groupBy('host')|httpPost().endpoint('hook')",
    );
    write(&f, "cpu,host=a value=1.5 10\n");
    let got = sink.wait_for(3);
    let by_path = |p: &str| {
        got.iter()
            .find(|r| r.target.starts_with(p))
            .unwrap_or_else(|| panic!("nothing posted to {p}: {got:?}"))
    };

    let plain = by_path("/plain");
    assert_eq!(plain.method, "POST");
    assert_eq!(plain.header("content-type"), Some("application/json"));
    assert_eq!(plain.header("x-key"), Some("k1"));
    assert_eq!(
        plain.json(),
        json!({"series": [{"name": "cpu", "tags": {"host": "a"}, "columns": ["time", "value"],
            "values": [["1970-01-01T00:00:10Z", 1.5]]}]})
    );
    // The data also went on down the pipeline.
    let out = f.get("/kapacitor/v1/tasks/plain/out").json();
    assert_eq!(out["series"][0]["values"][0][1], 1.5);

    assert_eq!(by_path("/cpu").target, "/cpu?host=a");

    let hook = by_path("/hook");
    assert_eq!(hook.header("x-team"), Some("ops"));
    assert_eq!(hook.header("authorization"), Some("Basic dTpw"));
    assert_eq!(String::from_utf8_lossy(&hook.body), "cpu a 1.5");
}

#[test]
fn code_field_and_a_dead_receiver() {
    let sink = HttpSink::start();
    sink.answer(503);
    let dir = TempDir::new("http-post-code");
    let f = Farad::start_in(dir.path(), "");
    define(
        &f,
        "code",
        &format!(
            "stream|from().measurement('cpu')|httpPost('{}').codeField('code').captureResponse()|httpOut('out')",
            sink.url()
        ),
    );
    // Nothing listens on this port: every post fails, the points still flow.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    define(
        &f,
        "dead",
        &format!(
            "stream|from().measurement('cpu')|httpPost('{dead_url}').timeout(1s)|httpOut('out')"
        ),
    );
    write(&f, "cpu value=1 1\n");
    let out = f.get("/kapacitor/v1/tasks/code/out").json();
    assert_eq!(
        out["series"][0]["columns"],
        json!(["time", "code", "value"])
    );
    assert_eq!(out["series"][0]["values"][0][1], 503);
    assert_eq!(sink.received().len(), 1);

    sink.answer(200);
    write(&f, "cpu value=2 2\n");
    let out = f.get("/kapacitor/v1/tasks/code/out").json();
    assert_eq!(out["series"][0]["values"][0][1], 200);

    let dead_out = f.get("/kapacitor/v1/tasks/dead/out").json();
    assert_eq!(dead_out["series"][0]["values"][0][1], 2.0);
    assert_eq!(f.get("/kapacitor/v1/ping").status, 204);
}

#[test]
fn a_missing_endpoint_is_a_task_error() {
    let dir = TempDir::new("http-post-missing");
    let f = Farad::start_in(dir.path(), "");
    let body = json!({
        "id": "t", "type": "stream", "status": "enabled",
        "script": "stream|from()|httpPost().endpoint('nope')",
        "dbrps": [{"db": "db", "rp": "rp"}],
    });
    let r = f.post("/kapacitor/v1/tasks", body.to_string());
    assert_eq!(r.json()["executing"], false, "{}", r.body);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("endpoint 'nope' does not exist"),
        "{}",
        r.body
    );
}

#[test]
fn alert_events_reach_a_post_handler() {
    let sink = HttpSink::start();
    let dir = TempDir::new("alert-post");
    let f = Farad::start_in(dir.path(), "hostname = \"farad-test\"");
    define(
        &f,
        "cpu_alert",
        &format!(
            "stream|from().measurement('cpu').groupBy('host')|alert().id('{{{{ .TaskName }}}}:{{{{ index .Tags \"host\" }}}}').message('{{{{ .ID }}}} is {{{{ .Level }}}} on {{{{ .ServerInfo.Hostname }}}}').crit(lambda: \"value\" > 90.0).post('{}/alert')",
            sink.url()
        ),
    );
    write(&f, "cpu,host=a value=95 10\ncpu,host=a value=10 20\n");
    let got = sink.wait_for(2);
    let ev: Vec<serde_json::Value> = got.iter().map(|r| r.json()).collect();
    assert_eq!(got[0].target, "/alert");
    assert_eq!(ev[0]["id"], "cpu_alert:a");
    assert_eq!(ev[0]["message"], "cpu_alert:a is CRITICAL on farad-test");
    assert_eq!(ev[0]["level"], "CRITICAL");
    assert_eq!(ev[0]["time"], "1970-01-01T00:00:10Z");
    // Kapacitor's bytes: `alert.Data`'s field order, Go's whole float, its encoder's newline.
    let body = String::from_utf8_lossy(&got[0].body);
    assert!(body.starts_with(r#"{"id":"cpu_alert:a","message":"cpu_alert:a is CRITICAL on farad-test","details":"{\u0026#34;Name\u0026#34;:\u0026#34;cpu\u0026#34;,"#), "{body}");
    assert!(
        body.ends_with(&(r#"","time":"1970-01-01T00:00:10Z","duration":0,"level":"CRITICAL","data":{"series":[{"name":"cpu","tags":{"host":"a"},"columns":["time","value"],"values":[["1970-01-01T00:00:10Z",95]]}]},"previousLevel":"OK","recoverable":true}"#.to_owned() + "\n")),
        "{body}"
    );
    assert_eq!(ev[1]["level"], "OK");
    assert_eq!(ev[1]["previousLevel"], "CRITICAL");
    assert_eq!(ev[1]["duration"], 10_000_000_000i64);
    let task = f.get("/kapacitor/v1/tasks/cpu_alert").json();
    assert_eq!(task["stats"]["node-stats"]["alert2"]["crits_triggered"], 1);
    assert_eq!(task["stats"]["node-stats"]["alert2"]["alerts_triggered"], 2);
}

#[test]
fn an_endpoints_alert_template_and_url_template_shape_alert_posts() {
    let sink = HttpSink::start();
    let dir = TempDir::new("http-post-alert-template");
    // As Kapacitor's [[httppost]]: the URL and alert-template are Go templates over the
    // event's alert.Data; `json` writes it as Go's encoder does.
    let config = format!(
        "[[httppost]]\nendpoint = \"pager\"\nurl = \"{}/alerts/{{{{ .Level }}}}\"\nheaders = {{ X-Team = \"ops\" }}\nalert-template = \"{{{{ .ID }}}} went {{{{ .PreviousLevel }}}} -> {{{{ .Level }}}}: {{{{ jsonCompact .Data }}}}\"\n",
        sink.url()
    );
    let f = Farad::start_in(dir.path(), &config);
    define(
        &f,
        "node_post",
        "stream|from().measurement('cpu').groupBy('host')|alert().id('{{ index .Tags \"host\" }}').crit(lambda: \"value\" > 90.0).post().endpoint('pager')",
    );
    define(
        &f,
        "topic_post",
        "stream|from().measurement('mem').groupBy('host')|alert().id('mem-{{ index .Tags \"host\" }}').crit(lambda: \"value\" > 90.0).topic('mem')",
    );
    let r = f.post(
        "/kapacitor/v1/alerts/topics/mem/handlers",
        json!({"id": "pager", "kind": "post", "options": {"endpoint": "pager"}}).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    write(&f, "cpu,host=a value=95.5 10\n");
    write(&f, "mem,host=b value=99 10\nmem,host=b value=1 20\n");
    let got = sink.wait_for(3);
    let mut seen: Vec<(String, String)> = got
        .iter()
        .map(|r| {
            (
                r.target.clone(),
                String::from_utf8_lossy(&r.body).into_owned(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            (
                "/alerts/CRITICAL".to_owned(),
                r#"a went OK -> CRITICAL: {"series":[{"name":"cpu","tags":{"host":"a"},"columns":["time","value"],"values":[["1970-01-01T00:00:10Z",95.5]]}]}"#.to_owned()
            ),
            (
                "/alerts/CRITICAL".to_owned(),
                r#"mem-b went OK -> CRITICAL: {"series":[{"name":"mem","tags":{"host":"b"},"columns":["time","value"],"values":[["1970-01-01T00:00:10Z",99]]}]}"#.to_owned()
            ),
            (
                "/alerts/OK".to_owned(),
                r#"mem-b went CRITICAL -> OK: {"series":[{"name":"mem","tags":{"host":"b"},"columns":["time","value"],"values":[["1970-01-01T00:00:20Z",1]]}]}"#.to_owned()
            ),
        ]
    );
    // A templated body is not JSON: no JSON content type; the endpoint's headers still go.
    for r in &got {
        assert_eq!(r.header("content-type"), None);
        assert_eq!(r.header("x-team"), Some("ops"));
    }
}

/// A topic `post` handler's `skip-ssl-verification` and the alert node's
/// `.post().skipSSLVerification()`: a receiver whose certificate no root vouches for gets the
/// event only from the handlers that skip verification.
#[test]
fn post_handlers_may_skip_ssl_verification() {
    let dir = TempDir::new("post-skip-ssl");
    let certs = farad_tests::certificates(&dir.path().join("certs"));
    let sink = HttpSink::start_tls(&certs.cert, &certs.key);
    let f = Farad::start_in(&dir.path().join("data"), "");
    let url = sink.url();
    define(
        &f,
        "t",
        &format!(
            "stream|from().measurement('cpu')|alert().id('cpu').crit(lambda: \"value\" > 90.0).topic('cpu')\
             .post('{url}/node-verified').post('{url}/node-skipped', '{url}/unused').skipSSLVerification()"
        ),
    );
    for (id, skip) in [("verified", false), ("skipped", true)] {
        let spec = json!({"id": id, "kind": "post", "options": {
            "url": format!("{}/{id}", sink.url()), "skip-ssl-verification": skip}});
        let r = f.post("/kapacitor/v1/alerts/topics/cpu/handlers", spec.to_string());
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let bad = json!({"id": "b", "kind": "post", "options": {
        "url": sink.url(), "skip-ssl-verification": "yes"}});
    let r = f.post("/kapacitor/v1/alerts/topics/cpu/handlers", bad.to_string());
    assert_eq!(r.status, 400, "{}", r.body);
    write(&f, "cpu value=95 1\n");
    let got = sink.wait_for(2);
    let mut targets: Vec<&str> = got.iter().map(|r| r.target.as_str()).collect();
    targets.sort();
    assert_eq!(targets, ["/node-skipped", "/skipped"]);
    assert!(String::from_utf8_lossy(&got[0].body).contains("CRITICAL"));
    // The verified ones were refused by the client: nothing more arrives.
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(sink.received().len(), 2, "{:?}", sink.received());
}

/// Without an `ssl-ca`, handlers trust the system's roots as Go's clients do (here
/// `SSL_CERT_FILE`, naming the test CA): the alert reaches a receiver whose certificate only
/// that CA vouches for.
#[test]
fn post_handlers_trust_the_systems_roots() {
    let dir = TempDir::new("post-system-roots");
    let certs = farad_tests::certificates(&dir.path().join("certs"));
    let sink = HttpSink::start_tls(&certs.cert, &certs.key);
    let ca = certs.ca.to_str().unwrap();
    let f = Farad::start_trusting(&dir.path().join("data"), "", &[("SSL_CERT_FILE", ca)], None);
    define(
        &f,
        "t",
        &format!(
            "stream|from().measurement('cpu')|alert().id('cpu').crit(lambda: \"value\" > 90.0).topic('cpu').post('{}/node')",
            sink.url()
        ),
    );
    let spec =
        json!({"id": "h", "kind": "post", "options": {"url": format!("{}/topic", sink.url())}});
    let r = f.post("/kapacitor/v1/alerts/topics/cpu/handlers", spec.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    write(&f, "cpu value=95 1\n");
    let mut targets: Vec<String> = sink.wait_for(2).iter().map(|r| r.target.clone()).collect();
    targets.sort();
    assert_eq!(targets, ["/node", "/topic"]);
}
