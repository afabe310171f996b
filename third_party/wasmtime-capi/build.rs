// Publishes the C headers that wasmtime-c-api-impl's own build script
// generates. They must be the generated copy: wasmtime/conf.h only exists
// there (the crate ships conf.h.in), and it records which cargo features
// were compiled in, so it has to come from this very build.
//
// The destination is PX_WASMTIME_INCLUDE_OUT (set by
// scripts/build-wasmtime.sh to a dir next to libwasmtime.a in the cache), so
// a build never writes into the source tree. Without it the headers only go
// to $OUT_DIR/include.

use std::env;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PX_WASMTIME_INCLUDE_OUT");

    // Set because the impl crate declares `links = "wasmtime-c-api"` and
    // prints `cargo:include=...`.
    let src = PathBuf::from(env::var_os("DEP_WASMTIME_C_API_INCLUDE").expect(
        "DEP_WASMTIME_C_API_INCLUDE unset: wasmtime-c-api-impl no longer exports its headers",
    ));
    let dst = match env::var_os("PX_WASMTIME_INCLUDE_OUT") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR")).join("include"),
    };
    // A stale header from an older build must not survive next to new ones.
    match fs::remove_dir_all(&dst) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => panic!("removing {}: {e}", dst.display()),
    }
    copy_tree(&src, &dst)
        .unwrap_or_else(|e| panic!("copying {} to {}: {e}", src.display(), dst.display()));
    if !dst.join("wasmtime").join("conf.h").is_file() {
        panic!(
            "{} has no wasmtime/conf.h: the impl crate did not generate it (is cmake on PATH?)",
            src.display()
        );
    }
}

fn copy_tree(src: &Path, dst: &Path) -> io::Result<()> {
    fs::create_dir_all(dst)?;
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        let to = dst.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &to)?;
        } else {
            fs::copy(entry.path(), &to)?;
        }
    }
    Ok(())
}
