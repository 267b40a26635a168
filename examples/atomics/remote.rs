//! The client's operations on the server's words: one work request at a time, each waited
//! for with a timeout, the 8-byte local buffer moving into the QP and back.

use std::thread;
use std::time::{Duration, Instant};

use rdma_verbs::{
    CompletionQueue, MemoryRegion, QueuePair, RemoteBuf, SendWr, WcStatus, WorkCompletion,
};

use crate::output::{Doing, Failure};
use crate::wire::Word;

/// How long a completion wait spins (yielding the CPU) before it sleeps between polls.
const SPIN: Duration = Duration::from_micros(50);
/// The sleep between polls after [`SPIN`].
const NAP: Duration = Duration::from_micros(50);

/// The server's words, reached through a connected RC QP.
pub(crate) struct Remote {
    qp: QueuePair,
    cq: CompletionQueue,
    /// The 8-byte local buffer: the result of an atomic or READ, the source of a WRITE.
    /// `None` only while a request holds it.
    buf: Option<MemoryRegion>,
    words: RemoteBuf,
    timeout: Duration,
}

impl Remote {
    /// Operations on `words` (at least [`REGION_LEN`](crate::wire::REGION_LEN) bytes) through
    /// `qp`, whose send completions arrive on `cq`; `buf` is 8 bytes, locally writable.
    pub(crate) fn new(
        qp: QueuePair,
        cq: CompletionQueue,
        buf: MemoryRegion,
        words: RemoteBuf,
        timeout: Duration,
    ) -> Remote {
        Remote {
            qp,
            cq,
            buf: Some(buf),
            words,
            timeout,
        }
    }

    /// Atomically adds `add` (wrapping) to `word`; returns the value before.
    pub(crate) fn fetch_add(&mut self, word: Word, add: u64) -> Result<u64, Failure> {
        let (buf, at) = self.take(word)?;
        self.run(SendWr::fetch_add(buf, at, add), "fetch-and-add", word)
    }

    /// Atomically sets `word` to `swap` if it equals `compare`; returns the value before.
    pub(crate) fn compare_swap(
        &mut self,
        word: Word,
        compare: u64,
        swap: u64,
    ) -> Result<u64, Failure> {
        let (buf, at) = self.take(word)?;
        self.run(
            SendWr::compare_swap(buf, at, compare, swap),
            "compare-and-swap",
            word,
        )
    }

    /// Reads `word` with an RDMA READ.
    pub(crate) fn read(&mut self, word: Word) -> Result<u64, Failure> {
        let (buf, at) = self.take(word)?;
        self.run(SendWr::read(buf, at), "RDMA READ", word)
    }

    /// Writes `value` to `word` with an RDMA WRITE.
    pub(crate) fn write(&mut self, word: Word, value: u64) -> Result<(), Failure> {
        let (mut buf, at) = self.take(word)?;
        if !buf.write_at(0, &value.to_ne_bytes()) {
            return Err(Failure("the local 8-byte buffer is not writable".into()));
        }
        self.run(SendWr::write(buf, at), "RDMA WRITE", word)
            .map(drop)
    }

    /// The local buffer and the remote range of `word`.
    fn take(&mut self, word: Word) -> Result<(MemoryRegion, RemoteBuf), Failure> {
        let at = self.words.slice(word.offset(), 8).ok_or_else(|| {
            Failure(format!(
                "the {} word (offset {}) is outside the server's {}-byte region",
                word.name(),
                word.offset(),
                self.words.len
            ))
        })?;
        let buf = self.buf.take().ok_or_else(|| {
            Failure("the local buffer was lost with an earlier failed request".into())
        })?;
        Ok((buf, at))
    }

    /// Posts `wr`, waits for its completion and keeps the buffer it hands back; returns the
    /// buffer's 8 bytes (the value before, for an atomic or a READ).
    fn run(&mut self, wr: SendWr<'_>, op: &str, word: Word) -> Result<u64, Failure> {
        let what = format!("the {op} on the server's {} word", word.name());
        if let Err(e) = self.qp.post_send(wr) {
            self.buf = e.returned.into_iter().next();
            return Err(Failure(format!("posting {what}: {}", e.error)));
        }
        let mut done = self.wait(&what)?;
        let buf = done
            .buf
            .take()
            .ok_or_else(|| Failure(format!("{what} gave no buffer back")))?;
        let mut bytes = [0u8; 8];
        let read = buf.read_at(0, &mut bytes);
        self.buf = Some(buf);
        if let Err(e) = done.result() {
            return Err(Failure(format!(
                "{what} did not complete: {e}{}",
                hint(e.status)
            )));
        }
        if !read {
            return Err(Failure("the local 8-byte buffer is not readable".into()));
        }
        Ok(u64::from_ne_bytes(bytes))
    }

    /// Polls until the one outstanding request completes or the timeout passes.
    fn wait(&mut self, what: &str) -> Result<rdma_verbs::Completion, Failure> {
        let mut wcs = [WorkCompletion::default(); 1];
        let start = Instant::now();
        loop {
            if let Some(wc) = self.cq.poll(&mut wcs).doing("polling the CQ")?.first() {
                return self.qp.complete(wc).doing("taking the completion");
            }
            let waited = start.elapsed();
            if waited >= self.timeout {
                return Err(Failure(format!(
                    "timed out after {}s waiting for {what}",
                    self.timeout.as_secs()
                )));
            }
            if waited < SPIN {
                thread::yield_now();
            } else {
                thread::sleep(NAP);
            }
        }
    }
}

/// Advice for the completion errors a user of this tool is likely to meet.
fn hint(status: WcStatus) -> &'static str {
    match status {
        WcStatus::RetryExceeded => " (the server does not answer: did it exit?)",
        WcStatus::RemoteAccess => {
            " (the server refused the access: a wrong rkey or range, or the server exited)"
        }
        WcStatus::RemoteInvalidRequest => {
            " (the server's QP does not allow atomics or READs: is it an atomics server?)"
        }
        _ => "",
    }
}
