//! `farad fmt` and `farad check`: TICKscript files on the command line.

use std::io::Read;
use std::path::{Path, PathBuf};

use farad_runtime::pipeline::{BuildOptions, compile};
use farad_runtime::tick::{fmt, parse};

/// Reads the named files, or stdin (named `-`) when there are none.
fn inputs(files: &[PathBuf]) -> Vec<(String, Result<String, String>)> {
    if files.is_empty() {
        let mut s = String::new();
        let r = std::io::stdin()
            .read_to_string(&mut s)
            .map(|_| s)
            .map_err(|e| e.to_string());
        return vec![("-".into(), r)];
    }
    files
        .iter()
        .map(|f| {
            (
                f.display().to_string(),
                std::fs::read_to_string(f).map_err(|e| e.to_string()),
            )
        })
        .collect()
}

/// Formats each file; returns the process exit code.
pub fn fmt(files: &[PathBuf], write: bool) -> i32 {
    let mut code = 0;
    for (name, text) in inputs(files) {
        let text = match text {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{name}: {e}");
                code = 1;
                continue;
            }
        };
        let (program, diags) = parse(&text);
        if !diags.is_empty() {
            eprint!("{}", diags.render(&text, &name));
            code = 1;
            continue;
        }
        let out = fmt::format(&program);
        if write && name != "-" {
            if out != text
                && let Err(e) = std::fs::write(Path::new(&name), &out)
            {
                eprintln!("{name}: {e}");
                code = 1;
            }
        } else {
            print!("{out}");
        }
    }
    code
}

/// Checks each file (syntax, nodes, properties, arguments, edges, variables), printing every
/// diagnostic; returns the process exit code.
pub fn check(files: &[PathBuf]) -> i32 {
    let mut code = 0;
    for (name, text) in inputs(files) {
        match text {
            Ok(text) => {
                // Templates are checked as templates: a `var x float` needs no value here.
                let opts = BuildOptions {
                    allow_unset_vars: true,
                    ..BuildOptions::default()
                };
                if let Err(diags) = compile(&text, &opts) {
                    eprint!("{}", diags.render(&text, &name));
                    code = 1;
                }
            }
            Err(e) => {
                eprintln!("{name}: {e}");
                code = 1;
            }
        }
    }
    code
}
