//! `GET /kapacitor/v1/:routes` lists every route, and every route it lists is served (no
//! "not found", no "method not allowed"); `POST /kapacitor/v1/subscriptions`;
//! `farad show-topic-handler`.

use farad_tests::{Farad, TempDir};
use serde_json::json;

#[test]
fn every_listed_route_is_served() {
    let dir = TempDir::new("routes");
    let f = Farad::start_in(dir.path(), "");
    let routes = f.get("/kapacitor/v1/:routes").json();
    let routes = routes.as_object().expect("a map of patterns");
    assert!(routes.len() > 40, "{routes:?}");
    assert_eq!(routes["/kapacitor/v1/ping"], json!(["GET", "HEAD"]));
    for (pattern, methods) in routes {
        if pattern == "/kapacitor/v1preview/logs" {
            continue; // endless; tests/logs.rs
        }
        for method in methods.as_array().unwrap() {
            let method = method.as_str().unwrap();
            let mut path = pattern.clone();
            if path.ends_with('/') {
                path.push('x');
            }
            if path.starts_with("/kapacitor/v1/alerts/topics/")
                && matches!(method, "POST" | "PUT" | "PATCH")
            {
                path.push_str(if method == "POST" {
                    "/handlers"
                } else {
                    "/handlers/h"
                });
            }
            let r = f.request(method, &path, &[], b"{}");
            assert_ne!(r.status, 405, "{method} {path}: {}", r.body);
            if r.status == 404 {
                let error = r.json()["error"].as_str().unwrap_or("").to_owned();
                assert_ne!(error, "not found", "{method} {path} is not served");
            }
        }
    }
}

#[test]
fn a_wrong_method_is_refused_as_kapacitor_refuses_it() {
    let dir = TempDir::new("routes-methods");
    let f = Farad::start_in(dir.path(), "");
    let routes = f.get("/kapacitor/v1/:routes").json();
    let routes = routes.as_object().unwrap();
    let has = |pattern: &str, method: &str| {
        routes[pattern]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == method)
    };
    for pattern in routes.keys() {
        if pattern == "/kapacitor/v1preview/logs" {
            continue;
        }
        let mut path = pattern.clone();
        if path.ends_with('/') {
            path.push('x');
        }
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            // `DELETE /recordings/batch` is the delete of a recording named `batch`.
            let served = routes.keys().any(|p| {
                p.ends_with('/')
                    && path
                        .strip_prefix(p.as_str())
                        .is_some_and(|id| !id.contains('/'))
                    && has(p, method)
            });
            if has(pattern, method) || served {
                continue;
            }
            let r = f.request(method, &path, &[], b"{}");
            // Some paths are another route's under this method (`POST /replays/<kind>`);
            // none succeeds, and none answers anything but a JSON error.
            assert!(
                (400..500).contains(&r.status) && r.status != 405,
                "{method} {path}: {} {}",
                r.status,
                r.body
            );
            assert!(r.json()["error"].is_string(), "{method} {path}: {}", r.body);
        }
    }
    let r = f.request("PUT", "/kapacitor/v1/tasks", &[], b"{}");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"], "not found");
}

#[test]
fn subscriptions_link_on_request_and_topic_handlers_show() {
    let dir = TempDir::new("routes-misc");
    let f = Farad::start_in(dir.path(), "");
    // No [[influxdb]] cluster: nothing to link, and that is fine.
    assert_eq!(f.post("/kapacitor/v1/subscriptions", "").status, 204);

    let spec = json!({"id": "tolog", "kind": "log", "match": "level() >= WARNING",
        "options": {"path": "/dev/null"}});
    let r = f.post("/kapacitor/v1/alerts/topics/cpu/handlers", spec.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    let (code, out, err) = f.cli(&["show-topic-handler", "cpu", "tolog"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out,
        "ID: tolog\nTopic: cpu\nKind: log\nMatch: level() >= WARNING\nOptions: {\"path\":\"/dev/null\"}\n"
    );
    let (code, _, err) = f.cli(&["show-topic-handler", "cpu", "nope"]);
    assert_eq!(code, Some(3));
    assert!(!err.is_empty());
}
