//! `scripts/scale-curves`' report: how cost grows with the number of QPs or connections.
//!
//! The script collects one JSON line per measured point into a results file
//! ([`record`]); `rdma-scale report` turns it into markdown tables ([`table`]) and SVG
//! figures ([`figures`]). Pure code: no verbs.

pub mod figures;
pub mod record;
pub mod table;

use std::path::{Path, PathBuf};

use crate::output::{write_atomic, WriteError};

/// Why no report was written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The results file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// A line of it is not a known record.
    #[error("{}: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Which line and why.
        #[source]
        source: record::ParseError,
    },
    /// A figure could not be drawn.
    #[error(transparent)]
    Figure(#[from] crate::output::curve::CurveError),
    /// A file could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// Reads `results`, writes `<dir>/scale-curves-<date>.md` (the tables) and
/// `<dir>/scale-curves-<date>-<figure>.svg`; returns the files written.
pub fn write_report(results: &Path, dir: &Path, date: &str) -> Result<Vec<PathBuf>, ReportError> {
    let text = std::fs::read_to_string(results).map_err(|source| ReportError::Read {
        path: results.to_path_buf(),
        source,
    })?;
    let r = record::parse(&text).map_err(|source| ReportError::Parse {
        path: results.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    let md = dir.join(format!("scale-curves-{date}.md"));
    write_atomic(&md, table::markdown(&r).as_bytes())?;
    written.push(md);
    for (name, svg) in figures::figures(&r, date)? {
        let path = dir.join(format!("scale-curves-{date}-{name}.svg"));
        write_atomic(&path, svg.as_bytes())?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::testutil::TempDir;

    #[test]
    fn writes_tables_and_figures_and_names_bad_files() {
        let dir = TempDir::new("scale");
        let results = dir.0.join("results.jsonl");
        std::fs::write(&results, record::tests::SAMPLE).unwrap();
        let files = write_report(&results, &dir.0, "2026-12-07").unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "scale-curves-2026-12-07.md",
                "scale-curves-2026-12-07-bw.svg",
                "scale-curves-2026-12-07-connect.svg",
                "scale-curves-2026-12-07-memory.svg",
                "scale-curves-2026-12-07-echo.svg",
            ]
        );
        let md = std::fs::read_to_string(&files[0]).unwrap();
        assert!(md.contains("| 4 | 25"), "{md}");
        std::fs::write(&results, "{}\n").unwrap();
        let e = write_report(&results, &dir.0, "d").unwrap_err();
        assert!(
            e.to_string()
                .contains("results.jsonl: line 1: missing field `tool`"),
            "{e}"
        );
        let e = write_report(&dir.0.join("none"), &dir.0, "d").unwrap_err();
        assert!(e.to_string().starts_with("cannot read "), "{e}");
    }
}
