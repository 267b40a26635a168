//! The optional layers are built on the core, never the reverse: no code of the core's
//! modules names the prepared-requests layer (`src/prepared/`), which only the crate root
//! declares. It reads the sources; doc comments may link to the layer.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, but those under `skip`.
fn sources(dir: &Path, skip: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read a source directory") {
        let path = entry.expect("read a source directory").path();
        if path.starts_with(skip) {
            continue;
        }
        if path.is_dir() {
            sources(&path, skip, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_core_does_not_use_the_prepared_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &src.join("prepared"), &mut files);
    assert!(files.len() > 20, "found only {} files", files.len());
    let mut uses = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read a source file");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let declares = file.ends_with("lib.rs") && code.trim() == "pub mod prepared;";
            if code.contains("prepared") && !declares {
                uses.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        uses.is_empty(),
        "the core names the layer:\n{}",
        uses.join("\n")
    );
}
