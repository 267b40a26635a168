//! A connected rping peer: its QP, CQ and CM id, and the waits of the protocol. Every wait
//! watches the CQ and the connection's events together and is bounded by the step timeout.

use std::time::Duration;

use rdma_examples::rping::{RdmaInfo, INFO_LEN};
use rdma_verbs::async_cq::AsyncCq;
use rdma_verbs::cm::{CmEvent, ConnectedId};
use rdma_verbs::{
    Local, MemoryRegion, QueuePair, RecvWr, RemoteBuf, SendWr, WcOpcode, WorkCompletion,
};

use crate::output::{say, Doing, Failure};

/// The `wr_id` of the receive (the only one: it is reposted after each message).
const RECV_ID: u64 = 1;

/// A completion a wait ends with (send completions do not end one).
enum Got {
    /// A 16-byte message from the peer.
    Message(RdmaInfo),
    /// This side's RDMA READ or WRITE completed; its buffer is handed back.
    Transfer(Want, MemoryRegion),
}

/// What a wait is for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Want {
    /// A message from the peer (a receive).
    Message,
    /// The completion of this side's RDMA READ.
    Read,
    /// The completion of this side's RDMA WRITE.
    Write,
}

impl Want {
    fn name(self) -> &'static str {
        match self {
            Want::Message => "recv",
            Want::Read => "rdma read",
            Want::Write => "rdma write",
        }
    }
}

/// What woke a wait up.
enum Wake {
    Completion(WorkCompletion),
    Event(CmEvent),
}

/// A connected peer.
pub(crate) struct Session {
    // Drop order: the QP (and the buffers of its outstanding requests) goes first, then the
    // CQ it completes on, then the id (which tells the peer the connection is gone).
    qp: QueuePair,
    cq: AsyncCq,
    id: ConnectedId,
    step: Duration,
    debug: bool,
}

impl Session {
    /// A session over a connected QP whose receive is posted.
    pub(crate) fn new(
        qp: QueuePair,
        cq: AsyncCq,
        id: ConnectedId,
        step: Duration,
        debug: bool,
    ) -> Self {
        Session {
            qp,
            cq,
            id,
            step,
            debug,
        }
    }

    /// Posts the receive of the next message.
    pub(crate) fn post_recv(qp: &mut QueuePair, buf: MemoryRegion) -> Result<(), Failure> {
        qp.post_recv(RecvWr::recv(buf).wr_id(RECV_ID))
            .map_err(|e| e.error)
            .doing("posting a receive")
    }

    /// Sends a 16-byte message (inline: nothing to hand back).
    pub(crate) fn send(&mut self, info: &RdmaInfo) -> Result<(), Failure> {
        let bytes = info.encode();
        self.qp
            .post_send(SendWr::send(Local::Inline(&bytes)))
            .map_err(|e| e.error)
            .doing("posting a send")
    }

    /// Posts an RDMA READ of `remote` into the start of `buf`.
    pub(crate) fn read(&mut self, buf: MemoryRegion, remote: RemoteBuf) -> Result<(), Failure> {
        let len = remote.len as usize;
        self.qp
            .post_send(SendWr::read(buf, remote).range(0, len))
            .map_err(|e| e.error)
            .doing("posting an RDMA READ")
    }

    /// Posts an RDMA WRITE of the first `remote.len` bytes of `buf` to `remote`.
    pub(crate) fn write(&mut self, buf: MemoryRegion, remote: RemoteBuf) -> Result<(), Failure> {
        let len = remote.len as usize;
        self.qp
            .post_send(SendWr::write(buf, remote).range(0, len))
            .map_err(|e| e.error)
            .doing("posting an RDMA WRITE")
    }

    /// The peer's next message; `None` when it closed the connection instead.
    pub(crate) async fn message(&mut self) -> Result<Option<RdmaInfo>, Failure> {
        match self.wait(Want::Message).await? {
            None => Ok(None),
            Some(Got::Message(info)) => Ok(Some(info)),
            Some(Got::Transfer(done, _)) => Err(out_of_turn(done, Want::Message)),
        }
    }

    /// The buffer of this side's RDMA READ or WRITE (`want`) once it completed; `None` when
    /// the peer closed the connection first.
    pub(crate) async fn transfer(&mut self, want: Want) -> Result<Option<MemoryRegion>, Failure> {
        match self.wait(want).await? {
            None => Ok(None),
            Some(Got::Transfer(done, buf)) if done == want => Ok(Some(buf)),
            Some(Got::Transfer(done, _)) => Err(out_of_turn(done, want)),
            Some(Got::Message(_)) => Err(out_of_turn(Want::Message, want)),
        }
    }

    /// The next completion other than a send's, handling send completions on the way, or
    /// `None` when the peer closes the connection. Fails after the step timeout (naming
    /// `want`) or on an error completion.
    async fn wait(&mut self, want: Want) -> Result<Option<Got>, Failure> {
        match tokio::time::timeout(self.step, self.wait_unbounded()).await {
            Ok(got) => got,
            Err(_) => Err(Failure(format!(
                "no {} completion within {} s (--timeout): the peer stopped answering",
                want.name(),
                self.step.as_secs()
            ))),
        }
    }

    async fn wait_unbounded(&mut self) -> Result<Option<Got>, Failure> {
        loop {
            match self.next_wake().await? {
                Wake::Completion(wc) => {
                    if let Some(got) = self.on_completion(&wc)? {
                        return Ok(Some(got));
                    }
                }
                Wake::Event(CmEvent::Disconnected) => return Ok(None),
                Wake::Event(CmEvent::DeviceRemoval) => {
                    return Err(Failure("the RDMA device was removed".into()))
                }
                Wake::Event(other) => self.debug(format_args!("ignoring event {}", other.kind())),
            }
        }
    }

    /// The next completion or connection event. Both waits are cancel safe, so the one that
    /// loses the race loses nothing.
    async fn next_wake(&mut self) -> Result<Wake, Failure> {
        let mut wc = [WorkCompletion::default(); 1];
        loop {
            tokio::select! {
                // Completions first: data that arrived before a disconnect is still handled.
                biased;
                polled = self.cq.poll(&mut wc) => {
                    return Ok(Wake::Completion(polled.doing("polling the CQ")?[0]));
                }
                event = self.id.next_event_async(Duration::MAX) => {
                    if let Some(event) = event.doing("reading connection events")? {
                        return Ok(Wake::Event(event));
                    }
                }
            }
        }
    }

    /// Handles one completion: `Some` unless it is a send's.
    fn on_completion(&mut self, wc: &WorkCompletion) -> Result<Option<Got>, Failure> {
        let c = self.qp.complete(wc).doing("completing a work request")?;
        if let Err(e) = c.result() {
            return Err(Failure(format!("cq completion failed: {e}")));
        }
        let done = match c.opcode {
            WcOpcode::Send => {
                self.debug(format_args!("send completion"));
                return Ok(None);
            }
            WcOpcode::Recv => Want::Message,
            WcOpcode::RdmaRead => Want::Read,
            WcOpcode::RdmaWrite => Want::Write,
            other => return Err(Failure(format!("unexpected completion {other:?}"))),
        };
        self.debug(format_args!("{} completion", done.name()));
        let buf = c
            .buf
            .ok_or_else(|| Failure(format!("a {} came back without its buffer", done.name())))?;
        if done != Want::Message {
            return Ok(Some(Got::Transfer(done, buf)));
        }
        let info = decode(&buf, c.byte_len);
        Self::post_recv(&mut self.qp, buf)?;
        Ok(Some(Got::Message(info?)))
    }

    /// Ends the connection from this side: outstanding work is flushed, the peer is told,
    /// and its answer awaited (bounded by the step timeout).
    pub(crate) async fn disconnect(&mut self) -> Result<(), Failure> {
        self.qp.set_error().doing("flushing the QP")?;
        self.id
            .disconnect_async(self.step)
            .await
            .doing("disconnecting")
    }

    /// True once the peer's disconnect was seen.
    pub(crate) fn is_closed(&self) -> bool {
        self.id.is_disconnected()
    }

    /// A `-d` line.
    pub(crate) fn debug(&self, line: std::fmt::Arguments<'_>) {
        if self.debug {
            say!("{line}");
        }
    }
}

/// A completion that the protocol does not allow at this step.
fn out_of_turn(done: Want, want: Want) -> Failure {
    Failure(format!(
        "protocol error: a {} completed while this side waited for a {}",
        done.name(),
        want.name()
    ))
}

/// The message in a completed receive of `len` bytes.
fn decode(buf: &MemoryRegion, len: u32) -> Result<RdmaInfo, Failure> {
    let mut bytes = [0u8; INFO_LEN];
    let len = len as usize;
    if len != INFO_LEN || !buf.read_at(0, &mut bytes) {
        return Err(Failure(format!(
            "received bogus data, size {len} (an rping message is {INFO_LEN} bytes)"
        )));
    }
    RdmaInfo::decode(&bytes).map_err(|e| Failure(e.to_string()))
}
