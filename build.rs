//! Generates, from the tables of event names (src/api/*.events), the Rust `EventKind` enum, its
//! name lookup and the C enum `oairun_kind`; then include/oairun.h from the C ABI in src/ffi
//! with cbindgen. The header is committed so that C users need no Rust tooling to read it; CI
//! regenerates it and fails on any difference.
//!
//! cbindgen reads source files and cannot expand macros, so the one table of each endpoint is a
//! plain text file rather than a macro: this script writes the Rust code into OUT_DIR (included
//! by src/event.rs and src/ffi/event.rs) and hands the C enum to cbindgen to place in the header.
//! The header's version macros come from Cargo.toml's version, here, so they cannot drift from
//! `oairun_version()`.
//!
//! Also gives the shared library its SONAME on Linux, `liboairun.so.<major>`: programs linked
//! with `-loairun` record it as NEEDED, and `make install` names its links after it. It promises
//! ABI compatibility within a major version, 0.x included: a release that breaks the C ABI bumps
//! the major.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One row of an events table.
struct Kind {
    number: u32,
    name: String,
    doc: Option<String>,
}

const TABLES: [&str; 2] = ["src/api/assistants.events", "src/api/responses.events"];

fn read_table(path: &Path) -> Vec<Kind> {
    let text = std::fs::read_to_string(path).expect("the events table is readable");
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let mut parts = line.splitn(3, ' ');
            let number = parts.next().and_then(|n| n.parse().ok());
            let number =
                number.unwrap_or_else(|| panic!("{}: bad number in {line:?}", path.display()));
            let name = parts.next().expect("a name").to_owned();
            let doc = parts.next().map(str::to_owned);
            Kind { number, name, doc }
        })
        .collect()
}

/// `thread.run.in_progress` → `ThreadRunInProgress`.
fn camel(name: &str) -> String {
    name.split(['.', '_'])
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or(String::new(), |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

/// `thread.run.in_progress` → `OAIRUN_KIND_THREAD_RUN_IN_PROGRESS`.
fn c_name(name: &str) -> String {
    format!(
        "OAIRUN_KIND_{}",
        name.to_ascii_uppercase().replace('.', "_")
    )
}

fn rust_code(kinds: &[Kind]) -> String {
    let mut out = String::new();
    out.push_str(
        "/// What kind an event is, from its name: every event name of the Assistants stream and\n\
         /// every event type of the Responses stream, plus `Unknown` for names added later.\n\
         #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]\n\
         pub enum EventKind {\n    /// A name this release does not know.\n    Unknown,\n",
    );
    for kind in kinds {
        writeln!(out, "    /// `{}`", kind.name).unwrap();
        writeln!(out, "    {},", camel(&kind.name)).unwrap();
    }
    out.push_str("}\n\nimpl EventKind {\n");
    out.push_str(
        "    /// The kind of the event named `name` (exact, case-sensitive match).\n    \
         pub fn from_name(name: &str) -> EventKind {\n        match name {\n",
    );
    for kind in kinds {
        writeln!(
            out,
            "            {:?} => EventKind::{},",
            kind.name,
            camel(&kind.name)
        )
        .unwrap();
    }
    out.push_str("            _ => EventKind::Unknown,\n        }\n    }\n\n");
    out.push_str(
        "    /// The event name of this kind; `None` for `Unknown`.\n    \
         pub fn name(self) -> Option<&'static str> {\n        \
         self.name_with_nul().map(|name| &name[..name.len() - 1])\n    }\n\n",
    );
    out.push_str(
        "    /// The event name of this kind followed by a NUL, for the C API; `None` for \
         `Unknown`.\n    \
         pub(crate) fn name_with_nul(self) -> Option<&'static str> {\n        \
         match self {\n            EventKind::Unknown => None,\n",
    );
    for kind in kinds {
        writeln!(
            out,
            "            EventKind::{} => Some(\"{}\\0\"),",
            camel(&kind.name),
            kind.name
        )
        .unwrap();
    }
    out.push_str("        }\n    }\n\n");
    out.push_str(
        "    /// Every known kind, in table order.\n    pub const ALL: &'static [EventKind] = &[\n",
    );
    for kind in kinds {
        writeln!(out, "        EventKind::{},", camel(&kind.name)).unwrap();
    }
    out.push_str("    ];\n\n");
    out.push_str(
        "    /// The kind's number in the C enum `oairun_kind` (0 for `Unknown`).\n    \
         pub fn number(self) -> u32 {\n        match self {\n            EventKind::Unknown => 0,\n",
    );
    for kind in kinds {
        writeln!(
            out,
            "            EventKind::{} => {},",
            camel(&kind.name),
            kind.number
        )
        .unwrap();
    }
    out.push_str("        }\n    }\n}\n");
    out
}

/// The C enum: a `#[repr(C)]` Rust enum for src/ffi (never seen by cbindgen) and the same enum
/// as C text for the header.
fn c_enum(kinds: &[Kind]) -> (String, String) {
    let mut rust = String::from(
        "/// What kind an event is (see the header's `oairun_kind`).\n\
         #[repr(C)]\n#[allow(dead_code)]\n#[derive(Debug, Clone, Copy, PartialEq, Eq)]\n\
         pub enum oairun_kind {\n    OAIRUN_KIND_UNKNOWN = 0,\n",
    );
    let mut c = String::new();
    for line in [
        "/**",
        " * What kind an event is, from its name (`oairun_event_kind`). Numbers are fixed forever;",
        " * new names are added at the end, and until then arrive as `OAIRUN_KIND_UNKNOWN`. The",
        " * Assistants names are numbered from 1, the Responses types from 100; each constant is",
        " * the name upper-cased, dots as underscores (generated from the .events tables in src/api/).",
        " */",
        "typedef enum {",
        "  /**",
        "   * A name this version does not know (read it with `oairun_event_name`).",
        "   */",
        "  OAIRUN_KIND_UNKNOWN = 0,",
    ] {
        c.push_str(line);
        c.push('\n');
    }
    for kind in kinds {
        let name = c_name(&kind.name);
        writeln!(rust, "    {name} = {},", kind.number).unwrap();
        let doc = match &kind.doc {
            Some(doc) => format!("`{}`: {doc}", kind.name),
            None => format!("`{}`", kind.name),
        };
        writeln!(c, "  /**\n   * {doc}\n   */\n  {name} = {},", kind.number).unwrap();
    }
    rust.push_str("}\n\nimpl From<crate::event::EventKind> for oairun_kind {\n    fn from(kind: crate::event::EventKind) -> oairun_kind {\n        match kind {\n            crate::event::EventKind::Unknown => oairun_kind::OAIRUN_KIND_UNKNOWN,\n");
    for kind in kinds {
        writeln!(
            rust,
            "            crate::event::EventKind::{} => oairun_kind::{},",
            camel(&kind.name),
            c_name(&kind.name)
        )
        .unwrap();
    }
    rust.push_str("        }\n    }\n}\n");
    c.push_str("} oairun_kind;\n");
    (rust, c)
}

fn main() {
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");

    // Only the cdylib gets it: the rlib, the staticlib and the test binaries are unaffected.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("set by cargo");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,liboairun.so.{major}");
    }

    let mut kinds = Vec::new();
    for table in TABLES {
        kinds.extend(read_table(&crate_dir.join(table)));
    }
    let mut seen = std::collections::HashSet::new();
    for kind in &kinds {
        assert!(
            seen.insert(kind.number),
            "event kind number {} twice",
            kind.number
        );
    }
    std::fs::write(out_dir.join("event_kinds.rs"), rust_code(&kinds)).expect("OUT_DIR is writable");
    let (rust_enum, c_text) = c_enum(&kinds);
    std::fs::write(out_dir.join("c_kinds.rs"), rust_enum).expect("OUT_DIR is writable");

    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable and valid");
    config.after_includes = Some(format!("{}\n\n{c_text}", version_macros()));
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
