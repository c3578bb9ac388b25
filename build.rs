//! Generates include/oairun.h from the C ABI in src/ffi with cbindgen. The header is committed
//! so that C users need no Rust tooling to read it; CI regenerates it and fails on any
//! difference. The header's version macros come from Cargo.toml's version, here, so they cannot
//! drift from `oairun_version()`.
//!
//! Also gives the shared library its SONAME on Linux, `liboairun.so.<major>`: programs linked
//! with `-loairun` record it as NEEDED, and `make install` names its links after it. It promises
//! ABI compatibility within a major version, 0.x included: a release that breaks the C ABI bumps
//! the major.

use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");

    // Only the cdylib gets it: the rlib, the staticlib and the test binaries are unaffected.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("set by cargo");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,liboairun.so.{major}");
    }

    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable and valid");
    config.after_includes = Some(version_macros());
    let header = match cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
    {
        Ok(bindings) => bindings,
        Err(e) => {
            // A syntax error is reported better by rustc itself, which runs next.
            println!("cargo:warning=cbindgen could not generate include/oairun.h: {e}");
            return;
        }
    };
    let path = crate_dir.join("include").join("oairun.h");
    std::fs::create_dir_all(path.parent().expect("has a parent")).expect("include/ is creatable");
    // write() only rewrites the file when its contents change, keeping its mtime otherwise.
    header.write_to_file(&path);
}

/// The header's version macros, from the version of the package cargo builds.
fn version_macros() -> String {
    let var = |name: &str| std::env::var(name).expect("set by cargo");
    let (major, minor, patch, version) = (
        var("CARGO_PKG_VERSION_MAJOR"),
        var("CARGO_PKG_VERSION_MINOR"),
        var("CARGO_PKG_VERSION_PATCH"),
        var("CARGO_PKG_VERSION"),
    );
    format!(
        r#"
/**
 * The version of oairun this header belongs to. oairun_version() returns the version of
 * the library loaded at run time, OAIRUN_VERSION_STRING when the two match.
 */
#define OAIRUN_VERSION_MAJOR {major}
#define OAIRUN_VERSION_MINOR {minor}
#define OAIRUN_VERSION_PATCH {patch}
#define OAIRUN_VERSION_STRING "{version}""#
    )
}
