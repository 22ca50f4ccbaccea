//! Templates and the task commands: a template defined from a file, tasks made from it with
//! vars, a change of the template carried into its running tasks (or refused whole when a
//! task could not take it), and `define`, `enable`, `disable`, `reload`, `show`, `list`,
//! `delete` from the command line.

use farad_tests::{Farad, TempDir};
use serde_json::json;

const TEMPLATE: &str = "// Values of a measurement above a threshold.
var measurement string
var limit = 10.0

stream
    |from()
        .measurement(measurement)
    |where(lambda: \"value\" > limit)
    |httpOut('over')
";

fn over(f: &Farad, task: &str) -> serde_json::Value {
    f.get(&format!("/kapacitor/v1/tasks/{task}/over")).json()["series"][0]["values"].clone()
}

#[test]
fn templates_make_tasks_and_carry_changes_into_them() {
    let dir = TempDir::new("templates");
    let f = Farad::start_in(dir.path(), "");
    let tmpl = dir.path().join("over.tick");
    std::fs::write(&tmpl, TEMPLATE).unwrap();
    let ok = |args: &[&str]| {
        let (code, out, err) = f.cli(args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
        out
    };
    ok(&["define-template", "over", "-tick", tmpl.to_str().unwrap()]);
    let t = f.get("/kapacitor/v1/templates/over").json();
    assert_eq!(t["type"], "stream", "{t}");
    assert_eq!(
        t["vars"],
        json!({
            "measurement": {"type": "string", "value": null, "description": ""},
            "limit": {"type": "float", "value": 10.0, "description": ""},
        }),
        "{t}"
    );

    // Two tasks from it: one with the default limit, one with its own.
    let vars = dir.path().join("cpu.json");
    std::fs::write(
        &vars,
        r#"{"measurement": {"type": "string", "value": "cpu"}}"#,
    )
    .unwrap();
    ok(&[
        "define",
        "cpu_over",
        "-template",
        "over",
        "-vars",
        vars.to_str().unwrap(),
        "-dbrp",
        "db.rp",
    ]);
    let vars_yaml = dir.path().join("mem.yaml");
    std::fs::write(
        &vars_yaml,
        "measurement: {type: string, value: mem}\nlimit: {type: float, value: 50}\n",
    )
    .unwrap();
    ok(&[
        "define",
        "mem_over",
        "-template",
        "over",
        "-vars",
        vars_yaml.to_str().unwrap(),
        "-dbrp",
        "db.rp",
    ]);
    ok(&["enable", "cpu_over", "mem_over"]);
    // A task vars file (as `-file` takes) given to `-vars`: its vars, as Kapacitor reads it;
    // a quoted dbrp.
    let task_vars = dir.path().join("disk.json");
    std::fs::write(
        &task_vars,
        r#"{"template-id": "over", "dbrps": [{"db": "db", "rp": "rp"}],
            "vars": {"measurement": {"type": "string", "value": "disk"}}}"#,
    )
    .unwrap();
    ok(&[
        "define",
        "disk_over",
        "-template",
        "over",
        "-vars",
        task_vars.to_str().unwrap(),
        "-dbrp",
        "\"db\".\"rp\"",
    ]);
    let disk = f.get("/kapacitor/v1/tasks/disk_over").json();
    assert_eq!(disk["vars"]["measurement"]["value"], "disk", "{disk}");
    assert_eq!(disk["dbrps"], json!([{"db": "db", "rp": "rp"}]), "{disk}");
    let (code, _, err) = f.cli(&[
        "define",
        "disk_over",
        "-file",
        vars.to_str().unwrap().replace(".json", ".txt").as_str(),
    ]);
    assert_eq!(code, Some(3));
    assert!(err.contains("bad file extension"), "{err}");
    ok(&["delete", "tasks", "disk_*"]);
    let task = f.get("/kapacitor/v1/tasks/cpu_over").json();
    assert_eq!(task["template-id"], "over", "{task}");
    assert_eq!(task["executing"], true, "{task}");
    assert!(
        task["script"]
            .as_str()
            .unwrap()
            .contains("var limit = 10.0"),
        "{task}"
    );

    let r = f.post(
        "/write?db=db&rp=rp&precision=s",
        "cpu value=20 1\nmem value=20 1\nmem value=60 2",
    );
    assert_eq!(r.status, 204);
    assert_eq!(
        over(&f, "cpu_over"),
        json!([["1970-01-01T00:00:01Z", 20.0]])
    );
    assert_eq!(
        over(&f, "mem_over"),
        json!([["1970-01-01T00:00:02Z", 60.0]])
    );

    // The template changes: its tasks follow and restart (their httpOut starts empty).
    std::fs::write(
        &tmpl,
        TEMPLATE.replace("var limit = 10.0", "var limit = 30.0"),
    )
    .unwrap();
    ok(&["define-template", "over", "-tick", tmpl.to_str().unwrap()]);
    let task = f.get("/kapacitor/v1/tasks/cpu_over").json();
    assert!(
        task["script"]
            .as_str()
            .unwrap()
            .contains("var limit = 30.0"),
        "{task}"
    );
    assert_eq!(task["executing"], true, "{task}");
    let r = f.post(
        "/write?db=db&rp=rp&precision=s",
        "cpu value=20 3\ncpu value=40 4",
    );
    assert_eq!(r.status, 204);
    assert_eq!(
        over(&f, "cpu_over"),
        json!([["1970-01-01T00:00:04Z", 40.0]])
    );

    // A change one of its tasks cannot take (a new var without a value) changes nothing.
    let broken = TEMPLATE.replace("var limit = 10.0", "var limit float");
    let r = f.patch(
        "/kapacitor/v1/templates/over",
        json!({ "script": broken }).to_string(),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("cpu_over"), "{}", r.body);
    let t = f.get("/kapacitor/v1/templates/over").json();
    assert!(
        t["script"].as_str().unwrap().contains("var limit = 30.0"),
        "{t}"
    );

    // The listings and views, in Kapacitor's layouts.
    let out = ok(&["list", "templates"]);
    assert_eq!(
        out,
        format!(
            "{:<5}{:<10}{:<40}\n{:<5}{:<10}{:<40}\n",
            "ID", "Type", "Vars", "over", "stream", "limit,measurement"
        )
    );
    let out = ok(&["list", "tasks"]);
    assert!(
        out.lines().any(|l| l.starts_with("cpu_over")
            && l.contains("enabled")
            && l.contains("[\"db\".\"rp\"]")),
        "{out}"
    );
    let out = ok(&["show-template", "over"]);
    assert!(
        out.contains("<required>") && out.contains("digraph over"),
        "{out}"
    );
    let out = ok(&["show", "cpu_over"]);
    assert!(
        out.contains("Template: over") && out.contains("Status: enabled"),
        "{out}"
    );
    // Go's RFC 822 dates; the vars sorted, in `%-30s%-10v%-40v`.
    let created = out.lines().find(|l| l.starts_with("Created: ")).unwrap();
    assert!(
        created.len() == "Created: 02 Jan 06 15:04 UTC".len() && created.ends_with(" UTC"),
        "{created}"
    );
    let vars = format!(
        "Vars:\n{:<30}{:<10}{:<40}\n{:<30}{:<10}{:<40}\n",
        "Name", "Type", "Value", "measurement", "string", "cpu"
    );
    assert!(out.contains(&vars), "{out}");
    // Ids are patterns.
    ok(&["disable", "mem_*"]);
    assert_eq!(
        f.get("/kapacitor/v1/tasks/mem_over").json()["executing"],
        false
    );
    ok(&["reload", "cpu_over"]);
    assert_eq!(
        f.get("/kapacitor/v1/tasks/cpu_over").json()["executing"],
        true
    );

    // A task defined from a script, then changed by define again (reloaded: enabled).
    let tick = dir.path().join("plain.tick");
    std::fs::write(&tick, "stream|from().measurement('x')|httpOut('o')\n").unwrap();
    ok(&[
        "define",
        "plain",
        "-type",
        "stream",
        "-tick",
        tick.to_str().unwrap(),
        "-dbrp",
        "db.rp",
    ]);
    ok(&["enable", "plain"]);
    std::fs::write(&tick, "stream|from().measurement('y')|httpOut('o')\n").unwrap();
    ok(&["define", "plain", "-tick", tick.to_str().unwrap()]);
    let task = f.get("/kapacitor/v1/tasks/plain").json();
    assert!(task["script"].as_str().unwrap().contains("'y'"), "{task}");
    assert_eq!(task["executing"], true, "{task}");

    ok(&["delete", "tasks", "plain", "mem_over"]);
    ok(&["delete", "templates", "over"]);
    assert_eq!(f.get("/kapacitor/v1/templates/over").status, 404);
    assert_eq!(f.get("/kapacitor/v1/tasks/plain").status, 404);
    let (code, _, err) = f.cli(&["show", "plain"]);
    assert_eq!(code, Some(3));
    assert!(err.contains("no task exists"), "{err}");
}
