//! `[load]`: tasks, templates and handlers as files, loaded at start; a file removed takes
//! what it made with it at the next start.

use farad_tests::{Farad, TempDir};

#[test]
fn a_load_directory_defines_tasks_templates_and_handlers() {
    let dir = TempDir::new("load");
    let load = dir.path().join("load");
    for sub in ["tasks", "templates", "handlers"] {
        std::fs::create_dir_all(load.join(sub)).unwrap();
    }
    std::fs::write(
        load.join("templates/over.tick"),
        "dbrp \"db\".\"rp\"\nvar measurement string\nvar limit = 10.0\n\
         stream|from().measurement(measurement)|where(lambda: \"value\" > limit)|httpOut('over')\n",
    )
    .unwrap();
    std::fs::write(
        load.join("tasks/plain.tick"),
        "dbrp \"db\".\"rp\"\nstream|from().measurement('x')|httpOut('o')\n",
    )
    .unwrap();
    std::fs::write(
        load.join("tasks/cpu_over.yaml"),
        "template-id: over\nvars:\n  measurement: {type: string, value: cpu}\n",
    )
    .unwrap();
    let log = dir.path().join("alerts.log");
    std::fs::write(
        load.join("handlers/log.yaml"),
        format!(
            "topic: cpu\nid: to-file\nkind: log\noptions:\n  path: {}\n",
            log.display()
        ),
    )
    .unwrap();
    let config = format!(
        "[load]\nenabled = true\ndir = {:?}\n",
        load.display().to_string()
    );
    let f = Farad::start_in(&dir.path().join("data"), &config);
    farad_tests::wait_until("the loaded tasks", 20, || {
        f.get("/kapacitor/v1/tasks/cpu_over").json()["executing"] == true
            && f.get("/kapacitor/v1/tasks/plain").json()["executing"] == true
    });
    let task = f.get("/kapacitor/v1/tasks/cpu_over").json();
    assert_eq!(task["template-id"], "over", "{task}");
    assert_eq!(task["type"], "stream", "{task}");
    assert_eq!(
        f.get("/kapacitor/v1/alerts/topics/cpu/handlers/to-file")
            .json()["kind"],
        "log"
    );
    let r = f.post("/write?db=db&rp=rp&precision=s", "cpu value=20 1");
    assert_eq!(r.status, 204);
    let out = f.get("/kapacitor/v1/tasks/cpu_over/over").json();
    assert_eq!(out["series"][0]["values"][0][1], 20.0, "{out}");

    // Next start: the plain task's file is gone, the template task's vars changed.
    f.terminate();
    std::fs::remove_file(load.join("tasks/plain.tick")).unwrap();
    std::fs::write(
        load.join("tasks/cpu_over.yaml"),
        "template-id: over\nvars:\n  measurement: {type: string, value: cpu}\n  limit: {type: float, value: 50}\n",
    )
    .unwrap();
    let f = Farad::start_in(&dir.path().join("data"), &config);
    farad_tests::wait_until("the unloaded task to go", 20, || {
        f.get("/kapacitor/v1/tasks/plain").status == 404
    });
    farad_tests::wait_until("the changed task", 20, || {
        f.get("/kapacitor/v1/tasks/cpu_over").json()["vars"]["limit"]["value"] == 50.0
    });
    assert_eq!(
        f.get("/kapacitor/v1/tasks/cpu_over").json()["executing"],
        true
    );
}
