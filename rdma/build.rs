//! Finds the system libibverbs with pkg-config and generates its bindings with bindgen.
//!
//! Bindings are generated at build time from the installed `<infiniband/verbs.h>`, so struct
//! layouts always match the library the crate links (rdma-core grows `struct ibv_context`,
//! `verbs_context` and `ibv_port_attr` between releases). This needs libclang
//! (Debian: `libclang-dev`) and the verbs headers (Debian: `libibverbs-dev`).

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src/sys/wrapper.h");
    let lib = match probe(
        pkg_config::Config::new().atleast_version("1.8"),
        "libibverbs",
    ) {
        Ok(lib) => lib,
        Err(e) => {
            eprintln!(
                "error: libibverbs was not found by pkg-config ({e}).\n\
                 Install the verbs development files: `apt-get install libibverbs-dev` (Debian/Ubuntu) \
                 or `dnf install rdma-core-devel` (Fedora/RHEL)."
            );
            std::process::exit(1);
        }
    };

    let builder = bindings_builder("src/sys/wrapper.h", &lib)
        .allowlist_function("ibv_.*")
        .allowlist_function("_ibv_.*")
        .allowlist_type("ibv_.*")
        .allowlist_type("verbs_.*")
        .allowlist_type("_compat_ibv_port_attr")
        .allowlist_type("ib_uverbs_access_flags")
        .allowlist_var("IBV_.*")
        .allowlist_var("IB_UVERBS_.*");
    let bindings = builder.generate().unwrap_or_else(|e| {
        eprintln!(
            "error: bindgen could not parse <infiniband/verbs.h>: {e}.\n\
             It needs libclang: `apt-get install libclang-dev`."
        );
        std::process::exit(1);
    });
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    bindings
        .write_to_file(out.join("verbs.rs"))
        .expect("write bindings to OUT_DIR");
    if env::var_os("CARGO_FEATURE_CM").is_some() {
        rdmacm_bindings(&out);
    }
}

/// Feature `cm`: links librdmacm and binds `<rdma/rdma_cma.h>` into `rdmacm.rs`, which
/// `sys::cm` includes next to the verbs bindings. The verbs headers' types are blocked here and
/// taken from the verbs bindings instead, so there is one definition of each.
fn rdmacm_bindings(out: &std::path::Path) {
    println!("cargo:rerun-if-changed=src/sys/rdmacm.h");
    let lib = match probe(&mut pkg_config::Config::new(), "librdmacm") {
        Ok(lib) => lib,
        Err(e) => {
            eprintln!(
                "error: feature `cm` needs librdmacm, which pkg-config did not find ({e}).\n\
                 Install it: `apt-get install librdmacm-dev` (Debian/Ubuntu) or \
                 `dnf install rdma-core-devel` (Fedora/RHEL)."
            );
            std::process::exit(1);
        }
    };
    let builder = bindings_builder("src/sys/rdmacm.h", &lib)
        .allowlist_function("rdma_.*")
        .allowlist_type("rdma_.*")
        .allowlist_var("RDMA_.*")
        // Everything <infiniband/verbs.h> (and the headers it includes) defines comes from
        // the verbs bindings; <infiniband/sa.h>'s path record is librdmacm's own.
        .blocklist_file(".*/infiniband/verbs.h")
        .blocklist_file(".*/infiniband/verbs_api.h")
        .blocklist_file(".*/rdma/ib_user_ioctl_verbs.h")
        .blocklist_file(".*/rdma/ib_user_verbs.h");
    let bindings = builder.generate().unwrap_or_else(|e| {
        eprintln!("error: bindgen could not parse <rdma/rdma_cma.h>: {e}.");
        std::process::exit(1);
    });
    bindings
        .write_to_file(out.join("rdmacm.rs"))
        .expect("write bindings to OUT_DIR");
}

/// Feature `static`: whether to link the C libraries' static archives.
fn statik() -> bool {
    env::var_os("CARGO_FEATURE_STATIC").is_some()
}

/// Finds `name` with pkg-config. Without feature `static` pkg-config's flags link the shared
/// library; with it, `link_static` links every library `pkg-config --static` names. A docs.rs
/// build (`DOCS_RS`, all features) links nothing: rustdoc only needs the headers.
fn probe(
    cfg: &mut pkg_config::Config,
    name: &str,
) -> Result<pkg_config::Library, pkg_config::Error> {
    println!("cargo:rerun-if-env-changed=DOCS_RS");
    let link = env::var_os("DOCS_RS").is_none();
    let lib = cfg
        .cargo_metadata(link && !statik())
        .statik(statik())
        .probe(name)?;
    if link && statik() {
        link_static(name, &lib);
    }
    Ok(lib)
}

/// The C runtime's libraries: always linked as shared libraries (glibc's `libpthread.a` and
/// `libm.a` exist, but a static glibc piece in a dynamic program is not supported).
const SYSTEM_LIBS: &[&str] = &["c", "m", "dl", "rt", "pthread", "gcc", "gcc_s", "resolv"];

/// Links the static archive of every library of `lib` (its `Libs`, `Libs.private` and
/// `Requires.private`: for libibverbs, its drivers and libnl) from pkg-config's directories,
/// and the C runtime's libraries as shared ones. The archives are bundled into this crate's
/// rlib, one archive, so the linker resolves the references between them (libibverbs names
/// each driver, each driver calls back into libibverbs) in any order.
fn link_static(name: &str, lib: &pkg_config::Library) {
    let mut dirs = lib.link_paths.clone();
    if let Ok(libdir) = pkg_config::get_variable(name, "libdir") {
        dirs.push(PathBuf::from(libdir));
    }
    for dir in &dirs {
        println!("cargo:rustc-link-search=native={}", dir.display());
    }
    let mut seen = Vec::new();
    for l in &lib.libs {
        if seen.contains(l) {
            continue;
        }
        seen.push(l.clone());
        if SYSTEM_LIBS.contains(&l.as_str()) {
            println!("cargo:rustc-link-lib=dylib={l}");
        } else if dirs.iter().any(|d| d.join(format!("lib{l}.a")).is_file()) {
            println!("cargo:rustc-link-lib=static={l}");
        } else {
            eprintln!(
                "error: feature `static` needs lib{l}.a (pkg-config names it for {name}), \
                 found in none of {dirs:?}.\n\
                 Debian/Ubuntu ship it in libibverbs-dev, librdmacm-dev, libnl-3-dev and \
                 libnl-route-3-dev."
            );
            std::process::exit(1);
        }
    }
}

/// A bindgen builder for `header`, with `lib`'s include paths and the options both bindings
/// share: plain integer constants for enums (flags are OR-ed together, statuses come from the
/// kernel and may hold values newer than the header), `Default` and `Debug` derived, layout
/// tests, no comments, and no `static inline` functions (the verbs ones are re-implemented in
/// `sys::inline`).
fn bindings_builder(header: &str, lib: &pkg_config::Library) -> bindgen::Builder {
    let mut builder = bindgen::Builder::default()
        .header(header)
        .default_enum_style(bindgen::EnumVariation::ModuleConsts)
        .derive_default(true)
        .derive_debug(true)
        .impl_debug(false)
        .layout_tests(true)
        .generate_comments(false)
        .generate_inline_functions(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()));
    for path in &lib.include_paths {
        builder = builder.clang_arg(format!("-I{}", path.display()));
    }
    builder
}
