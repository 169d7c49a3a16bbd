//! Link settings for the `devserve` binary only.

fn main() {
    // Resident memory at rest is mostly the executable's own pages (see Cargo.toml's release
    // profile). A position-independent executable carries a relocation for every pointer in its
    // read-only data, 20,000 of them, read in full at every start: packed (DT_RELR, glibc ≥ 2.36,
    // binutils ≥ 2.38, lld) they take a few KiB instead of 480. A linker that does not know the
    // option warns and links as before.
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.ends_with("-linux-gnu") {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
