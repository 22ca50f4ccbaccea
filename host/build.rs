//! Builds the alert handler plugins of `guest-examples/handlers/` for `wasm32-wasip2` and
//! embeds them: Farad ships with Slack, PagerDuty and the rest as Wasm components.
//!
//! They are built by a second cargo with its own target dir (`target/plugins`), as
//! wasmtime's test artifacts are: the outer build holds the lock on its own.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = manifest.parent().expect("host/ sits in the workspace");
    let handlers = root.join("guest-examples/handlers");
    for dir in [
        "guest-examples/handlers",
        "udf-sdk/handler",
        "udf-sdk/gojson",
        "udf-sdk/wit",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    let mut kinds: Vec<String> = std::fs::read_dir(&handlers)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().join("Cargo.toml").is_file())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    kinds.sort();
    for k in &kinds {
        println!(
            "cargo:rerun-if-changed={}",
            handlers.join(k).join("src").display()
        );
    }
    let target = root.join("target/plugins");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it"));
    let mut entries = String::new();
    if !kinds.is_empty() {
        build(root, &target, &kinds);
        for k in &kinds {
            let wasm = target
                .join("wasm32-wasip2/guest")
                .join(format!("handler_{}.wasm", k.replace('-', "_")));
            println!("cargo:rerun-if-changed={}", wasm.display());
            entries.push_str(&format!(
                "    ({k:?}, include_bytes!({:?})),\n",
                wasm.display().to_string()
            ));
        }
    }
    std::fs::write(
        out.join("plugins.rs"),
        format!(
            "/// The handler plugins built into Farad: kind and component bytes.\n\
             pub static BUNDLED: &[(&str, &[u8])] = &[\n{entries}];\n"
        ),
    )
    .expect("writing plugins.rs");
}

fn build(root: &Path, target: &Path, kinds: &[String]) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args([
            "build",
            "--quiet",
            "--profile",
            "guest",
            "--target",
            "wasm32-wasip2",
        ])
        .env("CARGO_TARGET_DIR", target)
        // The outer build's flags and wrappers (clippy, coverage) are for the host target.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("CARGO_BUILD_TARGET");
    for k in kinds {
        cmd.args(["-p", &format!("handler-{k}")]);
    }
    let status = cmd.status().expect("running cargo for the handler plugins");
    assert!(
        status.success(),
        "building the handler plugins in guest-examples/handlers failed; they need the \
         wasm32-wasip2 target (`rustup target add wasm32-wasip2`)"
    );
}
