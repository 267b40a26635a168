//! Cost against scale as one SVG: any number of named series over a log₂ x axis (QP or
//! connection counts 1 … 1024), each drawn on the left or the right y axis, each axis linear
//! (from 0) or log₁₀. `scripts/scale-curves` draws its figures with it.
//!
//! The x axis is log₂ of x, one tick per power of two (`1, 2, 4, … 1K`; every other one past
//! 12 of them); a log y axis has one tick per power of ten. One line and one dot per point,
//! a colour per series, a legend, the caller's title and axis names. As in
//! [`plot`](super::plot) text is SVG `<text>` (no font file needed) and the output depends
//! only on the input.
//!
//! Input checks (a [`CurveError`], never a panic or a broken SVG): at least one series, each
//! with at least one point; x values finite and positive, distinct within a series; y values
//! finite and not negative (positive on a log axis); an axis' largest value in
//! `[1e-12, 1e12]`; a right-axis series needs a right axis name.

use plotters::coord::combinators::BindKeyPoints;
use plotters::prelude::*;

use super::plot::{num_label, pow2_label, xml_text, HEIGHT, WIDTH};

/// Smallest accepted maximum (and smallest log-axis value).
const MIN_TOP: f64 = 1e-12;
/// Largest accepted maximum.
const MAX_TOP: f64 = 1e12;
/// x coordinate units per power of two.
const X_SCALE: f64 = 64.0;
/// y coordinate units per power of ten on a log axis.
const Y_LOG_SCALE: f64 = 1000.0;

/// The series' colours, in order (then again).
const PALETTE: [RGBColor; 6] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
];

/// Which y axis a series is drawn against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The left (primary) axis.
    Left,
    /// The right (secondary) axis.
    Right,
}

/// How a y axis maps values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// From 0 to a little above the largest value.
    Linear,
    /// Powers of ten, around the values.
    Log,
}

/// One named line.
#[derive(Debug, Clone, PartialEq)]
pub struct Series<'a> {
    /// Legend text.
    pub name: &'a str,
    /// The axis it belongs to.
    pub side: Side,
    /// `(x, y)` points, in any order.
    pub points: Vec<(f64, f64)>,
}

/// A y axis: its name and scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YAxis<'a> {
    /// Axis name, with its unit.
    pub desc: &'a str,
    /// Linear or log.
    pub scale: Scale,
}

/// Where the legend goes: a corner where the lines are not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corner {
    /// Top left.
    UpperLeft,
    /// Top right.
    UpperRight,
    /// Bottom left.
    LowerLeft,
    /// Bottom right.
    LowerRight,
}

/// The text and axes of a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Figure<'a> {
    /// Title.
    pub title: &'a str,
    /// x axis name (the axis is log₂).
    pub x_desc: &'a str,
    /// The left y axis.
    pub left: YAxis<'a>,
    /// The right y axis, if any series uses it.
    pub right: Option<YAxis<'a>>,
    /// The legend's corner.
    pub legend: Corner,
}

/// Why no figure was drawn.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CurveError {
    /// No series, or a series without points.
    #[error("nothing to plot: {0}")]
    Empty(String),
    /// An x value that is not finite and positive, or twice in one series.
    #[error("series {series:?}: cannot plot x = {x}{}", if *.duplicate { " twice" } else { "" })]
    BadX {
        /// The series.
        series: String,
        /// The value.
        x: f64,
        /// It appears twice.
        duplicate: bool,
    },
    /// A y value that is not finite, negative, or not positive on a log axis.
    #[error("series {series:?}: cannot plot y = {y} at x = {x}")]
    BadY {
        /// The series.
        series: String,
        /// Its x.
        x: f64,
        /// The value.
        y: f64,
    },
    /// An axis whose values are all 0, or too small or too large to label.
    #[error("axis {axis:?}: its largest value {max} is outside [1e-12, 1e12]")]
    OutOfRange {
        /// The axis name.
        axis: String,
        /// The largest value.
        max: f64,
    },
    /// A series on the right axis, but no right axis.
    #[error("series {0:?} is on the right axis, but the figure has none")]
    NoRightAxis(String),
    /// The drawing library failed.
    #[error("drawing the figure failed: {0}")]
    Render(String),
}

fn render_err<E: std::fmt::Display>(e: E) -> CurveError {
    CurveError::Render(e.to_string())
}

/// The x coordinate of `x`.
fn x_of(x: f64) -> i32 {
    (x.log2() * X_SCALE).round() as i32
}

/// One y axis' coordinate range, how many labels it gets, and its mapping.
struct Mapped {
    range: std::ops::Range<f64>,
    labels: usize,
    scale: Scale,
}

impl Mapped {
    fn new(axis: &YAxis<'_>, values: &[f64]) -> Result<Mapped, CurveError> {
        let max = values.iter().copied().fold(0.0f64, f64::max);
        if !(MIN_TOP..=MAX_TOP).contains(&max) {
            return Err(CurveError::OutOfRange {
                axis: axis.desc.to_string(),
                max,
            });
        }
        Ok(match axis.scale {
            Scale::Linear => Mapped {
                range: 0.0..max * 1.08,
                labels: 10,
                scale: Scale::Linear,
            },
            Scale::Log => {
                let min = values.iter().copied().fold(f64::INFINITY, f64::min);
                let lo = min.log10().floor() as i32;
                let hi = (max.log10().ceil() as i32).max(lo + 1);
                Mapped {
                    range: f64::from(lo) * Y_LOG_SCALE..f64::from(hi) * Y_LOG_SCALE,
                    // One label per power of ten: plotters then steps by whole decades.
                    labels: (hi - lo + 1) as usize,
                    scale: Scale::Log,
                }
            }
        })
    }

    fn y(&self, v: f64) -> f64 {
        match self.scale {
            Scale::Linear => v,
            Scale::Log => v.log10() * Y_LOG_SCALE,
        }
    }

    fn label(&self, y: f64) -> String {
        match self.scale {
            Scale::Linear => num_label(y),
            Scale::Log => num_label(round3(10f64.powf(y / Y_LOG_SCALE))),
        }
    }
}

/// `v` rounded to three significant digits (a log axis' label between two decades).
fn round3(v: f64) -> f64 {
    let p = 10f64.powi(2 - v.log10().floor() as i32);
    (v * p).round() / p
}

/// Checks the series: points sorted by x.
fn checked<'a>(series: &[Series<'a>], fig: &Figure<'_>) -> Result<Vec<Series<'a>>, CurveError> {
    if series.is_empty() {
        return Err(CurveError::Empty("no series".into()));
    }
    let mut out = Vec::with_capacity(series.len());
    for s in series {
        let name = || s.name.to_string();
        if s.points.is_empty() {
            return Err(CurveError::Empty(format!(
                "series {:?} has no point",
                s.name
            )));
        }
        let scale = match (s.side, fig.right) {
            (Side::Left, _) => fig.left.scale,
            (Side::Right, Some(r)) => r.scale,
            (Side::Right, None) => return Err(CurveError::NoRightAxis(name())),
        };
        let mut pts = s.points.clone();
        for &(x, y) in &pts {
            if !x.is_finite() || x <= 0.0 {
                let duplicate = false;
                return Err(CurveError::BadX {
                    series: name(),
                    x,
                    duplicate,
                });
            }
            let ok_y = y.is_finite() && y >= 0.0 && (scale == Scale::Linear || y >= MIN_TOP);
            if !ok_y {
                return Err(CurveError::BadY {
                    series: name(),
                    x,
                    y,
                });
            }
        }
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        if let Some(w) = pts.windows(2).find(|w| w[0].0 == w[1].0) {
            let (x, duplicate) = (w[0].0, true);
            return Err(CurveError::BadX {
                series: name(),
                x,
                duplicate,
            });
        }
        out.push(Series {
            points: pts,
            ..s.clone()
        });
    }
    Ok(out)
}

/// The SVG document of `series` drawn as `fig` says.
pub fn render_svg(series: &[Series<'_>], fig: &Figure<'_>) -> Result<String, CurveError> {
    let series = checked(series, fig)?;
    let values = |side| -> Vec<f64> {
        series
            .iter()
            .filter(|s| s.side == side)
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .collect()
    };
    // A figure whose series are all on the right still gets a (bare) left axis.
    let left = match values(Side::Left) {
        v if v.is_empty() => Mapped::new(
            &YAxis {
                scale: Scale::Linear,
                ..fig.left
            },
            &[1.0],
        )?,
        v => Mapped::new(&fig.left, &v)?,
    };
    let right = match fig.right {
        Some(axis) if series.iter().any(|s| s.side == Side::Right) => {
            Some(Mapped::new(&axis, &values(Side::Right))?)
        }
        _ => None,
    };
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let (lo, hi) = xs.fold((f64::INFINITY, 0.0f64), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    });
    let e_min = lo.log2().floor().clamp(-64.0, 64.0) as i32;
    let e_max = hi.log2().ceil().clamp(-64.0, 64.0) as i32;
    let step = if e_max - e_min <= 12 { 1 } else { 2 };
    let x_ticks: Vec<i32> = (e_min..=e_max)
        .filter(|e| (e - e_min) % step == 0)
        .map(|e| e * X_SCALE as i32)
        .collect();
    let half = X_SCALE as i32 / 2;
    let x_range = (e_min * X_SCALE as i32 - half)..(e_max * X_SCALE as i32 + half);
    let x_label = |x: &i32| match x.div_euclid(X_SCALE as i32) {
        e if e >= 0 => pow2_label(e.min(64) as u32),
        e => format!("1/{}", pow2_label((-e).min(64) as u32)),
    };

    let title = xml_text(fig.title);
    let x_desc = xml_text(fig.x_desc);
    let left_desc = xml_text(fig.left.desc);
    let right_desc = fig.right.map(|r| xml_text(r.desc)).unwrap_or_default();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(render_err)?;
        let right_area = if right.is_some() { 80 } else { 20 };
        let y2 = right.as_ref().map_or(0.0..1.0, |r| r.range.clone());
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(14)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .right_y_label_area_size(right_area)
            .build_cartesian_2d(
                x_range.clone().with_key_points(x_ticks.clone()),
                left.range.clone(),
            )
            .map_err(render_err)?
            .set_secondary_coord(x_range.with_key_points(x_ticks), y2);
        let y_label = |y: &f64| left.label(*y);
        chart
            .configure_mesh()
            .x_desc(x_desc.as_str())
            .y_desc(left_desc.as_str())
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .y_labels(left.labels)
            .axis_desc_style(("sans-serif", 16))
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(render_err)?;
        if let Some(r) = &right {
            let y2_label = |y: &f64| r.label(*y);
            chart
                .configure_secondary_axes()
                .y_desc(right_desc.as_str())
                .y_label_formatter(&y2_label)
                .y_labels(r.labels)
                .axis_desc_style(("sans-serif", 16))
                .label_style(("sans-serif", 14))
                .draw()
                .map_err(render_err)?;
        }
        for (k, s) in series.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            let line = color.stroke_width(2);
            let name = xml_text(s.name);
            let map = match s.side {
                Side::Left => &left,
                Side::Right => right.as_ref().unwrap_or(&left),
            };
            let pts: Vec<(i32, f64)> = s.points.iter().map(|&(x, y)| (x_of(x), map.y(y))).collect();
            let dots = pts.iter().map(|&p| Circle::new(p, 4, color.filled()));
            let legend = move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], line);
            match s.side {
                Side::Left => {
                    chart
                        .draw_series(LineSeries::new(pts.iter().copied(), line))
                        .map_err(render_err)?
                        .label(name)
                        .legend(legend);
                    chart.draw_series(dots).map_err(render_err)?;
                }
                Side::Right => {
                    chart
                        .draw_secondary_series(LineSeries::new(pts.iter().copied(), line))
                        .map_err(render_err)?
                        .label(name)
                        .legend(legend);
                    chart.draw_secondary_series(dots).map_err(render_err)?;
                }
            }
        }
        chart
            .configure_series_labels()
            .position(match fig.legend {
                Corner::UpperLeft => SeriesLabelPosition::UpperLeft,
                Corner::UpperRight => SeriesLabelPosition::UpperRight,
                Corner::LowerLeft => SeriesLabelPosition::LowerLeft,
                Corner::LowerRight => SeriesLabelPosition::LowerRight,
            })
            .label_font(("sans-serif", 14))
            .border_style(BLACK)
            .background_style(WHITE.mix(0.9))
            .draw()
            .map_err(render_err)?;
        root.present().map_err(render_err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIG: Figure<'static> = Figure {
        title: "write_bw on rxe0, 2026-12-07 <&>",
        x_desc: "queue pairs",
        left: YAxis {
            desc: "BW average [MB/sec]",
            scale: Scale::Linear,
        },
        right: Some(YAxis {
            desc: "message rate [Mpps]",
            scale: Scale::Log,
        }),
        legend: Corner::LowerRight,
    };

    fn qps() -> Vec<f64> {
        (0..=8).map(|e| f64::from(1u32 << e)).collect()
    }

    fn two() -> Vec<Series<'static>> {
        vec![
            Series {
                name: "64 KiB",
                side: Side::Left,
                points: qps().iter().map(|&q| (q, 300.0 * q / (q + 3.0))).collect(),
            },
            Series {
                name: "64 B",
                side: Side::Right,
                points: qps().iter().map(|&q| (q, 0.05 * q.sqrt())).collect(),
            },
        ]
    }

    fn doc_texts(svg: &str) -> Vec<String> {
        let doc = roxmltree::Document::parse(svg).unwrap();
        doc.descendants()
            .filter(|n| n.has_tag_name("text"))
            .map(|n| n.text().unwrap_or("").trim().to_string())
            .collect()
    }

    fn circles(svg: &str, fill: &str) -> usize {
        let doc = roxmltree::Document::parse(svg).unwrap();
        doc.descendants()
            .filter(|n| n.has_tag_name("circle") && n.attribute("fill") == Some(fill))
            .count()
    }

    #[test]
    fn well_formed_with_every_point_and_label() {
        let svg = render_svg(&two(), &FIG).unwrap();
        assert_eq!(circles(&svg, "#1F77B4"), 9);
        assert_eq!(circles(&svg, "#D62728"), 9);
        let t = doc_texts(&svg);
        for want in [
            FIG.title,
            "queue pairs",
            "BW average [MB/sec]",
            "message rate [Mpps]",
        ] {
            assert!(t.iter().any(|s| s == want), "{want:?} not in {t:?}");
        }
        for want in ["64 KiB", "64 B", "1", "2", "16", "256", "0.01", "0.1", "1"] {
            assert!(t.iter().any(|s| s == want), "{want:?} not in {t:?}");
        }
        // Powers of two only on x; no 512 (past the last point).
        assert!(!t.iter().any(|s| s == "3" || s == "512"), "{t:?}");
    }

    #[test]
    fn log_axes_tick_every_power_of_ten_and_x_goes_to_1k() {
        let fig = Figure {
            left: YAxis {
                desc: "seconds",
                scale: Scale::Log,
            },
            right: None,
            ..FIG
        };
        let s = vec![Series {
            name: "connect",
            side: Side::Left,
            points: (0..=10)
                .map(|e| (f64::from(1u32 << e), 0.002 * f64::from(1u32 << e)))
                .collect(),
        }];
        let svg = render_svg(&s, &fig).unwrap();
        assert_eq!(circles(&svg, "#1F77B4"), 11);
        let t = doc_texts(&svg);
        for want in ["0.001", "0.01", "0.1", "1", "10", "1K", "512"] {
            assert!(t.iter().any(|s| s == want), "{want:?} not in {t:?}");
        }
        assert!(!t.iter().any(|s| s == "message rate [Mpps]"), "{t:?}");
    }

    #[test]
    fn deterministic_and_order_independent() {
        let a = render_svg(&two(), &FIG).unwrap();
        let mut rev = two();
        for s in &mut rev {
            s.points.reverse();
        }
        assert_eq!(a, render_svg(&rev, &FIG).unwrap());
    }

    #[test]
    fn many_series_cycle_the_palette() {
        let s: Vec<Series<'_>> = (0..8)
            .map(|k| Series {
                name: "s",
                side: Side::Left,
                points: vec![(1.0, 1.0 + f64::from(k)), (4.0, 2.0)],
            })
            .collect();
        let svg = render_svg(&s, &Figure { right: None, ..FIG }).unwrap();
        assert_eq!(circles(&svg, "#1F77B4"), 4);
        assert_eq!(circles(&svg, "#8C564B"), 2);
    }

    #[test]
    fn bad_input_is_an_error() {
        let one = |side, points: Vec<(f64, f64)>| {
            vec![Series {
                name: "a",
                side,
                points,
            }]
        };
        let e = |s: Vec<Series<'_>>, f: &Figure<'_>| render_svg(&s, f).unwrap_err();
        assert_eq!(e(vec![], &FIG), CurveError::Empty("no series".into()));
        assert!(matches!(
            e(one(Side::Left, vec![]), &FIG),
            CurveError::Empty(_)
        ));
        for x in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let err = e(one(Side::Left, vec![(x, 1.0)]), &FIG);
            assert!(
                matches!(
                    err,
                    CurveError::BadX {
                        duplicate: false,
                        ..
                    }
                ),
                "{err}"
            );
        }
        let err = e(one(Side::Left, vec![(2.0, 1.0), (2.0, 3.0)]), &FIG);
        assert_eq!(err.to_string(), "series \"a\": cannot plot x = 2 twice");
        for y in [-1.0, f64::NAN, f64::INFINITY] {
            let err = e(one(Side::Left, vec![(1.0, y)]), &FIG);
            assert!(matches!(err, CurveError::BadY { .. }), "{err}");
        }
        // 0 is fine on a linear axis, not on a log one.
        assert!(render_svg(&one(Side::Left, vec![(1.0, 0.0), (2.0, 1.0)]), &FIG).is_ok());
        let err = e(one(Side::Right, vec![(1.0, 0.0), (2.0, 1.0)]), &FIG);
        assert!(matches!(err, CurveError::BadY { .. }), "{err}");
        let err = e(one(Side::Left, vec![(1.0, 0.0)]), &FIG);
        assert!(matches!(err, CurveError::OutOfRange { .. }), "{err}");
        let err = e(one(Side::Left, vec![(1.0, 1e13)]), &FIG);
        assert!(matches!(err, CurveError::OutOfRange { .. }), "{err}");
        let err = e(
            one(Side::Right, vec![(1.0, 1.0)]),
            &Figure { right: None, ..FIG },
        );
        assert_eq!(err, CurveError::NoRightAxis("a".into()));
    }

    #[test]
    fn odd_values_still_give_well_formed_svg() {
        let nasty = Figure {
            title: "\u{0}\u{1b}[31m\u{fffe} ]]> <!-- é",
            ..FIG
        };
        let s = vec![Series {
            name: "\u{7}x",
            side: Side::Right,
            points: vec![(0.25, 1e-12), (3.0, 1e12), (1e18, 5.0)],
        }];
        let svg = render_svg(&s, &nasty).unwrap();
        assert_eq!(circles(&svg, "#1F77B4"), 3);
        let t = doc_texts(&svg);
        assert!(t.iter().any(|s| s == "1/4"), "{t:?}");
    }
}
