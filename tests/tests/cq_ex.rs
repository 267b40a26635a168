//! Extended completion queues on real verbs: completions polled field by field in a poll
//! session carry what `ibv_poll_cq` gives (so the QP's `complete` takes them), for RC and UD,
//! successes and flushes; timestamps where the device has them, a typed error where not.

use rdma_device_tests::buffers::{assert_bytes, contents, filled};
use rdma_device_tests::{caps64, device, loopback_options, pattern, TIMEOUT};
use rdma_verbs::ud::{UdQueuePair, DEFAULT_QKEY};
use rdma_verbs::{
    Access, AddressHandle, CompletionQueue, Context, Error, Local, MemoryRegion, ProtectionDomain,
    QueuePair, RecvWr, SendWr, TimedCompletion, WcOpcode, WcStatus,
};
use std::time::Instant;

fn extended_cq(ctx: &Context) -> CompletionQueue {
    let cq = CompletionQueue::builder(ctx, 64)
        .extended()
        .build()
        .unwrap();
    assert!(cq.is_extended());
    cq
}

/// Polls `n` completions with `poll_ex`, within the test timeout.
fn poll_ex_n(cq: &CompletionQueue, n: usize) -> Vec<TimedCompletion> {
    let deadline = Instant::now() + TIMEOUT;
    let mut out = Vec::new();
    let mut buf = [TimedCompletion::default(); 4];
    while out.len() < n {
        let got = cq.poll_ex(&mut buf).unwrap();
        out.extend_from_slice(got);
        assert!(
            Instant::now() < deadline,
            "timed out: {} of {n} completions",
            out.len()
        );
    }
    out
}

/// Two connected RC QPs whose sends and receives all complete on `cq`.
fn rc_pair(ctx: &Context, pd: &ProtectionDomain, cq: &CompletionQueue) -> (QueuePair, QueuePair) {
    let opts = loopback_options(ctx, 0, Access::LOCAL_WRITE | Access::REMOTE_WRITE);
    let build = || {
        QueuePair::builder(pd, cq, cq)
            .caps(caps64())
            .build()
            .unwrap()
    };
    let (a, b) = (build(), build());
    let (ra, rb) = (a.address(&opts).unwrap(), b.address(&opts).unwrap());
    (
        a.connect(&rb, &opts).unwrap(),
        b.connect(&ra, &opts).unwrap(),
    )
}

#[test]
fn cq_ex_completions_carry_what_poll_cq_gives() {
    let ctx = device();
    let pd = ProtectionDomain::new(&ctx).unwrap();
    let cq = extended_cq(&ctx);
    let (mut a, mut b) = rc_pair(&ctx, &pd, &cq);
    let data = pattern(3000, 8);
    b.post_recv(RecvWr::recv(MemoryRegion::new(&pd, 4096, Access::LOCAL_WRITE).unwrap()).wr_id(1))
        .unwrap();
    a.post_send(
        SendWr::send(filled(&pd, &data, Access::LOCAL_WRITE))
            .imm(0x1234)
            .wr_id(2),
    )
    .unwrap();
    let got = poll_ex_n(&cq, 2);
    let mut recv = None;
    for t in &got {
        assert_eq!((t.timestamp, t.wallclock_ns), (None, None), "not asked for");
        if t.wc.qp_num() == b.qpn() {
            recv = Some(b.complete(&t.wc).unwrap());
        } else {
            let c = a.complete(&t.wc).unwrap();
            assert_eq!(
                (c.wr_id, c.status, c.opcode),
                (2, WcStatus::Success, WcOpcode::Send)
            );
        }
    }
    let recv = recv.expect("the receive completed");
    assert_eq!(
        (recv.wr_id, recv.opcode, recv.byte_len, recv.imm_data),
        (1, WcOpcode::Recv, 3000, Some(0x1234))
    );
    assert_bytes(
        "received",
        &contents(recv.buf.as_ref().unwrap())[..3000],
        &data,
    );
    // The same CQ polls with ibv_poll_cq too.
    b.post_recv(RecvWr::recv(
        MemoryRegion::new(&pd, 64, Access::LOCAL_WRITE).unwrap(),
    ))
    .unwrap();
    a.post_send(SendWr::send(&b"x"[..])).unwrap();
    let wcs = rdma_device_tests::poll_n(&cq, 2, TIMEOUT);
    for wc in &wcs {
        let c = if wc.qp_num() == b.qpn() {
            b.complete(wc)
        } else {
            a.complete(wc)
        };
        c.unwrap().result().unwrap();
    }
}

#[test]
fn cq_ex_flushed_completions_hand_buffers_back() {
    let ctx = device();
    let pd = ProtectionDomain::new(&ctx).unwrap();
    let cq = extended_cq(&ctx);
    let (_a, mut b) = rc_pair(&ctx, &pd, &cq);
    for i in 0..3 {
        b.post_recv(
            RecvWr::recv(MemoryRegion::new(&pd, 64, Access::LOCAL_WRITE).unwrap()).wr_id(i),
        )
        .unwrap();
    }
    b.set_error().unwrap();
    let got = poll_ex_n(&cq, 3);
    for (i, t) in got.iter().enumerate() {
        assert_eq!(t.wc.status(), WcStatus::WrFlush);
        let c = b.complete(&t.wc).unwrap();
        assert_eq!(c.wr_id, i as u64);
        assert_eq!(c.buf.map(|m| m.len()), Some(64), "the buffer comes back");
    }
    assert_eq!(b.recv_outstanding(), 0);
}

#[test]
fn cq_ex_ud_receives_name_their_sender() {
    let ctx = device();
    let pd = ProtectionDomain::new(&ctx).unwrap();
    let cq = extended_cq(&ctx);
    let build = || {
        UdQueuePair::builder(&pd, &cq, &cq)
            .caps(caps64())
            .build()
            .unwrap()
    };
    let (mut a, mut b) = (build(), build());
    let mut opts = loopback_options(&ctx, 0, Access::NONE);
    opts.hop_limit = 64;
    let ah = AddressHandle::to(&pd, &b.address(&opts).unwrap(), &opts).unwrap();
    let to_b = a.add_peer(ah, b.qpn(), DEFAULT_QKEY).unwrap();
    b.post_recv(RecvWr::recv(
        MemoryRegion::new(&pd, 256, Access::LOCAL_WRITE).unwrap(),
    ))
    .unwrap();
    a.post_send(to_b, SendWr::send(&b"datagram"[..])).unwrap();
    let got = poll_ex_n(&cq, 2);
    let t = got
        .iter()
        .find(|t| t.wc.qp_num() == b.qpn())
        .expect("the receive");
    let c = b.complete(&t.wc).unwrap();
    assert_eq!(c.payload().unwrap(), b"datagram");
    let sender = c.sender.unwrap();
    assert_eq!(sender.qpn(), a.qpn(), "src_qp read from the extended CQ");
    let want = a.address(&opts).unwrap();
    if let Some(gid) = want.gid {
        assert_eq!(
            sender.source_gid(),
            Some(gid),
            "the GRH flag read from the extended CQ"
        );
    }
}

#[test]
fn cq_ex_timestamps_or_a_typed_error() {
    let ctx = device();
    match CompletionQueue::builder(&ctx, 16)
        .completion_timestamps()
        .build()
    {
        Ok(cq) => {
            // A device with a clock: every completion carries it, non-decreasing.
            let pd = ProtectionDomain::new(&ctx).unwrap();
            let (mut a, mut b) = rc_pair(&ctx, &pd, &cq);
            let mut last = 0;
            for _ in 0..4 {
                b.post_recv(RecvWr::empty()).unwrap();
                a.post_send(SendWr::send(Local::Empty)).unwrap();
                for t in poll_ex_n(&cq, 2) {
                    let ts = t.timestamp.expect("asked for");
                    assert!(ts >= last, "timestamps go forward");
                    last = ts;
                    let q = if t.wc.qp_num() == b.qpn() {
                        &mut b
                    } else {
                        &mut a
                    };
                    q.complete(&t.wc).unwrap().result().unwrap();
                }
            }
        }
        Err(e) => {
            // rxe has no completion timestamps (rdma-core's RXE_SUP_WC_FLAGS).
            assert!(
                matches!(e, Error::Unsupported { what, ref device }
                    if what.contains("completion timestamps") && *device == ctx.name()),
                "{e}"
            );
            assert!(
                ctx.name().starts_with("rxe"),
                "only rxe is expected to lack them: {e}"
            );
        }
    }
    // A plain CQ is not polled with poll_ex.
    let plain = CompletionQueue::new(&ctx, 4).unwrap();
    assert!(!plain.is_extended());
    let e = plain
        .poll_ex(&mut [TimedCompletion::default(); 1])
        .unwrap_err();
    assert!(
        matches!(e, Error::InvalidArgument(ref m) if m.contains("not extended")),
        "{e}"
    );
}
