//! Every TICKscript of Kapacitor's conformance corpus parses, checks, lowers to a plan whose
//! DOT matches its node structure, and formats stably (an extra check: the corpus is
//! generated on demand from a Kapacitor mirror and never committed, see
//! `../shared/conformance/`). Set `FARAD_CORPUS` to one or more corpus files, colon-separated;
//! without it this test only says it was skipped.

use farad_runtime::pipeline::{BuildOptions, TaskType, build};
use farad_runtime::tick::{fmt, parse};

#[test]
fn corpus_scripts_parse_and_format_stably() {
    let Ok(paths) = std::env::var("FARAD_CORPUS") else {
        eprintln!("FARAD_CORPUS not set: corpus check skipped");
        return;
    };
    let mut total = 0;
    let mut failures = Vec::new();
    for path in paths.split(':').filter(|p| !p.is_empty()) {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        for line in text.lines() {
            let rec: serde_json::Value = serde_json::from_str(line).expect("corpus line is JSON");
            let Some(script) = rec["tickscript"].as_str() else {
                continue;
            };
            total += 1;
            let name = rec["name"].as_str().unwrap_or("?");
            let (program, diags) = parse(script);
            if !diags.is_empty() {
                failures.push(format!("{name}: {}", diags.one_line(script)));
                continue;
            }
            let task_type = match rec["kind"].as_str() {
                Some("batch") => TaskType::Batch,
                _ => TaskType::Stream,
            };
            let opts = BuildOptions {
                task_type: Some(task_type),
                ..BuildOptions::default()
            };
            match build(&program, &opts) {
                (Some(plan), _) => {
                    // The DOT has one edge per parent link, and names every node with a parent.
                    let dot = plan.dot("t");
                    let edges = dot.lines().filter(|l| l.contains(" -> ")).count();
                    let links: usize = plan.nodes.iter().map(|n| n.parents.len()).sum();
                    if edges != links {
                        failures.push(format!(
                            "{name}: DOT has {edges} edges for {links} links:\n{dot}"
                        ));
                    }
                }
                (None, d) => failures.push(format!("{name}: {}\n{script}", d.one_line(script))),
            }
            let formatted = fmt::format(&program);
            let (again, d2) = parse(&formatted);
            if !d2.is_empty() || fmt::format(&again) != formatted {
                failures.push(format!("{name}: formatting is not stable:\n{formatted}"));
            }
        }
    }
    eprintln!("{total} corpus scripts, {} failures", failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
