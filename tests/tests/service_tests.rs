//! Service tests: each handler's configuration tried for real, with Kapacitor's answer
//! (`{"success": bool, "message": ...}`).

use farad_tests::{Farad, HttpSink, SmtpSink, TempDir};
use serde_json::json;

#[test]
fn service_tests_try_the_configured_handlers() {
    let sink = HttpSink::start();
    let dir = TempDir::new("service-tests");
    let smtp = SmtpSink::start(dir.path());
    let config = format!(
        "[[slack]]\nenabled = true\nurl = \"{url}/services/x\"\nchannel = \"#alerts\"\n\
         [pagerduty2]\nenabled = false\n\
         [smtp]\nenabled = true\nhost = \"127.0.0.1\"\nport = {port}\nfrom = \"farad@example.com\"\n\
         [[httppost]]\nendpoint = \"hook\"\nurl = \"{url}/hook\"\n",
        url = sink.url(),
        port = smtp.port
    );
    let f = Farad::start_in(&dir.path().join("data"), &config);

    let list = f.get("/kapacitor/v1/service-tests").json();
    let names: Vec<&str> = list["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for want in [
        "slack",
        "pagerduty2",
        "smtp",
        "httppost",
        "mqtt",
        "influxdb",
        "teams",
    ] {
        assert!(names.contains(&want), "{want}: {names:?}");
    }
    let slack = f.get("/kapacitor/v1/service-tests/slack").json();
    assert_eq!(slack["link"]["href"], "/kapacitor/v1/service-tests/slack");
    assert_eq!(slack["options"]["message"], "test slack message");
    let only = f.get("/kapacitor/v1/service-tests?pattern=sl*").json();
    assert_eq!(only["services"].as_array().unwrap().len(), 1);

    // Slack, for real: the test message reaches the webhook.
    let r = f.post(
        "/kapacitor/v1/service-tests/slack",
        json!({"channel": "#test", "level": "WARNING"}).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!({"success": true, "message": ""}));
    let got = sink.wait_for(1);
    assert_eq!(got[0].target, "/services/x");
    let body = got[0].json();
    assert_eq!(body["channel"], "#test");
    assert_eq!(body["attachments"][0]["text"], "test slack message");
    assert_eq!(body["attachments"][0]["color"], "warning");

    // A disabled service and a bad option fail with the reason.
    let r = f
        .post("/kapacitor/v1/service-tests/pagerduty2", "{}")
        .json();
    assert_eq!(r["success"], false);
    assert!(
        r["message"].as_str().unwrap().contains("not enabled"),
        "{r}"
    );
    let r = f
        .post(
            "/kapacitor/v1/service-tests/slack",
            json!({"chanel": "#x"}).to_string(),
        )
        .json();
    assert_eq!(r["success"], false);
    assert!(r["message"].as_str().unwrap().contains("chanel"), "{r}");

    // httppost by endpoint, and to a dead receiver.
    let r = f
        .post(
            "/kapacitor/v1/service-tests/httppost",
            json!({"endpoint": "hook"}).to_string(),
        )
        .json();
    assert_eq!(r["success"], true, "{r}");
    assert!(sink.wait_for(2).iter().any(|r| r.target == "/hook"));
    let dead = format!("http://127.0.0.1:{}/", farad_tests::free_port());
    let r = f
        .post(
            "/kapacitor/v1/service-tests/httppost",
            json!({"url": dead}).to_string(),
        )
        .json();
    assert_eq!(r["success"], false, "{r}");

    // SMTP: the test mail arrives.
    let r = f
        .post(
            "/kapacitor/v1/service-tests/smtp",
            json!({"to": ["ops@example.com"], "subject": "hello"}).to_string(),
        )
        .json();
    assert_eq!(r["success"], true, "{r}");
    let mails = smtp.wait_for(1);
    assert!(mails[0].contains("hello"), "{mails:?}");

    // No MQTT broker configured.
    let r = f.post("/kapacitor/v1/service-tests/mqtt", "").json();
    assert_eq!(r["success"], false, "{r}");

    assert_eq!(f.post("/kapacitor/v1/service-tests/nope", "{}").status, 404);
    assert_eq!(f.get("/kapacitor/v1/service-tests/nope").status, 404);
    assert_eq!(
        f.post("/kapacitor/v1/service-tests/slack", "[1]").status,
        400
    );
    assert_eq!(
        f.post("/kapacitor/v1/service-tests/slack", "{bad").status,
        400
    );
}

#[test]
fn the_cli_lists_and_runs_service_tests_and_handler_plugins() {
    let sink = HttpSink::start();
    let dir = TempDir::new("service-tests-cli");
    let config = format!(
        "[[slack]]\nenabled = true\nurl = \"{}/services/x\"\n",
        sink.url()
    );
    let f = Farad::start_in(dir.path(), &config);
    let (code, out, err) = f.cli(&["list", "service-tests", "sl*", "tele*"]);
    assert_eq!(code, Some(0), "{err}");
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(lines, ["Service Name", "slack", "telegram"], "{out}");

    // Names are patterns; Kapacitor's `%-20s%-10v%s` lines.
    let (code, out, err) = f.cli(&["service-tests", "sl*"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(
        out,
        "Service             Success   Message\nslack               true      \n"
    );
    assert_eq!(sink.wait_for(1).len(), 1);
    // A failing test is reported, and the command still succeeds, as Kapacitor's.
    let (code, out, _) = f.cli(&["service-tests", "slack", "teams"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.lines()
            .nth(2)
            .unwrap()
            .starts_with(&format!("{:<20}{:<10}", "teams", "false")),
        "{out}"
    );
    assert!(out.contains("service is not enabled"), "{out}");
    let (code, _, err) = f.cli(&["service-tests"]);
    assert_eq!(code, Some(3));
    assert!(
        err.contains("must provide at least one service name or pattern"),
        "{err}"
    );

    let (code, out, err) = f.cli(&["list", "handler-plugins", "pager*"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("pagerDuty2") && out.contains("built in"),
        "{out}"
    );
    let wasm = dir.path().join("webhook.wasm");
    std::fs::write(&wasm, farad_tests::guest_wasm("webhook-handler")).unwrap();
    let (code, out, err) = f.cli(&["define-handler-plugin", "webhook", wasm.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}{err}");
    let (_, out, _) = f.cli(&["list", "handler-plugins", "web*"]);
    assert!(out.contains("uploaded"), "{out}");
    let (code, _, err) = f.cli(&["delete", "handler-plugins", "webhook"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(f.get("/kapacitor/v1/handler-plugins/webhook").status, 404);
}
