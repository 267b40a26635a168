//! The benchmark clock.
//!
//! perftest reads the TSC (`get_cycles`) and converts with the CPU MHz from /proc/cpuinfo; that
//! is wrong on CPUs whose TSC rate differs from the reported MHz and under emulation. We use
//! `CLOCK_MONOTONIC` through [`std::time::Instant`] (a vDSO call, ~20 ns, no system call) and
//! keep nanoseconds since the start of the run, so reported microseconds are wall time.

use std::time::Instant;

/// Nanoseconds since a fixed start.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    start: Instant,
}

impl Clock {
    /// A clock starting now.
    pub fn new() -> Self {
        Clock {
            start: Instant::now(),
        }
    }

    /// Nanoseconds since the start.
    #[inline(always)]
    pub fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}
