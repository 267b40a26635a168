//! What `rdma-perf` writes besides perftest's text: pure modules, no verbs.
//!
//! * [`json`]: `--out_json FILE`, a valid JSON report (perftest's own is not valid
//!   JSON);
//! * [`curve`]: cost against scale (log₂ x, any series), for `scripts/scale-curves`;
//! * [`plot`]: `--plot FILE.svg`, bandwidth and message rate against message size
//!   for a `-a` run;
//! * [`progress`]: a progress line on stderr for long runs, drawn by a background
//!   thread from a counter the measured loop updates with relaxed stores.
//!
//! Files are written through [`write_atomic`]: to `FILE.PID.tmp` first, then renamed,
//! so a reader never sees half a report.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::perftest::stats::BwUnit;

pub mod curve;
pub mod json;
pub mod plot;
pub mod progress;

/// A file could not be written; names the file.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {source}", path.display())]
pub struct WriteError {
    /// The file asked for (not the temporary one).
    pub path: PathBuf,
    /// What failed.
    #[source]
    pub source: io::Error,
}

/// The unit as perftest prints it in its table headers: `MB/sec` or `Gb/sec`.
pub fn bw_unit_str(unit: BwUnit) -> &'static str {
    match unit {
        BwUnit::MBps => "MB/sec",
        BwUnit::Gbps => "Gb/sec",
    }
}

/// The temporary file beside `path`: its name with `.PID.tmp` appended, so that two
/// processes writing the same file (both sides of a run) never share one.
fn tmp_path(path: &Path) -> io::Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "the path does not name a file")
    })?;
    let mut tmp = name.to_os_string();
    tmp.push(format!(".{}.tmp", std::process::id()));
    Ok(path.with_file_name(tmp))
}

/// Writes `contents` to `path.tmp`, flushes it to disk and renames it to `path`
/// (replacing an existing file). On failure the temporary file is removed and the
/// error names `path`.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), WriteError> {
    let err = |source| WriteError {
        path: path.to_path_buf(),
        source,
    };
    let tmp = tmp_path(path).map_err(err)?;
    let written = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        // Best effort: the temporary file may not even exist.
        let _ = fs::remove_file(&tmp);
        return Err(err(e));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod testutil {
    use std::path::PathBuf;

    /// A fresh empty directory under the system temp dir, removed on drop.
    pub struct TempDir(pub PathBuf);

    impl TempDir {
        pub fn new(tag: &str) -> TempDir {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let dir = std::env::temp_dir().join(format!(
                "rdma-bench-{tag}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::TempDir;
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_tmp() {
        let dir = TempDir::new("atomic");
        let p = dir.0.join("out.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert!(!dir
            .0
            .join(format!("out.json.{}.tmp", std::process::id()))
            .exists());
    }

    #[test]
    fn atomic_write_error_names_the_path() {
        let dir = TempDir::new("atomic-err");
        let p = dir.0.join("missing-dir").join("out.json");
        let e = write_atomic(&p, b"x").unwrap_err();
        assert_eq!(e.path, p);
        assert!(e.to_string().contains("missing-dir/out.json"), "{e}");
        // A directory cannot be replaced by a file.
        let e = write_atomic(&dir.0, b"x").unwrap_err();
        assert!(e.to_string().starts_with("cannot write "), "{e}");
        let mut sibling = dir.0.clone().into_os_string();
        sibling.push(".tmp");
        assert!(!Path::new(&sibling).exists());
        // No file name at all.
        assert!(write_atomic(Path::new("/"), b"x").is_err());
    }

    #[test]
    fn unit_strings() {
        assert_eq!(bw_unit_str(BwUnit::MBps), "MB/sec");
        assert_eq!(bw_unit_str(BwUnit::Gbps), "Gb/sec");
    }
}
