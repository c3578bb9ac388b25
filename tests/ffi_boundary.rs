//! The C boundary's invariants, checked on the source and on the built library: every
//! `extern "C"` function runs behind the panic boundary, and the shared library exports only
//! `oairun_*` symbols.

use std::path::Path;

/// The helpers that wrap a body in `catch_unwind` (see src/ffi/mod.rs; `set` is the options
/// setters' wrapper over `guard_status`, `guard_again` the readers').
const BOUNDARY_HELPERS: [&str; 4] = ["guard(", "guard_status(", "set(", "guard_again("];

#[test]
fn every_extern_c_function_goes_through_the_panic_boundary() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ffi");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if !line.contains("extern \"C\" fn ") {
                continue;
            }
            // The first statement after the signature's opening brace.
            let open = (i..lines.len())
                .find(|&j| lines[j].trim_end().ends_with('{'))
                .unwrap();
            let first = lines[open + 1..]
                .iter()
                .map(|l| l.trim())
                .find(|l| !l.is_empty() && !l.starts_with("//"))
                .unwrap();
            assert!(
                BOUNDARY_HELPERS.iter().any(|h| first.starts_with(h)),
                "{}:{}: `{}` does not start with a panic boundary helper (starts with `{first}`)",
                path.display(),
                i + 1,
                line.trim()
            );
            assert!(
                lines[i.saturating_sub(1)].contains("#[no_mangle]"),
                "{}:{}: extern \"C\" fn without #[no_mangle]",
                path.display(),
                i + 1
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "found only {checked} extern \"C\" functions");
}

#[test]
fn the_shared_library_exports_only_oairun_symbols() {
    // Integration tests are built with the library, so target/<profile>/liboairun.so exists.
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let lib = profile_dir.join("liboairun.so");
    assert!(lib.exists(), "{} is not built", lib.display());
    let out = std::process::Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&lib)
        .output()
        .expect("nm (binutils) is installed");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let symbols: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    assert!(symbols.contains(&"oairun_submit_tool_outputs_stream"));
    let foreign: Vec<_> = symbols
        .iter()
        .filter(|s| !s.starts_with("oairun_"))
        .collect();
    assert!(foreign.is_empty(), "exported beyond oairun_*: {foreign:?}");
}
