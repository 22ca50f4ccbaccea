//! `[http] auth-enabled`: every endpoint refuses anonymous requests; users are made over the
//! users API (the first one, an admin, without credentials); permissions decide what each
//! user may do; basic auth, `?u=&p=` and bearer JWTs signed with the shared secret all work.

use base64::Engine;
use farad_tests::{Farad, Reply, TempDir};
use serde_json::json;

const SECRET: &str = "a shared secret";

fn start(dir: &TempDir) -> Farad {
    Farad::start_with_env(
        dir.path(),
        "",
        &[
            ("KAPACITOR_HTTP_AUTH_ENABLED", "true"),
            ("KAPACITOR_HTTP_SHARED_SECRET", SECRET),
            // The lowest cost keeps the test quick; the default is Kapacitor's 10.
            ("KAPACITOR_AUTH_BCRYPT_COST", "4"),
        ],
    )
}

fn basic(user: &str, password: &str) -> String {
    let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {b}")
}

fn as_user(f: &Farad, auth: &str, method: &str, path: &str, body: &str) -> Reply {
    f.request(method, path, &[("Authorization", auth)], body.as_bytes())
}

fn token(claims: serde_json::Value, secret: &str) -> String {
    let t = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    format!("Bearer {t}")
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// One request per API area, each of which needs credentials.
const ENDPOINTS: &[(&str, &str)] = &[
    ("GET", "/kapacitor/v1/ping"),
    ("HEAD", "/kapacitor/v1/ping"),
    ("POST", "/kapacitor/v1/write?db=db"),
    ("POST", "/write?db=db"),
    ("GET", "/kapacitor/v1/debug/vars"),
    ("POST", "/kapacitor/v1/loglevel"),
    ("GET", "/kapacitor/v1/tasks"),
    ("POST", "/kapacitor/v1/tasks"),
    ("GET", "/kapacitor/v1/tasks/t"),
    ("PATCH", "/kapacitor/v1/tasks/t"),
    ("DELETE", "/kapacitor/v1/tasks/t"),
    ("GET", "/kapacitor/v1/templates"),
    ("POST", "/kapacitor/v1/templates"),
    ("GET", "/kapacitor/v1/recordings"),
    ("POST", "/kapacitor/v1/recordings/stream"),
    ("GET", "/kapacitor/v1/replays"),
    ("POST", "/kapacitor/v1/replays"),
    ("GET", "/kapacitor/v1/alerts/topics"),
    ("GET", "/kapacitor/v1/alerts/topics/cpu/handlers"),
    ("POST", "/kapacitor/v1/alerts/topics/cpu/handlers"),
    ("DELETE", "/kapacitor/v1/alerts/topics/cpu"),
    ("GET", "/kapacitor/v1/alerts/silences"),
    ("GET", "/kapacitor/v1/udfs"),
    ("POST", "/kapacitor/v1/udfs/x"),
    ("GET", "/kapacitor/v1/handler-plugins"),
    ("GET", "/kapacitor/v1/service-tests"),
    ("POST", "/kapacitor/v1/service-tests/smtp"),
    ("GET", "/kapacitor/v1/storage/backup"),
    ("GET", "/kapacitor/v1/storage/stores"),
    ("POST", "/kapacitor/v1/sideload/reload"),
    ("GET", "/kapacitor/v1/users"),
    ("GET", "/kapacitor/v1/users/admin"),
    ("DELETE", "/kapacitor/v1/users/admin"),
    ("GET", "/metrics"),
];

#[test]
fn every_endpoint_needs_credentials_and_permissions_decide() {
    let dir = TempDir::new("auth");
    let f = start(&dir);

    // No user yet: the first one may be made without credentials, and must be an admin.
    let r = f.post(
        "/kapacitor/v1/users",
        json!({"name": "bob", "password": "pw", "type": "normal"}).to_string(),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("first user must be an admin"), "{}", r.body);
    let r = f.post(
        "/kapacitor/v1/users",
        json!({"name": "admin", "password": "s3cret", "type": "admin"}).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["type"], "admin");
    assert!(!r.body.contains("s3cret") && !r.body.contains("hash"));

    for (method, path) in ENDPOINTS {
        let r = f.request(method, path, &[], b"{}");
        assert_eq!(r.status, 401, "{method} {path} anonymous: {}", r.body);
        if *method != "HEAD" {
            assert_eq!(
                r.json()["error"],
                "unable to parse authentication credentials"
            );
        }
        let r = f.request(
            method,
            path,
            &[("Authorization", &basic("admin", "wrong"))],
            b"{}",
        );
        assert_eq!(r.status, 401, "{method} {path} wrong password: {}", r.body);
    }

    let admin = basic("admin", "s3cret");
    let users = [
        ("reader", json!(["api_read"])),
        ("writer", json!(["write_points"])),
        ("operator", json!(["api"])),
        ("root", json!(["api", "config_api", "write_points"])),
    ];
    for (name, permissions) in &users {
        let body =
            json!({"name": name, "password": format!("{name}-pw"), "permissions": permissions});
        let r = as_user(&f, &admin, "POST", "/kapacitor/v1/users", &body.to_string());
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let again = json!({"name": "reader", "password": "x"}).to_string();
    let r = as_user(&f, &admin, "POST", "/kapacitor/v1/users", &again);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("already exists"), "{}", r.body);
    let bad = json!({"name": "no spaces", "password": "x"}).to_string();
    assert_eq!(
        as_user(&f, &admin, "POST", "/kapacitor/v1/users", &bad).status,
        400
    );
    let bad = json!({"name": "p", "password": "x", "permissions": ["root"]}).to_string();
    assert_eq!(
        as_user(&f, &admin, "POST", "/kapacitor/v1/users", &bad).status,
        400
    );
    let list = as_user(&f, &admin, "GET", "/kapacitor/v1/users", "").json();
    let names: Vec<&str> = list["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["admin", "operator", "reader", "root", "writer"],
        "{list}"
    );
    let root = as_user(&f, &admin, "GET", "/kapacitor/v1/users/root", "").json();
    assert_eq!(root["permissions"], json!(["all"]));
    assert_eq!(root["link"]["href"], "/kapacitor/v1/users/root");
    assert_eq!(
        as_user(&f, &admin, "GET", "/kapacitor/v1/users/nobody", "").status,
        404
    );

    // The admin may do anything.
    let task = json!({"id": "t", "type": "stream", "dbrps": [{"db": "db", "rp": "rp"}],
        "script": "stream|from()|httpOut('out')"})
    .to_string();
    assert_eq!(
        as_user(&f, &admin, "POST", "/kapacitor/v1/tasks", &task).status,
        200
    );

    // A read-only user reads and is refused every write, with Kapacitor's message.
    let reader = basic("reader", "reader-pw");
    assert_eq!(
        as_user(&f, &reader, "GET", "/kapacitor/v1/tasks/t", "").status,
        200
    );
    for (method, path) in ENDPOINTS
        .iter()
        .filter(|(m, p)| *m != "GET" && *m != "HEAD" && !p.contains("/users"))
    {
        let r = as_user(&f, &reader, method, path, "{}");
        assert_eq!(r.status, 403, "reader {method} {path}: {}", r.body);
    }
    let r = as_user(&f, &reader, "DELETE", "/kapacitor/v1/tasks/t", "");
    assert_eq!(
        r.json()["error"],
        "user reader does not have \"delete\" privilege for API endpoint \"/kapacitor/v1/tasks/t\""
    );

    // A writer writes points and reads nothing; an API user does everything but write.
    let writer = basic("writer", "writer-pw");
    let r = as_user(&f, &writer, "POST", "/write?db=db&rp=rp", "cpu v=1 1");
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        as_user(&f, &writer, "GET", "/kapacitor/v1/tasks", "").status,
        403
    );
    let operator = basic("operator", "operator-pw");
    assert_eq!(
        as_user(&f, &operator, "GET", "/kapacitor/v1/tasks", "").status,
        200
    );
    assert_eq!(
        as_user(&f, &operator, "POST", "/write?db=db", "cpu v=1 1").status,
        403
    );
    let root = basic("root", "root-pw");
    assert_eq!(
        as_user(&f, &root, "POST", "/write?db=db&rp=rp", "cpu v=1 2").status,
        204
    );

    // Credentials in the query, as InfluxDB clients send them.
    let r = f.get("/kapacitor/v1/tasks?u=reader&p=reader-pw");
    assert_eq!(r.status, 200, "{}", r.body);

    // Bearer tokens signed with the shared secret, with an expiry and a username.
    let good = token(json!({"username": "reader", "exp": now() + 60}), SECRET);
    let r = f.request(
        "GET",
        "/kapacitor/v1/tasks",
        &[("Authorization", &good)],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    for (claims, secret, why) in [
        (
            json!({"username": "reader", "exp": now() - 10}),
            SECRET,
            "expired",
        ),
        (json!({"username": "reader"}), SECRET, "no expiry"),
        (
            json!({"username": "reader", "exp": now() + 60}),
            "other",
            "wrong key",
        ),
        (
            json!({"username": "", "exp": now() + 60}),
            SECRET,
            "no username",
        ),
        (
            json!({"username": "ghost", "exp": now() + 60}),
            SECRET,
            "unknown user",
        ),
    ] {
        let t = token(claims, secret);
        let r = f.request("GET", "/kapacitor/v1/tasks", &[("Authorization", &t)], b"");
        assert_eq!(r.status, 401, "{why}: {}", r.body);
    }

    // A new password replaces the old one at once; a deleted user is gone at once.
    let patch = json!({"password": "new-pw"}).to_string();
    let r = as_user(&f, &admin, "PATCH", "/kapacitor/v1/users/reader", &patch);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["permissions"], json!(["api_read"]));
    assert_eq!(
        as_user(&f, &reader, "GET", "/kapacitor/v1/tasks", "").status,
        401
    );
    let reader = basic("reader", "new-pw");
    assert_eq!(
        as_user(&f, &reader, "GET", "/kapacitor/v1/tasks", "").status,
        200
    );
    let patch = json!({"permissions": ["write_points"]}).to_string();
    as_user(&f, &admin, "PATCH", "/kapacitor/v1/users/reader", &patch);
    assert_eq!(
        as_user(&f, &reader, "GET", "/kapacitor/v1/tasks", "").status,
        403
    );
    assert_eq!(
        as_user(&f, &admin, "DELETE", "/kapacitor/v1/users/reader", "").status,
        204
    );
    assert_eq!(
        as_user(&f, &reader, "POST", "/write?db=db&rp=rp", "cpu v=1 3").status,
        401
    );

    // The CLI takes credentials in its URL, as Kapacitor's does.
    let authed = format!("http://admin:s3cret@{}", f.addr);
    let out = std::process::Command::new(farad_tests::farad_bin())
        .args(["-url", &authed, "list", "tasks"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("t "), "{text}");
    let (code, _, err) = f.cli(&["list", "tasks"]);
    assert_eq!(code, Some(3));
    assert!(
        err.contains("unable to parse authentication credentials"),
        "{err}"
    );
}

#[test]
fn without_auth_enabled_nothing_is_asked() {
    let dir = TempDir::new("no-auth");
    let f = Farad::start_in(dir.path(), "");
    assert_eq!(f.get("/kapacitor/v1/tasks").status, 200);
    // Users can still be kept (for when auth is turned on).
    let r = f.post(
        "/kapacitor/v1/users",
        json!({"name": "bob", "password": "pw"}).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["type"], "normal");
}
