//! `--plot FILE.svg`: bandwidth and message rate against message size, for a `-a`
//! run of a BW test (sizes 2 … 2²³), as one SVG.
//!
//! The x axis is log₂ of the message size, labelled `2, 8, 32, … 8M` (every
//! other power of two when the run spans 9 to 24 of them, each one below, fewer
//! above); the left y axis is the average bandwidth (in the run's unit, blue
//! line and dots), the right y axis the message rate in Mpps (red line and
//! dots); one dot per size; a title given by the caller (test, device, date) and
//! a legend.
//!
//! Drawn with `plotters`' SVG backend only: text is written as SVG `<text>`
//! elements (`sans-serif`), so rendering needs no font file here. The output
//! depends only on the input: the same points and labels give the same bytes.
//!
//! Input checks (a [`PlotError`], never a panic or a broken SVG): at least one
//! point, sizes non-zero and distinct, values finite and not negative, each series
//! with a largest value in `[1e-12, 1e12]` (outside, the axis cannot be
//! labelled). Points may come in any order; they are drawn sorted by size.

use std::path::Path;

use plotters::coord::combinators::BindKeyPoints;
use plotters::prelude::*;

use super::{write_atomic, WriteError};
use crate::perftest::stats::BwResult;

/// Width of the picture, in pixels.
pub const WIDTH: u32 = 960;
/// Height of the picture, in pixels.
pub const HEIGHT: u32 = 560;

/// Smallest accepted maximum of a series.
const MIN_TOP: f64 = 1e-12;
/// Largest accepted maximum of a series.
const MAX_TOP: f64 = 1e12;
/// x coordinate units per power of two (the x axis is `log2(size) * X_SCALE`).
const X_SCALE: f64 = 64.0;

/// The bandwidth series' colour (`#1f77b4`).
const BW_COLOR: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
/// The message rate series' colour (`#d62728`).
const RATE_COLOR: RGBColor = RGBColor(0xd6, 0x27, 0x28);

/// One message size of a BW run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BwPoint {
    /// Message size in bytes.
    pub bytes: u64,
    /// Average bandwidth, in the unit of [`PlotLabels::bw_unit`].
    pub bw_avg: f64,
    /// Message rate in Mpps.
    pub msg_rate: f64,
}

impl From<&BwResult> for BwPoint {
    fn from(r: &BwResult) -> Self {
        BwPoint {
            bytes: r.size,
            bw_avg: r.bw_avg,
            msg_rate: r.msg_rate,
        }
    }
}

/// The text of the plot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlotLabels<'a> {
    /// Title, e.g. `RDMA_Write BW, rxe0, 2026-11-21 14:03`.
    pub title: &'a str,
    /// Bandwidth unit: `MB/sec` or `Gb/sec`
    /// ([`bw_unit_str`](super::bw_unit_str)).
    pub bw_unit: &'a str,
}

/// Why no plot was drawn.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// No point.
    #[error("nothing to plot: no message size was measured")]
    Empty,
    /// A size of 0 bytes (the x axis is logarithmic).
    #[error("cannot plot a message size of 0 bytes")]
    ZeroSize,
    /// The same size twice.
    #[error("message size {bytes} appears twice")]
    DuplicateSize {
        /// The size.
        bytes: u64,
    },
    /// A value is NaN, infinite or negative.
    #[error("cannot plot {what} = {value} for message size {bytes}")]
    BadValue {
        /// `bandwidth` or `message rate`.
        what: &'static str,
        /// The size.
        bytes: u64,
        /// The value.
        value: f64,
    },
    /// The largest value of a series is 0, or too small or too large to label.
    #[error("cannot plot {what}: its largest value {max} is outside [1e-12, 1e12]")]
    OutOfRange {
        /// `bandwidth` or `message rate`.
        what: &'static str,
        /// The largest value.
        max: f64,
    },
    /// The drawing library failed.
    #[error("drawing the plot failed: {0}")]
    Render(String),
    /// The file could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
}

fn render_err<E: std::fmt::Display>(e: E) -> PlotError {
    PlotError::Render(e.to_string())
}

/// `text` with the characters XML 1.0 does not allow (controls, U+FFFE, U+FFFF)
/// replaced by spaces; the backend escapes `<`, `>`, `&` and quotes.
pub(super) fn xml_text(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{fffe}' | '\u{ffff}' => ' ',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

/// `2^e` with a binary suffix: `2`, `512`, `2K`, `8M`, `16E`.
pub(super) fn pow2_label(e: u32) -> String {
    const SUFFIX: [&str; 7] = ["", "K", "M", "G", "T", "P", "E"];
    let idx = (e / 10).min(6);
    let rest = e - idx * 10;
    format!("{}{}", 1u128 << rest, SUFFIX[idx as usize])
}

/// A y tick label: no trailing zeros, scientific notation far from 1.
pub(super) fn num_label(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e7).contains(&a) {
        return format!("{v:e}");
    }
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// The points sorted by size, checked.
fn checked(points: &[BwPoint]) -> Result<Vec<BwPoint>, PlotError> {
    if points.is_empty() {
        return Err(PlotError::Empty);
    }
    let mut v = points.to_vec();
    v.sort_by_key(|p| p.bytes);
    for p in &v {
        if p.bytes == 0 {
            return Err(PlotError::ZeroSize);
        }
        for (what, value) in [("bandwidth", p.bw_avg), ("message rate", p.msg_rate)] {
            if !value.is_finite() || value < 0.0 {
                return Err(PlotError::BadValue {
                    what,
                    bytes: p.bytes,
                    value,
                });
            }
        }
    }
    if let Some(w) = v.windows(2).find(|w| w[0].bytes == w[1].bytes) {
        return Err(PlotError::DuplicateSize { bytes: w[0].bytes });
    }
    Ok(v)
}

/// The top of a y axis: a little above the largest value.
fn top(what: &'static str, values: impl Iterator<Item = f64>) -> Result<f64, PlotError> {
    let max = values.fold(0.0f64, f64::max);
    if !(MIN_TOP..=MAX_TOP).contains(&max) {
        return Err(PlotError::OutOfRange { what, max });
    }
    Ok(max * 1.08)
}

/// The x coordinate of a size.
fn x_of(bytes: u64) -> i32 {
    // bytes >= 1: log2 in [0, 64], so the product fits easily.
    ((bytes as f64).log2() * X_SCALE).round() as i32
}

/// The SVG document.
pub fn render_svg(points: &[BwPoint], labels: &PlotLabels<'_>) -> Result<String, PlotError> {
    let pts = checked(points)?;
    let top_bw = top("bandwidth", pts.iter().map(|p| p.bw_avg))?;
    let top_rate = top("message rate", pts.iter().map(|p| p.msg_rate))?;
    // Whole powers of two around the sizes; half a power of margin each side.
    let first = pts.first().map_or(1, |p| p.bytes);
    let last = pts.last().map_or(1, |p| p.bytes);
    let e_min = (first as f64).log2().floor() as i32;
    let e_max = (last as f64).log2().ceil() as i32;
    // Every power up to 8 of them, else every other one (every 4th, 6th, … past 24)
    // from odd ones: 2, 8, 32, … as perftest's -a sizes start at 2.
    let span = e_max - e_min;
    let step = if span <= 8 { 1 } else { 2 * ((span + 23) / 24) };
    let ticks: Vec<i32> = (e_min..=e_max)
        .filter(|e| step == 1 || (e - 1).rem_euclid(step) == 0)
        .map(|e| e * X_SCALE as i32)
        .collect();
    let half = X_SCALE as i32 / 2;
    let x_range = (e_min * X_SCALE as i32 - half)..(e_max * X_SCALE as i32 + half);

    let title = xml_text(labels.title);
    let bw_desc = format!("BW average [{}]", xml_text(labels.bw_unit));
    let rate_desc = "message rate [Mpps]";
    let x_label = |x: &i32| pow2_label(x.div_euclid(X_SCALE as i32).clamp(0, 64) as u32);
    let y_label = |y: &f64| num_label(*y);

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(render_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(14)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .right_y_label_area_size(80)
            .build_cartesian_2d(x_range.clone().with_key_points(ticks), 0f64..top_bw)
            .map_err(render_err)?
            .set_secondary_coord(x_range, 0f64..top_rate);
        chart
            .configure_mesh()
            .x_desc("message size [bytes]")
            .y_desc(bw_desc.as_str())
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .axis_desc_style(("sans-serif", 16))
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(render_err)?;
        chart
            .configure_secondary_axes()
            .y_desc(rate_desc)
            .y_label_formatter(&y_label)
            .axis_desc_style(("sans-serif", 16))
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(render_err)?;

        let bw_line = BW_COLOR.stroke_width(2);
        chart
            .draw_series(LineSeries::new(
                pts.iter().map(|p| (x_of(p.bytes), p.bw_avg)),
                bw_line,
            ))
            .map_err(render_err)?
            .label(bw_desc.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], bw_line));
        chart
            .draw_series(
                pts.iter()
                    .map(|p| Circle::new((x_of(p.bytes), p.bw_avg), 4, BW_COLOR.filled())),
            )
            .map_err(render_err)?;

        let rate_line = RATE_COLOR.stroke_width(2);
        chart
            .draw_secondary_series(LineSeries::new(
                pts.iter().map(|p| (x_of(p.bytes), p.msg_rate)),
                rate_line,
            ))
            .map_err(render_err)?
            .label(rate_desc)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], rate_line));
        chart
            .draw_secondary_series(
                pts.iter()
                    .map(|p| Circle::new((x_of(p.bytes), p.msg_rate), 4, RATE_COLOR.filled())),
            )
            .map_err(render_err)?;

        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::MiddleRight)
            .label_font(("sans-serif", 14))
            .border_style(BLACK)
            .background_style(WHITE.mix(0.9))
            .draw()
            .map_err(render_err)?;
        root.present().map_err(render_err)?;
    }
    Ok(svg)
}

/// Renders the plot and writes it to `path` (through `path.tmp`, then a rename);
/// a write error names `path`.
pub fn write_to(path: &Path, points: &[BwPoint], labels: &PlotLabels<'_>) -> Result<(), PlotError> {
    let svg = render_svg(points, labels)?;
    write_atomic(path, svg.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::TempDir;
    use super::*;

    const LABELS: PlotLabels<'static> = PlotLabels {
        title: "RDMA_Write BW, rxe0, 2026-11-21 <&> \"q\"",
        bw_unit: "MB/sec",
    };

    /// A `-a` run: 2 … 8M, bandwidth saturating, rate falling.
    fn sweep() -> Vec<BwPoint> {
        (1..=23)
            .map(|e| {
                let b = (1u64 << e) as f64;
                let bw = 11000.0 * b / (b + 4096.0);
                BwPoint {
                    bytes: 1 << e,
                    bw_avg: bw,
                    msg_rate: bw * 1_048_576.0 / b / 1e6,
                }
            })
            .collect()
    }

    fn texts(doc: &roxmltree::Document<'_>) -> Vec<String> {
        doc.descendants()
            .filter(|n| n.has_tag_name("text"))
            .map(|n| n.text().unwrap_or("").trim().to_string())
            .collect()
    }

    fn circles(doc: &roxmltree::Document<'_>, fill: &str) -> usize {
        doc.descendants()
            .filter(|n| n.has_tag_name("circle") && n.attribute("fill") == Some(fill))
            .count()
    }

    #[test]
    fn well_formed_with_points_and_labels() {
        let svg = render_svg(&sweep(), &LABELS).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        assert_eq!(circles(&doc, "#1F77B4"), 23);
        assert_eq!(circles(&doc, "#D62728"), 23);
        let t = texts(&doc);
        for want in [
            LABELS.title,
            "message size [bytes]",
            "BW average [MB/sec]",
            "message rate [Mpps]",
        ] {
            // Axis titles and legend entries: at least once.
            assert!(t.iter().any(|s| s == want), "{want:?} not in {t:?}");
        }
        let x_ticks = [
            "2", "8", "32", "128", "512", "2K", "8K", "32K", "128K", "512K", "2M", "8M",
        ];
        for want in x_ticks {
            assert!(t.iter().any(|s| s == want), "x label {want:?} not in {t:?}");
        }
        for absent in ["4", "16", "4M"] {
            assert!(!t.iter().any(|s| s == absent), "{absent:?} is labelled");
        }
    }

    #[test]
    fn deterministic_and_order_independent() {
        let a = render_svg(&sweep(), &LABELS).unwrap();
        let mut rev = sweep();
        rev.reverse();
        assert_eq!(a, render_svg(&sweep(), &LABELS).unwrap());
        assert_eq!(a, render_svg(&rev, &LABELS).unwrap());
    }

    #[test]
    fn odd_inputs_still_give_well_formed_svg() {
        let one = [BwPoint {
            bytes: 65536,
            bw_avg: 33.2,
            msg_rate: 0.0005,
        }];
        let odd_sizes = [3u64, 1000, 65537, u64::MAX]
            .iter()
            .map(|&bytes| BwPoint {
                bytes,
                bw_avg: 1.0,
                msg_rate: 0.0,
            })
            .chain(std::iter::once(BwPoint {
                bytes: 1,
                bw_avg: 0.0,
                msg_rate: 2.0,
            }))
            .collect::<Vec<_>>();
        let extremes = [
            BwPoint {
                bytes: 2,
                bw_avg: 1e12,
                msg_rate: 1e-12,
            },
            BwPoint {
                bytes: 4,
                bw_avg: 5e-324,
                msg_rate: 1e-300,
            },
        ];
        let nasty = PlotLabels {
            title: "\u{0}\u{1b}[31m\u{fffe} ]]> <!-- é ✓",
            bw_unit: "Gb/sec\u{7}",
        };
        for pts in [&one[..], &odd_sizes, &extremes] {
            for labels in [&LABELS, &nasty] {
                let svg = render_svg(pts, labels).unwrap();
                let doc = roxmltree::Document::parse(&svg).unwrap();
                assert_eq!(circles(&doc, "#1F77B4"), pts.len());
            }
        }
        let svg = render_svg(&odd_sizes, &LABELS).unwrap();
        let t = texts(&roxmltree::Document::parse(&svg).unwrap());
        // 1 … 2^64: every 6th power from 2.
        for want in ["2", "128", "8K", "2E"] {
            assert!(t.iter().any(|s| s == want), "{want:?} not in {t:?}");
        }
        assert!(!t.iter().any(|s| s == "8"), "{t:?}");
    }

    /// Random inputs (xorshift, fixed seed): a well-formed SVG or an error, never a
    /// panic or a hang.
    #[test]
    fn random_inputs_never_panic() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let value = |r: u64| match r % 4 {
            0 => 0.0,
            // 10^-15 … 10^15: some series are out of range on purpose.
            _ => (r >> 8) as f64 / (1u64 << 56) as f64 * 10f64.powi((r % 31) as i32 - 15),
        };
        let (mut ok, mut err) = (0, 0);
        for _ in 0..200 {
            let n = (next() % 30) as usize;
            let pts: Vec<BwPoint> = (0..n)
                .map(|_| {
                    let r = next();
                    BwPoint {
                        bytes: next() >> (r % 64),
                        bw_avg: value(next()),
                        msg_rate: value(next()),
                    }
                })
                .collect();
            match render_svg(&pts, &LABELS) {
                Ok(svg) => {
                    let doc = roxmltree::Document::parse(&svg).unwrap();
                    assert_eq!(circles(&doc, "#D62728"), n);
                    ok += 1;
                }
                Err(_) => err += 1,
            }
        }
        assert!(ok > 20 && err > 20, "{ok} drawn, {err} refused");
    }

    #[test]
    fn bad_input_is_an_error() {
        let p = |bytes, bw_avg, msg_rate| BwPoint {
            bytes,
            bw_avg,
            msg_rate,
        };
        assert!(matches!(render_svg(&[], &LABELS), Err(PlotError::Empty)));
        assert!(matches!(
            render_svg(&[p(0, 1.0, 1.0)], &LABELS),
            Err(PlotError::ZeroSize)
        ));
        assert!(matches!(
            render_svg(&[p(8, 1.0, 1.0), p(8, 2.0, 1.0)], &LABELS),
            Err(PlotError::DuplicateSize { bytes: 8 })
        ));
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0] {
            let e = render_svg(&[p(2, 1.0, 1.0), p(4, bad, 1.0)], &LABELS).unwrap_err();
            assert!(
                matches!(
                    e,
                    PlotError::BadValue {
                        what: "bandwidth",
                        bytes: 4,
                        ..
                    }
                ),
                "{e}"
            );
            let e = render_svg(&[p(2, 1.0, bad)], &LABELS).unwrap_err();
            assert!(
                matches!(
                    e,
                    PlotError::BadValue {
                        what: "message rate",
                        ..
                    }
                ),
                "{e}"
            );
        }
        for max in [0.0, 1e-13, 1e13, f64::MAX] {
            let e = render_svg(&[p(2, max, 1.0)], &LABELS).unwrap_err();
            assert!(
                matches!(
                    e,
                    PlotError::OutOfRange {
                        what: "bandwidth",
                        ..
                    }
                ),
                "{e}"
            );
        }
        let e = render_svg(&[p(2, 1.0, 0.0)], &LABELS).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot plot message rate: its largest value 0 is outside [1e-12, 1e12]"
        );
    }

    #[test]
    fn labels() {
        assert_eq!(pow2_label(1), "2");
        assert_eq!(pow2_label(9), "512");
        assert_eq!(pow2_label(11), "2K");
        assert_eq!(pow2_label(23), "8M");
        assert_eq!(pow2_label(30), "1G");
        assert_eq!(pow2_label(64), "16E");
        assert_eq!(num_label(0.0), "0");
        assert_eq!(num_label(12000.0), "12000");
        assert_eq!(num_label(0.30000000000000004), "0.3");
        assert_eq!(num_label(2.5e-10), "2.5e-10");
        assert_eq!(num_label(1e8), "1e8");
    }

    #[test]
    fn write_to_file() {
        let dir = TempDir::new("plot");
        let p = dir.0.join("bw.svg");
        write_to(&p, &sweep(), &LABELS).unwrap();
        let svg = std::fs::read_to_string(&p).unwrap();
        assert!(roxmltree::Document::parse(&svg).is_ok());
        let e = write_to(&dir.0.join("nope").join("bw.svg"), &sweep(), &LABELS).unwrap_err();
        assert!(e.to_string().contains("nope/bw.svg"), "{e}");
        assert!(matches!(write_to(&p, &[], &LABELS), Err(PlotError::Empty)));
    }

    /// Writes a sample to `$RDMA_BENCH_PLOT_SAMPLE` (to look at it).
    #[test]
    fn sample_file() {
        if let Some(p) = std::env::var_os("RDMA_BENCH_PLOT_SAMPLE") {
            write_to(Path::new(&p), &sweep(), &LABELS).unwrap();
        }
    }
}
