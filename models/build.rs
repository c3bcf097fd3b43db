//! Compiles the dlib shim the OpenVINO embedding reads dlib's network with
//! (`native/dlib_resnet.cpp`, against Debian's dlib headers, which `dlib-face-recognition` needs
//! already), and lets the dlib crate's `-lcblas` resolve on plain Debian.
//!
//! `dlib-face-recognition` links `cblas`, which Debian ships inside OpenBLAS (`libopenblas-dev`)
//! without a `libcblas.so` name (only some other BLAS packages provide one). Rather than touch the system, we point a `libcblas.so` in our own
//! build folder at OpenBLAS and add that folder to the link search path. Nothing is downloaded.

use std::path::{Path, PathBuf};

const LIB_DIRS: [&str; 4] = [
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=native/dlib_resnet.cpp");
    // Same standard and headers as dlib-face-recognition's own C++ (dlib's headers must match the
    // libdlib they link against, which they do: both are Debian's).
    cc::Build::new()
        .cpp(true)
        .std("c++14")
        .opt_level(2)
        .warnings(false)
        .file("native/dlib_resnet.cpp")
        .compile("livegate_dlib_resnet");
    println!("cargo:rustc-link-lib=dlib");
    // Always ours, even where a system libcblas.so exists: the embedding pins OpenBLAS's threads
    // (`openblas_set_num_threads`), so cblas must be OpenBLAS too.
    let Some(openblas) = LIB_DIRS
        .iter()
        .map(|d| Path::new(d).join("libopenblas.so"))
        .find(|p| p.exists())
    else {
        println!(
            "cargo:warning=libopenblas.so not found: install libopenblas-dev (scripts/setup does)"
        );
        return;
    };
    let Some(out) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        return;
    };
    let dir = out.join("cblas");
    let link = dir.join("libcblas.so");
    let made = std::fs::create_dir_all(&dir).and_then(|()| {
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&openblas, &link)
    });
    match made {
        Ok(()) => println!("cargo:rustc-link-search=native={}", dir.display()),
        Err(e) => println!(
            "cargo:warning=cannot link libcblas.so to {}: {e}",
            openblas.display()
        ),
    }
}
