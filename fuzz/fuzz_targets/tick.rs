//! TICKscript lexer, parser, checker and formatter on arbitrary text: no panic, and whatever
//! parses formats to text that parses again.
#![no_main]

use farad_runtime::pipeline::{BuildOptions, build};
use farad_runtime::tick::{fmt, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let (program, diags) = parse(src);
    for d in &diags.0 {
        let _ = d.render(src, "fuzz.tick");
    }
    let _ = build(&program, &BuildOptions { allow_unset_vars: true, ..BuildOptions::default() });
    if diags.is_empty() {
        let formatted = fmt::format(&program);
        let (_, again) = parse(&formatted);
        assert!(again.is_empty(), "formatted script does not parse:\n{formatted}");
    }
});
