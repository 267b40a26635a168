//! The loopback self-test: two RC QPs on the device, connected to each other through it, move
//! data with SEND, SEND with immediate, RDMA WRITE and RDMA READ (a distinct pattern each,
//! compared byte for byte), then measure send/recv round trips. Every wait polls against the
//! validation's deadline; every verbs resource is released on every path (the `rdma` types
//! do that when dropped: QPs are destroyed before the buffers they held are freed).

mod failure;
mod poll;
mod rig;

use super::checks::Address;
use super::report::{bytes_text, Check, Operation, SelfTest};
use failure::Failure;
use rdma_verbs::{Context, Mtu};
use rig::Rig;
use std::time::{Duration, Instant};

/// Size of each verified message: larger than any MTU, so every operation is multi-packet.
pub(crate) const MESSAGE: usize = 64 * 1024;
// Messages span several packets at any MTU (the largest is 4096).
const _: () = assert!(MESSAGE > 4096);
/// Size of a latency ping.
pub(crate) const PING: usize = 64;
/// Size of each latency buffer (one page).
const SMALL: usize = 4096;
/// Bytes the self-test registers: three message buffers and four latency buffers.
pub(crate) const REGISTERED: usize = 3 * MESSAGE + 4 * SMALL;
/// Round trips of the latency run (fewer when its share of the budget runs out).
pub(crate) const ROUND_TRIPS: usize = 1000;
/// The longest the latency run may take.
const LATENCY_CAP: Duration = Duration::from_secs(2);
/// The immediate value of the SEND with immediate.
const IMM: u32 = 0x5e1f_7e57;

/// The checks the self-test reports, in order.
pub(crate) const NAMES: [&str; 6] = [
    "loopback",
    "send",
    "send_imm",
    "rdma_write",
    "rdma_read",
    "latency",
];

/// How the QPs are set up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// The port.
    pub port: u8,
    /// The path MTU (the port's active MTU).
    pub mtu: Mtu,
    /// GID index, GID and LID of the port.
    pub address: Address,
    /// The pkey index the QPs use.
    pub pkey_index: u16,
}

/// Runs the self-test on `ctx`: one check per entry of [`NAMES`] (those after a failure are
/// skipped) and the numbers measured.
pub(crate) fn run(
    ctx: &Context,
    plan: &Plan,
    started: Instant,
    deadline: Instant,
) -> (Vec<Check>, SelfTest) {
    let mut stats = SelfTest {
        mtu: plan.mtu.bytes(),
        gid_index: plan.address.gid_index,
        pkey_index: plan.pkey_index,
        registered_bytes: REGISTERED,
        operations: Vec::new(),
        latency: None,
    };
    let mut checks = Vec::with_capacity(NAMES.len());
    let mut rig = match Rig::new(ctx, plan, started, deadline) {
        Ok(rig) => rig,
        Err(f) => {
            checks.push(f.into_check(NAMES[0]));
            skip_rest(&mut checks, "the loopback QPs could not be set up");
            return (checks, stats);
        }
    };
    checks.push(Check::pass(
        NAMES[0],
        format!(
            "RC QPs {:#x} and {:#x} connected to each other on port {} (MTU {}, {}, pkey index \
             {}); {} registered",
            rig.a.qpn(),
            rig.b.qpn(),
            plan.port,
            plan.mtu.bytes(),
            match plan.address.gid_index {
                Some(i) => format!("GID index {i}"),
                None => format!("LID {:#06x}", plan.address.lid),
            },
            plan.pkey_index,
            bytes_text(REGISTERED as u64)
        ),
    ));
    type Stage = fn(&mut Rig) -> Result<Operation, Failure>;
    let stages: [(&'static str, Stage); 4] = [
        (NAMES[1], |r| r.send(1, None)),
        (NAMES[2], |r| r.send(2, Some(IMM))),
        (NAMES[3], Rig::write),
        (NAMES[4], Rig::read),
    ];
    for (name, stage) in stages {
        match stage(&mut rig) {
            Ok(op) => {
                checks.push(Check::pass(
                    name,
                    format!(
                        "{} bytes verified in {:.1} µs{}",
                        op.bytes_verified,
                        op.micros,
                        if name == "send_imm" {
                            format!(" (immediate {IMM:#010x} delivered)")
                        } else {
                            String::new()
                        }
                    ),
                ));
                stats.operations.push(op);
            }
            Err(f) => {
                checks.push(f.into_check(name));
                skip_rest(&mut checks, &format!("{name} failed"));
                return (checks, stats);
            }
        }
    }
    match rig.latency() {
        Ok(lat) => {
            checks.push(Check::pass(
                NAMES[5],
                format!(
                    "{} {}s of {} bytes: median {:.1} µs, min {:.1}, p99 {:.1}, max {:.1}",
                    lat.samples,
                    lat.operation,
                    lat.message_bytes,
                    lat.median_us,
                    lat.min_us,
                    lat.p99_us,
                    lat.max_us
                ),
            ));
            stats.latency = Some(lat);
        }
        Err(f) => checks.push(f.into_check(NAMES[5])),
    }
    (checks, stats)
}

/// Marks every self-test check not yet in `checks` as skipped.
fn skip_rest(checks: &mut Vec<Check>, reason: &str) {
    for name in NAMES.get(checks.len()..).unwrap_or_default() {
        checks.push(Check::skipped(name, format!("skipped: {reason}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_bytes_cover_every_buffer() {
        assert_eq!(REGISTERED, 208 * 1024);
    }
}
