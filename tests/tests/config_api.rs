//! The config API: sections as they stand with secrets redacted; overrides that set and
//! delete options, add and remove list elements, take effect in the running services at
//! once, are stored, and are laid over the config file again after a restart.

use farad_tests::{Farad, HttpSink, TempDir};
use serde_json::{Value, json};

fn post(f: &Farad, path: &str, body: Value) -> farad_tests::Reply {
    f.post(&format!("/kapacitor/v1/config{path}"), body.to_string())
}

fn service_test(f: &Farad, name: &str, options: Value) -> Value {
    let r = f.post(
        &format!("/kapacitor/v1/service-tests/{name}"),
        options.to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

#[test]
fn overrides_change_running_services_and_survive_a_restart() {
    let sink = HttpSink::start();
    let dir = TempDir::new("config-api");
    let file = "[smtp]\nhost = \"mail.example\"\npassword = \"hunter2\"\n\
                [[httppost]]\nendpoint = \"file\"\nurl = \"http://127.0.0.1:1/x\"\n";
    let f = Farad::start_in(dir.path(), file);

    // What stands: every section, secrets only as whether they are set.
    let all = f.get("/kapacitor/v1/config").json();
    assert_eq!(all["link"]["href"], "/kapacitor/v1/config");
    for s in [
        "smtp",
        "slack",
        "pagerduty2",
        "influxdb",
        "httppost",
        "mqtt",
    ] {
        assert!(all["sections"][s].is_object(), "section {s} in {all}");
    }
    let smtp = &all["sections"]["smtp"]["elements"][0];
    assert_eq!(smtp["link"]["href"], "/kapacitor/v1/config/smtp/");
    assert_eq!(smtp["options"]["host"], "mail.example");
    assert_eq!(smtp["options"]["password"], true);
    assert!(!all.to_string().contains("hunter2"));
    assert!(
        smtp["redacted"]
            .as_array()
            .unwrap()
            .contains(&json!("password"))
    );
    let slack = f.get("/kapacitor/v1/config/slack/").json();
    assert_eq!(slack["options"]["enabled"], false);
    assert_eq!(slack["options"]["url"], false);
    let hook = f.get("/kapacitor/v1/config/httppost/file").json();
    assert_eq!(hook["options"]["url"], "http://127.0.0.1:1/x");
    assert_eq!(f.get("/kapacitor/v1/config/nope").status, 404);
    assert_eq!(f.get("/kapacitor/v1/config/httppost/nope").status, 404);
    assert_eq!(f.get("/kapacitor/v1/config/").status, 400);

    // Slack is off; turned on over the API it sends at once.
    let slack_test = json!({"channel": "#ops", "message": "hello", "level": "CRITICAL"});
    assert_eq!(
        service_test(&f, "slack", slack_test.clone())["success"],
        false
    );
    let url = format!("{}/slack", sink.url());
    let r = post(&f, "/slack/", json!({"set": {"enabled": true, "url": url}}));
    assert_eq!(r.status, 204, "{}", r.body);
    let done = service_test(&f, "slack", slack_test.clone());
    assert_eq!(done["success"], true, "{done}");
    let got = sink.wait_for(1);
    assert_eq!(got[0].target, "/slack");
    assert_eq!(got[0].json()["channel"], "#ops");
    let slack = f.get("/kapacitor/v1/config/slack/").json();
    assert_eq!(slack["options"]["enabled"], true);
    assert_eq!(slack["options"]["url"], true, "redacted once set");

    // A new [[httppost]] endpoint, added and used, then removed.
    let r = post(
        &f,
        "/httppost",
        json!({"add": {"endpoint": "hook", "url": format!("{}/hook", sink.url())}}),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let done = service_test(&f, "httppost", json!({"endpoint": "hook", "url": ""}));
    assert_eq!(done["success"], true, "{done}");
    assert_eq!(sink.wait_for(2)[1].target, "/hook");
    let r = post(
        &f,
        "/httppost",
        json!({"add": {"endpoint": "hook", "url": "x"}}),
    );
    assert_eq!(r.status, 400, "added twice: {}", r.body);
    // An element of the file can be removed too.
    let r = post(&f, "/httppost", json!({"remove": ["file"]}));
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(f.get("/kapacitor/v1/config/httppost/file").status, 404);

    // Refused changes say why and change nothing.
    for (path, body, why) in [
        ("/smtp/", json!({"set": {"port": "many"}}), "port"),
        ("/smtp", json!({"set": {"port": 25}}), "trailing '/'"),
        (
            "/smtp/",
            json!({"set": {"port": 25}, "add": {"x": 1}}),
            "both",
        ),
        ("/smtp", json!({"add": {"name": "x"}}), "not a list"),
        ("/httppost", json!({"add": {"url": "x"}}), "missing key"),
        ("/nosuch/", json!({"set": {"a": 1}}), "unknown section"),
        (
            "/httppost/ghost",
            json!({"set": {"url": "x"}}),
            "unknown element",
        ),
    ] {
        let r = post(&f, path, body);
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        assert!(r.body.contains(why), "{path}: {why} in {}", r.body);
    }
    let r = f.post("/kapacitor/v1/config/smtp/", "{");
    assert_eq!(r.status, 400);
    assert_eq!(
        f.get("/kapacitor/v1/config/smtp/").json()["options"]["port"],
        25
    );

    // A deleted option takes the file's value again.
    assert_eq!(
        post(&f, "/smtp/", json!({"set": {"host": "other"}})).status,
        204
    );
    assert_eq!(
        f.get("/kapacitor/v1/config/smtp/").json()["options"]["host"],
        "other"
    );
    assert_eq!(post(&f, "/smtp/", json!({"delete": ["host"]})).status, 204);
    assert_eq!(
        f.get("/kapacitor/v1/config/smtp/").json()["options"]["host"],
        "mail.example"
    );

    // After a crash the overrides still stand, over the same file.
    f.kill9();
    let f = Farad::start_in(dir.path(), file);
    let slack = f.get("/kapacitor/v1/config/slack/").json();
    assert_eq!(slack["options"]["enabled"], true);
    assert_eq!(f.get("/kapacitor/v1/config/httppost/hook").status, 200);
    assert_eq!(f.get("/kapacitor/v1/config/httppost/file").status, 404);
    let done = service_test(&f, "slack", slack_test);
    assert_eq!(done["success"], true, "{done}");
    let stores = f.get("/kapacitor/v1/storage/stores").body;
    assert!(stores.contains("\"overrides\""), "{stores}");
    drop(f);

    // skip-config-overrides starts from the file alone.
    let f = Farad::start_in(dir.path(), &format!("skip-config-overrides = true\n{file}"));
    assert_eq!(
        f.get("/kapacitor/v1/config/slack/").json()["options"]["enabled"],
        false
    );
}

#[test]
fn the_config_api_can_be_turned_off() {
    let dir = TempDir::new("config-api-off");
    let f = Farad::start_with_env(
        dir.path(),
        "",
        &[("KAPACITOR_CONFIG_OVERRIDE_ENABLED", "false")],
    );
    let r = f.get("/kapacitor/v1/config");
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"], "config override service is not enabled");
    assert_eq!(post(&f, "/smtp/", json!({"set": {"port": 2}})).status, 403);
}
