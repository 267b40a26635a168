//! The self-test's two connected QPs, their buffers, and the stages run on them.

use super::failure::{lost, pattern, resource_failure, verify, Failure, TIMEOUT_FIX};
use super::poll::{poll_one, Budget};
use super::{Plan, LATENCY_CAP, MESSAGE, PING, ROUND_TRIPS, SMALL};
use crate::validate::report::{micros, Cause, Latency, Operation};
use rdma_verbs::{
    Access, Completion, CompletionQueue, ConnectOptions, Context, MemoryRegion, ProtectionDomain,
    QpCaps, QueuePair, RecvWr, RemoteQp, SendWr, WcOpcode,
};
use std::time::Instant;

/// The two connected QPs and their buffers. A's buffers are local; B's `remote` region is the
/// target of the write and the source of the read.
pub(super) struct Rig {
    dev: String,
    budget: Budget,
    cq_a: CompletionQueue,
    cq_b: CompletionQueue,
    pub(super) a: QueuePair,
    pub(super) b: QueuePair,
    /// A's message buffer: source of the sends and the write, target of the read.
    a_buf: Option<MemoryRegion>,
    /// B's receive buffer for the sends.
    b_rx: Option<MemoryRegion>,
    /// B's remotely writable and readable region.
    remote: MemoryRegion,
    /// Latency buffers: A's ping, A's receive, B's pong, B's receive.
    lat: [Option<MemoryRegion>; 4],
}

impl Rig {
    pub(super) fn new(
        ctx: &Context,
        plan: &Plan,
        started: Instant,
        deadline: Instant,
    ) -> Result<Rig, Failure> {
        let dev = ctx.name().to_owned();
        let res = |doing: &'static str| {
            let dev = dev.clone();
            move |e: rdma_verbs::Error| resource_failure(e, doing, &dev)
        };
        let pd = ProtectionDomain::new(ctx).map_err(res("allocating a protection domain"))?;
        let cq_a = CompletionQueue::new(ctx, 64).map_err(res("creating a completion queue"))?;
        let cq_b = CompletionQueue::new(ctx, 64).map_err(res("creating a completion queue"))?;
        let caps = QpCaps {
            max_send_wr: 16,
            max_recv_wr: 16,
            max_send_sge: 1,
            max_recv_sge: 1,
            max_inline_data: 0,
        };
        let a = QueuePair::builder(&pd, &cq_a, &cq_a)
            .caps(caps)
            .build()
            .map_err(res("creating an RC queue pair"))?;
        let b = QueuePair::builder(&pd, &cq_b, &cq_b)
            .caps(caps)
            .build()
            .map_err(res("creating an RC queue pair"))?;
        let reg = |len: usize, access: Access, what: &'static str| {
            MemoryRegion::new(&pd, len, access).map_err(res(what))
        };
        let local = Access::LOCAL_WRITE;
        let remote_access = Access::LOCAL_WRITE | Access::REMOTE_WRITE | Access::REMOTE_READ;
        let a_buf = reg(MESSAGE, local, "registering the send buffer")?;
        let b_rx = reg(MESSAGE, local, "registering the receive buffer")?;
        let remote = reg(MESSAGE, remote_access, "registering the RDMA target")?;
        let mut lat = [None, None, None, None];
        for slot in &mut lat {
            *slot = Some(reg(SMALL, local, "registering a latency buffer")?);
        }
        let opts = |psn: u32| ConnectOptions {
            port: plan.port,
            gid_index: plan.address.gid_index,
            mtu: plan.mtu,
            psn,
            access: remote_access,
            pkey_index: plan.pkey_index,
            ..ConnectOptions::default()
        };
        let (oa, ob) = (opts(0x1a1a), opts(0x2b2b));
        let addr = |qp: &QueuePair, o: &ConnectOptions| RemoteQp {
            qpn: qp.qpn(),
            psn: o.psn,
            lid: plan.address.lid,
            gid: plan.address.gid,
        };
        let (ra, rb) = (addr(&a, &oa), addr(&b, &ob));
        let connect_fix = "the device refused to connect two of its own QPs: check the port's \
                           GID/LID and pkey, and the driver (dmesg)";
        let a = a.connect(&rb, &oa).map_err(|e| {
            Failure::new(
                Cause::Connect,
                format!("connecting the loopback QPs on {dev} failed: {e}"),
                connect_fix,
            )
        })?;
        let b = b.connect(&ra, &ob).map_err(|e| {
            Failure::new(
                Cause::Connect,
                format!("connecting the loopback QPs on {dev} failed: {e}"),
                connect_fix,
            )
        })?;
        Ok(Rig {
            dev,
            budget: Budget { started, deadline },
            cq_a,
            cq_b,
            a,
            b,
            a_buf: Some(a_buf),
            b_rx: Some(b_rx),
            remote,
            lat,
        })
    }

    /// SEND (with immediate when `imm` is given) of pattern `seed` from A into B's receive.
    pub(super) fn send(&mut self, seed: u8, imm: Option<u32>) -> Result<Operation, Failure> {
        let name = if imm.is_some() { "send_imm" } else { "send" };
        let stage = if imm.is_some() {
            "SEND with immediate"
        } else {
            "SEND"
        };
        self.budget.start(stage)?;
        let want = pattern(MESSAGE, seed);
        let rx = take(&mut self.b_rx, stage)?;
        self.b
            .post_recv(RecvWr::recv(rx).wr_id(u64::from(seed)))
            .map_err(|e| self.post_failed(stage, e.error))?;
        let mut tx = take(&mut self.a_buf, stage)?;
        fill(&mut tx, &want, stage)?;
        let t0 = Instant::now();
        let wr = SendWr::send(tx).wr_id(u64::from(seed));
        let wr = match imm {
            Some(v) => wr.imm(v),
            None => wr,
        };
        self.a
            .post_send(wr)
            .map_err(|e| self.post_failed(stage, e.error))?;
        let got = self.wait_b(stage, "the receive's completion")?;
        let elapsed = t0.elapsed();
        let sent = self.wait_a(stage, "the send's completion")?;
        self.a_buf = Some(returned(sent, stage)?);
        if got.imm_data != imm {
            return Err(Failure::new(
                Cause::DataMismatch,
                format!(
                    "{stage}: the receive carried immediate {:?}, expected {imm:?}",
                    got.imm_data
                ),
                "the device delivered wrong data: check its firmware and driver (dmesg)",
            ));
        }
        let len = got.byte_len as usize;
        let rx = returned(got, stage)?;
        let data = rx.as_slice().unwrap_or_default();
        verify(stage, &data[..len.min(data.len())], &want)?;
        self.b_rx = Some(rx);
        Ok(Operation {
            name,
            bytes_verified: MESSAGE,
            micros: micros(elapsed),
        })
    }

    /// RDMA WRITE of pattern 3 from A into B's remote region.
    pub(super) fn write(&mut self) -> Result<Operation, Failure> {
        let stage = "RDMA WRITE";
        self.budget.start(stage)?;
        let want = pattern(MESSAGE, 3);
        let mut src = take(&mut self.a_buf, stage)?;
        fill(&mut src, &want, stage)?;
        let t0 = Instant::now();
        self.a
            .post_send(SendWr::write(src, self.remote.remote()).wr_id(3))
            .map_err(|e| self.post_failed(stage, e.error))?;
        let done = self.wait_a(stage, "the write's completion")?;
        let elapsed = t0.elapsed();
        self.a_buf = Some(returned(done, stage)?);
        let mut landed = vec![0u8; MESSAGE];
        if !self.remote.read_at(0, &mut landed) {
            return Err(Failure::new(
                Cause::Resources,
                format!("{stage}: the target region cannot be read back"),
                "internal error of the self-test: report it",
            ));
        }
        verify(stage, &landed, &want)?;
        Ok(Operation {
            name: "rdma_write",
            bytes_verified: MESSAGE,
            micros: micros(elapsed),
        })
    }

    /// RDMA READ of B's remote region (pattern 4) into A's buffer.
    pub(super) fn read(&mut self) -> Result<Operation, Failure> {
        let stage = "RDMA READ";
        self.budget.start(stage)?;
        let want = pattern(MESSAGE, 4);
        if !self.remote.write_at(0, &want) {
            return Err(Failure::new(
                Cause::Resources,
                format!("{stage}: the source region cannot be written"),
                "internal error of the self-test: report it",
            ));
        }
        let dst = take(&mut self.a_buf, stage)?;
        let t0 = Instant::now();
        self.a
            .post_send(SendWr::read(dst, self.remote.remote()).wr_id(4))
            .map_err(|e| self.post_failed(stage, e.error))?;
        let done = self.wait_a(stage, "the read's completion")?;
        let elapsed = t0.elapsed();
        let dst = returned(done, stage)?;
        verify(stage, dst.as_slice().unwrap_or_default(), &want)?;
        self.a_buf = Some(dst);
        Ok(Operation {
            name: "rdma_read",
            bytes_verified: MESSAGE,
            micros: micros(elapsed),
        })
    }

    /// Ping-pong of [`PING`]-byte SENDs, A → B → A: up to [`ROUND_TRIPS`] samples, stopping
    /// early (with at least one) when half the remaining budget or [`LATENCY_CAP`] is used.
    pub(super) fn latency(&mut self) -> Result<Latency, Failure> {
        let stage = "latency ping-pong";
        self.budget.start(stage)?;
        let now = Instant::now();
        let share = (self.budget.deadline.saturating_duration_since(now) / 2).min(LATENCY_CAP);
        let soft = now + share;
        let [a_tx, a_rx, b_tx, b_rx] = &mut self.lat;
        let rx = take(a_rx, stage)?;
        self.a
            .post_recv(RecvWr::recv(rx))
            .map_err(|e| post_failed(&self.dev, stage, e.error))?;
        let rx = take(b_rx, stage)?;
        self.b
            .post_recv(RecvWr::recv(rx))
            .map_err(|e| post_failed(&self.dev, stage, e.error))?;
        let mut samples = Vec::with_capacity(ROUND_TRIPS);
        for i in 0..ROUND_TRIPS as u32 {
            if i > 0 && Instant::now() >= soft {
                break;
            }
            let mut ping = take(a_tx, stage)?;
            fill(&mut ping, &i.to_le_bytes(), stage)?;
            let t0 = Instant::now();
            self.a
                .post_send(SendWr::send(ping).range(0, PING))
                .map_err(|e| post_failed(&self.dev, stage, e.error))?;
            // B receives the ping, re-arms its receive and answers.
            let got = poll_one(&self.cq_b, &mut self.b, self.budget, stage, "the ping")?;
            let got = pong_payload(got, i, stage)?;
            self.b
                .post_recv(RecvWr::recv(got))
                .map_err(|e| post_failed(&self.dev, stage, e.error))?;
            let mut pong = take(b_tx, stage)?;
            fill(&mut pong, &i.to_le_bytes(), stage)?;
            self.b
                .post_send(SendWr::send(pong).range(0, PING))
                .map_err(|e| post_failed(&self.dev, stage, e.error))?;
            // A sees its send complete and the pong arrive, in either order.
            let mut rtt = None;
            for _ in 0..2 {
                let c = poll_one(&self.cq_a, &mut self.a, self.budget, stage, "the pong")?;
                if c.opcode == WcOpcode::Recv {
                    rtt = Some(t0.elapsed());
                    let buf = pong_payload(c, i, stage)?;
                    self.a
                        .post_recv(RecvWr::recv(buf))
                        .map_err(|e| post_failed(&self.dev, stage, e.error))?;
                } else {
                    *a_tx = Some(returned(c, stage)?);
                }
            }
            let c = poll_one(
                &self.cq_b,
                &mut self.b,
                self.budget,
                stage,
                "the completion of the pong's send",
            )?;
            *b_tx = Some(returned(c, stage)?);
            samples.extend(rtt);
        }
        Latency::from_samples("send/recv round trip", PING, &mut samples).ok_or_else(|| {
            Failure::new(
                Cause::Timeout,
                format!("{stage}: no round trip completed"),
                TIMEOUT_FIX,
            )
        })
    }

    fn wait_a(&mut self, stage: &str, what: &str) -> Result<Completion, Failure> {
        poll_one(&self.cq_a, &mut self.a, self.budget, stage, what)
    }

    fn wait_b(&mut self, stage: &str, what: &str) -> Result<Completion, Failure> {
        poll_one(&self.cq_b, &mut self.b, self.budget, stage, what)
    }

    fn post_failed(&self, stage: &str, e: rdma_verbs::Error) -> Failure {
        post_failed(&self.dev, stage, e)
    }
}

fn post_failed(dev: &str, stage: &str, e: rdma_verbs::Error) -> Failure {
    resource_failure(e, &format!("posting the {stage}"), dev)
}

/// The buffer a completion hands back.
fn returned(c: Completion, stage: &str) -> Result<MemoryRegion, Failure> {
    c.buf.ok_or_else(|| lost(stage))
}

fn take(slot: &mut Option<MemoryRegion>, stage: &str) -> Result<MemoryRegion, Failure> {
    slot.take().ok_or_else(|| lost(stage))
}

/// Copies `data` to the start of `mr` (a local-only region).
fn fill(mr: &mut MemoryRegion, data: &[u8], stage: &str) -> Result<(), Failure> {
    match mr.as_mut_slice() {
        Some(s) if s.len() >= data.len() => {
            s[..data.len()].copy_from_slice(data);
            Ok(())
        }
        _ => Err(Failure::new(
            Cause::Resources,
            format!("{stage}: the source buffer is not writable"),
            "internal error of the self-test: report it",
        )),
    }
}

/// Checks a latency message: [`PING`] bytes starting with round trip `i`'s number.
fn pong_payload(c: Completion, i: u32, stage: &str) -> Result<MemoryRegion, Failure> {
    let len = c.byte_len as usize;
    let buf = returned(c, stage)?;
    let head = buf.as_slice().and_then(|s| s.get(..4)).unwrap_or_default();
    if len != PING || head != i.to_le_bytes() {
        return Err(Failure::new(
            Cause::DataMismatch,
            format!("{stage}: round trip {i} received {len} bytes starting {head:02x?}"),
            "the device delivered wrong data: check its firmware and driver (dmesg)",
        ));
    }
    Ok(buf)
}
