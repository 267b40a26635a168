//! The server: registers the words, connects one RC QP per client, starts them all at once,
//! collects their reports and checks the words against them.

use std::time::{Duration, Instant};

use rdma_exchange::{ExchangeError, OobListener, OobStream};
use rdma_verbs::{Access, CompletionQueue, MemoryRegion, QueuePair};

use crate::args::ServerArgs;
use crate::output::{say, Doing, Failure};
use crate::setup::{open, random_psn, remote_qp, Device};
use crate::verify::{check, Words};
use crate::wire::{Report, Start, Verdict, Word, REGION_LEN, REPORT_LEN};

/// What peers may do to the words: atomics, and the READ and WRITE of the guarded word.
const PEER_ACCESS: Access = Access::from_bits(
    Access::REMOTE_ATOMIC.bits() | Access::REMOTE_READ.bits() | Access::REMOTE_WRITE.bits(),
);

/// A connected client: its TCP stream and the QP that serves it (kept until the end).
struct Client {
    stream: OobStream,
    _qp: QueuePair,
}

/// The server: waits up to `--timeout` for all clients to connect, starts them, waits up to
/// `--timeout` more for all reports, then prints its checks and sends each client the verdict.
pub(crate) fn server(args: &ServerArgs) -> Result<(), Failure> {
    let timeout = Duration::from_secs(args.common.timeout);
    let n = u64::from(args.clients);
    let dev = open(&args.common.device)?;
    // Nothing is posted on the server's QPs: the CQ only has to exist.
    let cq = CompletionQueue::new(&dev.port.ctx, 1)?;
    let words = MemoryRegion::new(
        &dev.pd,
        REGION_LEN as usize,
        Access::LOCAL_WRITE | PEER_ACCESS,
    )?;
    let listener = OobListener::bind(args.common.port)?;
    say!(
        "listening on TCP port {} for {n} clients ({})",
        listener.local_port(),
        dev.describe()
    );

    let deadline = Instant::now() + timeout;
    let mut clients = Vec::new();
    for id in 1..=n {
        let left = deadline.saturating_duration_since(Instant::now());
        let stream = listener.accept(left).map_err(|e| match e {
            ExchangeError::Timeout { .. } => Failure(format!(
                "timed out after {}s waiting for client {id} of {n} to connect ({} connected)",
                timeout.as_secs(),
                id - 1
            )),
            e => Failure(format!("waiting for client {id} of {n}: {e}")),
        })?;
        let client = connect(&dev, &cq, &words, stream, id, timeout)
            .map_err(|e| Failure(format!("client {id}: {e}")))?;
        clients.push(client);
    }

    say!("all {n} clients connected: start");
    for (id, c) in (1..).zip(clients.iter_mut()) {
        c.stream
            .send_bytes(&Start { id, clients: n }.encode())
            .map_err(|e| Failure(format!("sending client {id} the start: {e}")))?;
    }
    let reports = collect_reports(&mut clients, timeout)?;

    let read = |word: Word| {
        let mut b = [0u8; 8];
        words
            .read_at(word.offset() as usize, &mut b)
            .then(|| u64::from_ne_bytes(b))
            .ok_or_else(|| Failure(format!("cannot read the {} word", word.name())))
    };
    let final_words = Words {
        counter: read(Word::Counter)?,
        lock: read(Word::Lock)?,
        inside: read(Word::Inside)?,
        entries: read(Word::Entries)?,
        guarded: read(Word::Guarded)?,
    };
    let checks = check(&final_words, &reports);
    for c in &checks {
        say!("{}{}", if c.passed { "" } else { "FAILED " }, c.line);
    }
    let failed = checks.iter().filter(|c| !c.passed).count();
    let verdict = Verdict {
        passed: failed == 0,
        counter: final_words.counter,
    };
    let mut unsent = Vec::new();
    for (id, c) in (1u64..).zip(clients.iter_mut()) {
        if let Err(e) = c.stream.send_bytes(&verdict.encode()) {
            unsent.push(format!("client {id}: {e}"));
        }
    }
    if failed > 0 {
        return Err(Failure(format!(
            "{failed} of {} checks failed",
            checks.len()
        )));
    }
    if !unsent.is_empty() {
        return Err(Failure(format!(
            "the checks passed, but the verdict did not reach {}",
            unsent.join("; ")
        )));
    }
    say!("all {} checks passed", checks.len());
    Ok(())
}

/// The exchange with client `id`: its endpoint in, a QP connected to it (before the reply, so
/// it may start at once), our endpoint with the words' region out, its `done` in.
fn connect(
    dev: &Device,
    cq: &CompletionQueue,
    words: &MemoryRegion,
    mut stream: OobStream,
    id: u64,
    timeout: Duration,
) -> Result<Client, Failure> {
    stream.set_timeout(timeout);
    let peer = stream.recv_endpoint().doing("receiving its endpoint")?;
    let qp = dev.qp(cq, 1)?;
    let psn = random_psn();
    let mine = dev.endpoint(&qp, psn, Some(words.remote()));
    let opts = dev.options(&peer, psn, PEER_ACCESS)?;
    let qp = qp.connect(&remote_qp(&peer), &opts)?;
    stream.send_endpoint(&mine)?;
    stream.recv_done()?;
    say!(
        "client {id} connected: QP {:#x} serves its QP {:#x}",
        qp.qpn(),
        peer.qpn
    );
    Ok(Client { stream, _qp: qp })
}

/// Every client's report, in client order, all within `timeout` from now.
fn collect_reports(clients: &mut [Client], timeout: Duration) -> Result<Vec<Report>, Failure> {
    let deadline = Instant::now() + timeout;
    let mut reports = Vec::with_capacity(clients.len());
    for (id, c) in (1u64..).zip(clients.iter_mut()) {
        c.stream
            .set_timeout(deadline.saturating_duration_since(Instant::now()));
        let mut msg = [0u8; REPORT_LEN];
        c.stream.recv_exact(&mut msg).map_err(|e| match e {
            ExchangeError::PeerClosed { .. } => Failure(format!(
                "client {id} closed the connection before reporting: did it fail?"
            )),
            ExchangeError::Timeout { .. } => Failure(format!(
                "timed out after {}s waiting for the reports: client {id} has not reported \
                 (raise -t for long runs)",
                timeout.as_secs()
            )),
            e => Failure(format!("receiving client {id}'s report: {e}")),
        })?;
        let r = Report::decode(&msg).map_err(|e| Failure(format!("client {id}'s report: {e}")))?;
        say!(
            "client {id} done: {} fetch-and-adds, {} lock rounds ({} retries), {} violations",
            r.adds,
            r.locks,
            r.retries,
            r.violations
        );
        reports.push(r);
    }
    Ok(reports)
}
