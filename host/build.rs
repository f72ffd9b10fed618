//! The target triple the host was built for: driver packages name theirs, and `driver install`
//! refuses a package for another one.
fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo:rustc-env=SVCMGR_TARGET={target}");
    println!("cargo:rerun-if-changed=build.rs");
}
