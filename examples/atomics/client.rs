//! The client: K fetch-and-adds on the server's counter and M rounds of its lock spread among
//! them, then a report.

use std::thread;
use std::time::{Duration, Instant};

use rdma_exchange::{ExchangeError, OobStream};
use rdma_verbs::{Access, CompletionQueue, MemoryRegion};

use crate::args::ClientArgs;
use crate::output::{say, Doing, Failure};
use crate::remote::Remote;
use crate::setup::{open, random_psn, remote_qp};
use crate::wire::{Report, Start, Verdict, Word, REGION_LEN, START_LEN, VERDICT_LEN};

/// The first wait after finding the lock held; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_micros(10);
/// The longest wait between two tries of the lock.
const MAX_BACKOFF: Duration = Duration::from_millis(1);
/// Violations printed one by one; later ones are only counted.
const SHOWN_VIOLATIONS: u64 = 5;

/// The client: connects to the server, waits for its start, runs the adds with the lock
/// rounds spread among them, reports, and checks the server's verdict.
pub(crate) fn client(args: &ClientArgs) -> Result<(), Failure> {
    let timeout = Duration::from_secs(args.common.timeout);
    let dev = open(&args.common.device)?;
    let cq = CompletionQueue::new(&dev.port.ctx, 4)?;
    let qp = dev.qp(&cq, 2)?;
    let buf = MemoryRegion::new(&dev.pd, 8, Access::LOCAL_WRITE)?;
    let psn = random_psn();

    let mut stream = OobStream::connect(&args.host, args.common.port, timeout)?;
    let mine = dev.endpoint(&qp, psn, None);
    stream.send_endpoint(&mine)?;
    let peer = stream
        .recv_endpoint()
        .doing("receiving the server's endpoint")?;
    stream.send_done()?;
    let words = match peer.remote_buffer {
        Some(w) if w.len >= REGION_LEN => w,
        Some(w) => {
            return Err(Failure(format!(
                "the server's region is {} bytes, smaller than the {REGION_LEN} the words take \
                 (is it an atomics server?)",
                w.len
            )))
        }
        None => {
            return Err(Failure(
                "the server offered no region (is it an atomics server?)".into(),
            ))
        }
    };
    let opts = dev.options(&peer, psn, Access::NONE)?;
    let qp = qp.connect(&remote_qp(&peer), &opts)?;

    let mut msg = [0u8; START_LEN];
    stream
        .recv_exact(&mut msg)
        .map_err(|e| waiting("the start (sent once all clients have connected)", e))?;
    let start = Start::decode(&msg).doing("the server's start")?;
    let id = start.id;
    say!(
        "client {id} of {}: QP {:#x} connected to the server's QP {:#x} ({})",
        start.clients,
        qp.qpn(),
        peer.qpn,
        dev.describe()
    );

    let mut remote = Remote::new(qp, cq, buf, words, timeout);
    let mut report = Report::default();
    let mut violations = Violations { id, seen: 0 };
    let mut jitter = Jitter::new(id);
    // The lock rounds are spread evenly over the adds, so that every client contends for the
    // lock for as long as it runs: round r follows add (r + 1) * K / (M + 1).
    let (k, m) = (u64::from(args.adds), u64::from(args.locks));
    for round in 0..m {
        add_until(&mut remote, &mut report, (round + 1) * k / (m + 1))?;
        report.retries += acquire(&mut remote, start, &mut jitter, timeout)?;
        critical_section(&mut remote, &mut violations)?;
        let held = remote.compare_swap(Word::Lock, id, 0)?;
        if held != id {
            violations.saw(format!(
                "releasing the lock, it held {held}, not this client's id {id}"
            ));
        }
        report.locks += 1;
    }
    add_until(&mut remote, &mut report, k)?;
    report.violations = violations.seen;
    let range = if report.adds == 0 {
        String::new()
    } else {
        format!(" (values {} to {}, increasing)", report.first, report.last)
    };
    say!(
        "client {id}: {} fetch-and-adds{range}, {} lock rounds ({} retries), {} violations",
        report.adds,
        report.locks,
        report.retries,
        report.violations
    );

    stream
        .send_bytes(&report.encode())
        .doing("sending the report")?;
    let mut msg = [0u8; VERDICT_LEN];
    stream
        .recv_exact(&mut msg)
        .map_err(|e| waiting("the verdict (sent once every client has reported)", e))?;
    let verdict = Verdict::decode(&msg).doing("the server's verdict")?;
    if report.adds > 0 && report.last >= verdict.counter {
        return Err(Failure(format!(
            "the counter ended at {}, but this client fetched {}: not below the final total",
            verdict.counter, report.last
        )));
    }
    if !verdict.passed {
        return Err(Failure(
            "the server's checks failed (its output says which)".into(),
        ));
    }
    say!(
        "client {id}: the server's checks passed; the counter ended at {}, above every value \
         this client fetched",
        verdict.counter
    );
    Ok(())
}

/// A failed wait for the server's `what`, in words.
fn waiting(what: &str, e: ExchangeError) -> Failure {
    match e {
        ExchangeError::PeerClosed { .. } => Failure(format!(
            "the server closed the connection before {what}: did it fail or give up?"
        )),
        ExchangeError::Timeout { timeout, .. } => Failure(format!(
            "timed out after {}s waiting for {what} (raise -t for long runs)",
            timeout.as_secs()
        )),
        e => Failure(format!("waiting for {what}: {e}")),
    }
}

/// Fetch-and-adds of 1 on the counter until `report` counts `adds` of them: each value must be
/// larger than the one before (the counter only grows).
fn add_until(remote: &mut Remote, report: &mut Report, adds: u64) -> Result<(), Failure> {
    while report.adds < adds {
        let value = remote.fetch_add(Word::Counter, 1)?;
        if report.adds > 0 && value <= report.last {
            return Err(Failure(format!(
                "the counter went backwards: fetch-and-add {} returned {value} after {}",
                report.adds + 1,
                report.last
            )));
        }
        if report.adds == 0 {
            report.first = value;
        }
        report.last = value;
        report.sum = report.sum.wrapping_add(u128::from(value));
        report.adds += 1;
    }
    Ok(())
}

/// Takes the lock: compare-and-swap 0 to this client's id until it returns 0, with a growing,
/// jittered wait between tries; gives up after `timeout`. Returns the number of retries.
fn acquire(
    remote: &mut Remote,
    start: Start,
    jitter: &mut Jitter,
    timeout: Duration,
) -> Result<u64, Failure> {
    let deadline = Instant::now() + timeout;
    let mut backoff = MIN_BACKOFF;
    let mut retries = 0;
    loop {
        let held = remote.compare_swap(Word::Lock, 0, start.id)?;
        if held == 0 {
            return Ok(retries);
        }
        if held == start.id {
            return Err(Failure(format!(
                "the lock word holds this client's id {held}, but it does not hold the lock"
            )));
        }
        if held > start.clients {
            return Err(Failure(format!(
                "the lock word holds {held}, no client's id (1 to {})",
                start.clients
            )));
        }
        if Instant::now() >= deadline {
            return Err(Failure(format!(
                "could not take the lock within {}s: client {held} holds it",
                timeout.as_secs()
            )));
        }
        retries += 1;
        thread::sleep(backoff / 2 + jitter.below(backoff));
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// The work under the lock: enter (the inside word must have been 0), count the entry
/// atomically and by a READ then a WRITE, leave (the inside word must have been 1).
fn critical_section(remote: &mut Remote, violations: &mut Violations) -> Result<(), Failure> {
    let before = remote.fetch_add(Word::Inside, 1)?;
    if before != 0 {
        violations.saw(format!(
            "entering the critical section, the inside word was {before}, not 0"
        ));
    }
    remote.fetch_add(Word::Entries, 1)?;
    let guarded = remote.read(Word::Guarded)?;
    remote.write(Word::Guarded, guarded.wrapping_add(1))?;
    // Adding 2^64 - 1 wraps around to subtracting 1.
    let before = remote.fetch_add(Word::Inside, u64::MAX)?;
    if before != 1 {
        violations.saw(format!(
            "leaving the critical section, the inside word was {before}, not 1"
        ));
    }
    Ok(())
}

/// The violations a client saw: counted, the first few printed.
struct Violations {
    id: u64,
    seen: u64,
}

impl Violations {
    fn saw(&mut self, what: String) {
        self.seen += 1;
        if self.seen <= SHOWN_VIOLATIONS {
            say!("client {}: violation: {what}", self.id);
        }
    }
}

/// A small xorshift generator for the backoff's jitter, seeded differently per client.
struct Jitter(u64);

impl Jitter {
    fn new(id: u64) -> Jitter {
        Jitter(id.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// A duration in `0..limit`.
    fn below(&mut self, limit: Duration) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let nanos = limit.as_nanos().max(1) as u64;
        Duration::from_nanos(self.0 % nanos)
    }
}
