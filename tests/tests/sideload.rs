//! sideload: values from YAML/JSON files along tag-templated paths, with defaults and reload.

use farad_tests::{Farad, TempDir};
use serde_json::json;

#[test]
fn fields_and_tags_from_files_and_reload() {
    let dir = TempDir::new("sideload");
    let files = dir.path().join("values");
    std::fs::create_dir_all(files.join("host")).unwrap();
    std::fs::write(files.join("host/a.yml"), "cpu_threshold: 80\n").unwrap();
    std::fs::write(
        files.join("default.json"),
        r#"{"cpu_threshold": 90.5, "team": "ops", "bad": "x"}"#,
    )
    .unwrap();
    let f = Farad::start_in(&dir.path().join("data"), "");
    let script = format!(
        "stream|from().groupBy('host')|sideload().source('file://{}').order('host/{{{{.host}}}}.yml', 'default.json').field('cpu_threshold', 0.0).field('bad', 1).field('missing', 'dflt').tag('team', 'none')|httpOut('out')",
        files.display()
    );
    let body = json!({
        "id": "t", "type": "stream", "status": "enabled", "script": script,
        "dbrps": [{"db": "db", "rp": "rp"}],
    });
    let r = f.post("/kapacitor/v1/tasks", body.to_string());
    assert_eq!(r.json()["executing"], true, "{}", r.body);
    let write = |lp: &str| assert_eq!(f.post("/write?db=db&rp=rp&precision=s", lp).status, 204);
    write("cpu,host=a v=1 1\ncpu,host=b v=2 1\n");
    let out = f.get("/kapacitor/v1/tasks/t/out").json();
    let row = |host: &str| {
        out["series"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["tags"]["host"] == host)
            .cloned()
            .unwrap()
    };
    // `bad` is not an int in the file: its default stays.
    assert_eq!(
        row("a"),
        json!({"name": "cpu", "tags": {"host": "a", "team": "ops"},
            "columns": ["time", "bad", "cpu_threshold", "missing", "v"],
            "values": [["1970-01-01T00:00:01Z", 1, 80.0, "dflt", 1.0]]})
    );
    assert_eq!(row("b")["values"][0][2], 90.5);

    std::fs::write(files.join("host/a.yml"), "cpu_threshold: 70\nteam: db\n").unwrap();
    assert_eq!(f.post("/kapacitor/v1/sideload/reload", "").status, 204);
    write("cpu,host=a v=1 2\n");
    let out = f.get("/kapacitor/v1/tasks/t/out").json();
    let a = out["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["tags"]["host"] == "a")
        .cloned()
        .unwrap();
    assert_eq!(a["values"][0][2], 70.0);
    assert_eq!(a["tags"]["team"], "db");

    // A broken file makes the reload fail with its reason; the old values stay.
    std::fs::write(files.join("host/a.yml"), "cpu_threshold: [unclosed\n").unwrap();
    let r = f.post("/kapacitor/v1/sideload/reload", "");
    assert_eq!(r.status, 500, "{}", r.body);
    assert!(r.body.contains("yaml"), "{}", r.body);
    write("cpu,host=a v=1 3\n");
    assert_eq!(f.get("/kapacitor/v1/ping").status, 204);
}
