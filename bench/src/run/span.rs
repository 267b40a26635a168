//! How long a measured run lasts: a number of iterations, or a duration with perftest's
//! warm-up and cool-down margins (`-D`).

use std::time::Duration;

/// The length of a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Span {
    /// This many messages per QP.
    Iters(u64),
    /// Run for `total`; only the messages completed between `margin` after the start and
    /// `margin` before the end are counted (perftest `-D` with `--margin`).
    Duration {
        /// The whole run.
        total: Duration,
        /// Not measured at each end.
        margin: Duration,
    },
}

/// perftest's phases of a duration run (`catch_alarm`'s states).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Warming up: nothing is counted.
    Start,
    /// Counting.
    Sample,
    /// Cooling down: the sample is closed.
    StopSample,
    /// Over.
    End,
}

/// Phase tracking of a duration run against the [`Clock`](super::Clock), in nanoseconds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Phases {
    sample_at: u64,
    stop_at: u64,
    end_at: u64,
    /// The current phase.
    pub(crate) phase: Phase,
    /// When the sample started.
    pub(crate) sample_start: u64,
    /// When the sample stopped.
    pub(crate) sample_end: u64,
}

impl Phases {
    /// The phases of a run of `total` with `margin` at each end, starting at `now`.
    pub(crate) fn new(now: u64, total: Duration, margin: Duration) -> Phases {
        let total = total.as_nanos() as u64;
        let margin = (margin.as_nanos() as u64).min(total / 2);
        Phases {
            sample_at: now + margin,
            stop_at: now + total - margin,
            end_at: now + total,
            phase: Phase::Start,
            sample_start: now,
            sample_end: now,
        }
    }

    /// Moves to the phase of time `now` and returns it.
    #[inline]
    pub(crate) fn update(&mut self, now: u64) -> Phase {
        if self.phase == Phase::Start && now >= self.sample_at {
            self.phase = Phase::Sample;
            self.sample_start = now;
        }
        if self.phase == Phase::Sample && now >= self.stop_at {
            self.phase = Phase::StopSample;
            self.sample_end = now;
        }
        if self.phase == Phase::StopSample && now >= self.end_at {
            self.phase = Phase::End;
        }
        self.phase
    }
}

/// What a latency loop measured: the post time of every message (iterations; perftest's
/// `tposted`), or, for a duration run, the messages counted in the sample and its length.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LatRun {
    /// Post times in [`Clock`](super::Clock) nanoseconds (empty for a duration run).
    pub posted: Vec<u64>,
    /// Round trips counted (all of them, or those completed within the sample).
    pub iters: u64,
    /// Length of the sample in nanoseconds (duration runs; 0 otherwise).
    pub sample_ns: u64,
}

/// The bookkeeping a latency loop shares between its two modes.
#[derive(Debug)]
pub(crate) struct LatSpan {
    iters: u64,
    phases: Option<Phases>,
    run: LatRun,
}

impl LatSpan {
    /// Starts the run at `now` (nanoseconds of the loop's clock).
    pub(crate) fn new(span: Span, now: u64) -> LatSpan {
        match span {
            Span::Iters(n) => LatSpan {
                iters: n,
                phases: None,
                run: LatRun {
                    posted: vec![0; n as usize],
                    iters: n,
                    sample_ns: 0,
                },
            },
            Span::Duration { total, margin } => LatSpan {
                iters: u64::MAX,
                phases: Some(Phases::new(now, total, margin)),
                run: LatRun::default(),
            },
        }
    }

    /// The iteration bound (`u64::MAX` for a duration run).
    #[inline(always)]
    pub(crate) fn iters(&self) -> u64 {
        self.iters
    }

    /// Whether a duration run is over (always false when counting iterations).
    #[inline(always)]
    pub(crate) fn over(&self) -> bool {
        self.phases.is_some_and(|p| p.phase == Phase::End)
    }

    /// Records the post of message `i` at `now`.
    #[inline(always)]
    pub(crate) fn posted(&mut self, i: u64, now: impl FnOnce() -> u64) {
        if self.phases.is_none() {
            self.run.posted[i as usize] = now();
        }
    }

    /// One round trip done at `now`: counted when inside the sample.
    #[inline(always)]
    pub(crate) fn done(&mut self, now: impl FnOnce() -> u64) {
        if let Some(p) = self.phases.as_mut() {
            if p.update(now()) == Phase::Sample {
                self.run.iters += 1;
            }
        }
    }

    /// At an idle checkpoint: moves the phase on; true once a duration run is over.
    #[inline]
    pub(crate) fn check(&mut self, now: u64) -> bool {
        self.phases
            .as_mut()
            .is_some_and(|p| p.update(now) == Phase::End)
    }

    /// The result.
    pub(crate) fn finish(mut self) -> LatRun {
        if let Some(p) = self.phases {
            self.run.sample_ns = p.sample_end.saturating_sub(p.sample_start);
        }
        self.run
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_follow_the_clock() {
        let s = Duration::from_secs(1);
        let mut p = Phases::new(100, 5 * s, s);
        assert_eq!(p.update(100), Phase::Start);
        assert_eq!(p.update(1_000_000_100), Phase::Sample);
        assert_eq!(p.sample_start, 1_000_000_100);
        assert_eq!(p.update(4_000_000_099), Phase::Sample);
        assert_eq!(p.update(4_000_000_200), Phase::StopSample);
        assert_eq!(p.sample_end, 4_000_000_200);
        assert_eq!(p.update(5_000_000_100), Phase::End);
    }

    #[test]
    fn a_late_look_passes_through_every_phase() {
        let s = Duration::from_secs(1);
        let mut p = Phases::new(0, 3 * s, s);
        assert_eq!(p.update(10_000_000_000), Phase::End);
        assert_eq!(
            p.sample_start, p.sample_end,
            "an empty sample, not a negative one"
        );
    }

    #[test]
    fn a_margin_longer_than_half_the_run_is_clamped() {
        let mut p = Phases::new(0, Duration::from_secs(2), Duration::from_secs(5));
        assert_eq!(p.update(999_999_999), Phase::Start);
        assert_eq!(p.update(1_000_000_000), Phase::StopSample);
    }
}
