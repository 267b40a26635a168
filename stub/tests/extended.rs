//! The extended post API on the stub provider: every operation posted through `ibv_wr_*`
//! (each request as the provider's builders and setters recorded it), batches in one
//! critical section, runs, refusals (before the device, and a failed `wr_complete` handing
//! every buffer back), and QP creation refused for missing operations.

mod common;

use common::{caps, mr, poll_one};
use rdma_stub::BuiltWr;
use rdma_verbs::sys::ibv_qp_create_send_ops_flags as with;
use rdma_verbs::sys::ibv_send_flags as flag;
use rdma_verbs::sys::ibv_wr_opcode as op;
use rdma_verbs::{
    CompletionQueue, Error, PostApi, ProtectionDomain, QpType, QueuePair, RemoteBuf, SendWr,
    WcOpcode,
};

/// Every send ops flag the stub has for RC.
const RC_OPS: u64 = (with::IBV_QP_EX_WITH_SEND
    | with::IBV_QP_EX_WITH_SEND_WITH_IMM
    | with::IBV_QP_EX_WITH_RDMA_WRITE
    | with::IBV_QP_EX_WITH_RDMA_WRITE_WITH_IMM
    | with::IBV_QP_EX_WITH_RDMA_READ
    | with::IBV_QP_EX_WITH_ATOMIC_CMP_AND_SWP
    | with::IBV_QP_EX_WITH_ATOMIC_FETCH_AND_ADD) as u64;

struct Fixture {
    pd: ProtectionDomain,
    cq: CompletionQueue,
    qp: QueuePair,
}

/// An extended stub RC QP (queues `depth` deep, 64 inline bytes) on a CQ of `cq_depth`.
fn fixture(depth: u32, cq_depth: u32) -> Fixture {
    // SAFETY: the tests use only the stub's constructors, the data path and drop.
    let ctx = unsafe { rdma_stub::context() };
    let pd = rdma_stub::protection_domain(&ctx);
    let cq = rdma_stub::completion_queue(&ctx, cq_depth);
    let qp = rdma_stub::queue_pair_ex(&pd, &cq, &cq, caps(depth), false, QpType::Rc, RC_OPS)
        .expect("an extended stub QP");
    Fixture { pd, cq, qp }
}

fn remote(addr: u64, len: u64) -> RemoteBuf {
    RemoteBuf {
        addr,
        rkey: 0x77,
        len,
    }
}

/// The one request the last post built.
fn built_one(qp: &QueuePair) -> BuiltWr {
    let built = rdma_stub::built(qp);
    assert_eq!(built.len(), 1, "{built:?}");
    built[0]
}

#[test]
fn every_operation_is_built_with_its_builder_and_setter() {
    let f = fixture(16, 64);
    let (pd, cq, mut qp) = (f.pd, f.cq, f.qp);
    assert_eq!(qp.post_api(), PostApi::Extended);
    let signaled = flag::IBV_SEND_SIGNALED;
    let src = mr(&pd, 256);
    let (addr, lkey) = (src.addr(), src.lkey());

    qp.post_send(SendWr::send(src).range(16, 100).wr_id(1))
        .unwrap();
    let w = built_one(&qp);
    assert_eq!(
        (w.opcode, w.flags, w.num_sge),
        (op::IBV_WR_SEND, signaled, 1)
    );
    assert_eq!((w.lkey, w.addr, w.len), (lkey, addr + 16, 100));
    let c = qp.complete(&poll_one(&cq)).unwrap();
    assert_eq!((c.wr_id, c.opcode, c.byte_len), (1, WcOpcode::Send, 100));
    let src = c.buf.unwrap();

    qp.post_send(SendWr::send(src).imm(0x0102_0304).wr_id(2))
        .unwrap();
    let w = built_one(&qp);
    assert_eq!(w.opcode, op::IBV_WR_SEND_WITH_IMM);
    assert_eq!(
        w.imm,
        0x0102_0304u32.to_be(),
        "immediate data in network order"
    );
    let src = qp.complete(&poll_one(&cq)).unwrap().buf.unwrap();

    qp.post_send(SendWr::write(src, remote(0x9000, 4096)).wr_id(3))
        .unwrap();
    let w = built_one(&qp);
    assert_eq!(
        (w.opcode, w.remote_addr, w.rkey, w.len),
        (op::IBV_WR_RDMA_WRITE, 0x9000, 0x77, 256)
    );
    let src = qp.complete(&poll_one(&cq)).unwrap().buf.unwrap();

    qp.post_send(SendWr::write(src, remote(0xa000, 256)).imm(9).wr_id(4))
        .unwrap();
    let w = built_one(&qp);
    assert_eq!(
        (w.opcode, w.remote_addr, w.imm),
        (op::IBV_WR_RDMA_WRITE_WITH_IMM, 0xa000, 9u32.to_be())
    );
    let src = qp.complete(&poll_one(&cq)).unwrap().buf.unwrap();

    qp.post_send(SendWr::read(src, remote(0xb000, 256)).wr_id(5))
        .unwrap();
    let w = built_one(&qp);
    assert_eq!(
        (w.opcode, w.remote_addr, w.lkey, w.addr),
        (op::IBV_WR_RDMA_READ, 0xb000, lkey, addr)
    );
    let c = qp.complete(&poll_one(&cq)).unwrap();
    assert_eq!((c.wr_id, c.opcode), (5, WcOpcode::RdmaRead));
    let src = c.buf.unwrap();

    qp.post_send(
        SendWr::fetch_add(src, remote(0xc008, 8), 42)
            .range(8, 8)
            .wr_id(6),
    )
    .unwrap();
    let w = built_one(&qp);
    assert_eq!(
        (w.opcode, w.remote_addr, w.compare_add),
        (op::IBV_WR_ATOMIC_FETCH_AND_ADD, 0xc008, 42)
    );
    assert_eq!((w.addr, w.len), (addr + 8, 8));
    let src = qp.complete(&poll_one(&cq)).unwrap().buf.unwrap();

    qp.post_send(
        SendWr::compare_swap(src, remote(0xc010, 8), 5, 6)
            .range(0, 8)
            .wr_id(7),
    )
    .unwrap();
    let w = built_one(&qp);
    assert_eq!(
        (w.opcode, w.compare_add, w.swap),
        (op::IBV_WR_ATOMIC_CMP_AND_SWP, 5, 6)
    );
    let c = qp.complete(&poll_one(&cq)).unwrap();
    assert_eq!((c.wr_id, c.opcode), (7, WcOpcode::CompSwap));
    assert_eq!(c.buf.unwrap().addr(), addr, "the region comes back");

    let counters = rdma_stub::counters(&qp);
    assert_eq!((counters.send_wrs, counters.wr_completes), (7, 7));
    assert!(!rdma_stub::in_critical_section(&qp));
}

#[test]
fn inline_and_shared_sends_unsignaled_and_zero_length() {
    let f = fixture(16, 64);
    let (pd, cq, mut qp) = (f.pd, f.cq, f.qp);
    let bytes: Vec<u8> = (0..48u8).map(|i| i.wrapping_mul(7)).collect();
    qp.post_send(SendWr::send(&bytes[..]).signaled(false).wr_id(1))
        .unwrap();
    let w = built_one(&qp);
    assert!(w.inline);
    assert_eq!(w.flags, flag::IBV_SEND_INLINE, "unsignaled, inline");
    assert_eq!(
        w.inline_bytes(),
        &bytes[..],
        "the provider copied every byte"
    );

    let shared = qp.share(mr(&pd, 64));
    let (saddr, slkey) = {
        let m = qp.shared(shared).unwrap();
        (m.addr(), m.lkey())
    };
    qp.post_send(SendWr::write(shared, remote(0x1000, 64)).signaled(false))
        .unwrap();
    let w = built_one(&qp);
    assert_eq!((w.addr, w.lkey, w.len, w.flags), (saddr, slkey, 64, 0));

    // No data: a zero-length SGE ends the request.
    qp.post_send(SendWr::send(rdma_verbs::Local::Empty).imm(1).wr_id(3))
        .unwrap();
    let w = built_one(&qp);
    assert_eq!(
        (w.opcode, w.len, w.num_sge),
        (op::IBV_WR_SEND_WITH_IMM, 0, 0)
    );
    let c = qp.complete(&poll_one(&cq)).unwrap();
    assert_eq!(c.wr_id, 3);
    assert_eq!(
        qp.send_outstanding(),
        0,
        "the signaled one retired the unsignaled ones"
    );
    assert!(qp.unshare(shared).is_ok());
}

#[test]
fn a_batch_is_one_critical_section() {
    let f = fixture(32, 64);
    let (pd, cq, mut qp) = (f.pd, f.cq, f.qp);
    let shared = qp.share(mr(&pd, 64));
    let mut b = qp.send_batch::<16>();
    for k in 0..15u64 {
        b.push(
            SendWr::write(shared, remote(0x2000 + k * 64, 64))
                .signaled(false)
                .wr_id(k),
        )
        .unwrap();
    }
    b.push(SendWr::send(mr(&pd, 32)).wr_id(15)).unwrap();
    b.post().unwrap();
    let built = rdma_stub::built(&qp);
    assert_eq!(built.len(), 16);
    for (k, w) in built[..15].iter().enumerate() {
        assert_eq!(
            (w.opcode, w.remote_addr),
            (op::IBV_WR_RDMA_WRITE, 0x2000 + k as u64 * 64)
        );
    }
    assert_eq!(built[15].opcode, op::IBV_WR_SEND);
    let counters = rdma_stub::counters(&qp);
    assert_eq!(
        (
            counters.send_wrs,
            counters.send_doorbells,
            counters.wr_completes
        ),
        (16, 1, 1)
    );
    let c = qp.complete(&poll_one(&cq)).unwrap();
    assert_eq!((c.wr_id, c.buf.map(|b| b.len())), (15, Some(32)));
    assert_eq!(qp.send_outstanding(), 0);
}

#[test]
fn a_failed_wr_complete_posts_nothing_and_hands_every_buffer_back() {
    // Room for two completions: a batch of three signaled sends cannot complete.
    let f = fixture(8, 2);
    let (pd, cq, mut qp) = (f.pd, f.cq, f.qp);
    let mut b = qp.send_batch::<4>();
    for k in 0..3 {
        b.push(SendWr::send(mr(&pd, 16 + k)).wr_id(k as u64))
            .unwrap();
    }
    let e = b.post().unwrap_err();
    assert_eq!(e.posted, 0, "all or nothing");
    let mut lens: Vec<usize> = e.returned.iter().map(|m| m.len()).collect();
    lens.sort();
    assert_eq!(lens, [16, 17, 18], "every buffer comes back");
    assert_eq!(e.error.errno(), Some(libc::ENOMEM));
    assert!(e.to_string().contains("ibv_wr_complete"), "{e}");
    assert_eq!(qp.send_outstanding(), 0);
    assert_eq!(rdma_stub::counters(&qp).send_wrs, 0);
    assert_eq!(rdma_stub::queued(&cq), 0, "no completion was queued");
    assert!(!rdma_stub::in_critical_section(&qp));
    // A single post that fails the same way hands its buffer back too; the QP still posts.
    qp.post_send(SendWr::send(mr(&pd, 8)).wr_id(10)).unwrap();
    qp.post_send(SendWr::send(mr(&pd, 8)).wr_id(11)).unwrap();
    let e = qp
        .post_send(SendWr::send(mr(&pd, 8)).wr_id(12))
        .unwrap_err();
    assert_eq!((e.posted, e.returned.len()), (0, 1));
    assert_eq!(qp.complete(&poll_one(&cq)).unwrap().wr_id, 10);
}

#[test]
fn refusals_before_the_device_are_those_of_the_classic_api() {
    let f = fixture(8, 16);
    let (pd, mut qp) = (f.pd, f.qp);
    let long = [0u8; 65];
    let e = qp.post_send(SendWr::send(&long[..])).unwrap_err();
    assert!(e.to_string().contains("65 bytes of inline data"), "{e}");
    let e = qp
        .post_send(SendWr::send(mr(&pd, 8)).signaled(false))
        .unwrap_err();
    assert!(e.to_string().contains("cannot own a buffer"), "{e}");
    assert_eq!(e.returned.len(), 1);
    let e = qp
        .post_send(SendWr::fetch_add(mr(&pd, 8), remote(0x1004, 8), 1))
        .unwrap_err();
    assert!(e.to_string().contains("8-byte aligned"), "{e}");
    assert_eq!(
        rdma_stub::counters(&qp).wr_completes,
        0,
        "nothing reached the provider"
    );
    assert!(!rdma_stub::in_critical_section(&qp));
}

#[test]
fn runs_post_their_templates_through_the_extended_api() {
    let f = fixture(64, 64);
    let (pd, cq, mut qp) = (f.pd, f.cq, f.qp);
    let shared = qp.share(mr(&pd, 64));
    {
        let run = qp.run();
        let mut t = run
            .prepare(SendWr::write(shared, remote(0x4000, 64)))
            .unwrap();
        t.post(1, false).unwrap();
        t.post(2, true).unwrap();
        let c = run.complete(&poll_one(&cq)).unwrap();
        assert_eq!(c.wr_id, 2);
        let mut chain = run.prepare_chain(SendWr::send(shared), 4).unwrap();
        chain.post(10, true).unwrap();
        let c = run.complete(&poll_one(&cq)).unwrap();
        assert_eq!(c.wr_id, 13);
    }
    let built = rdma_stub::built(&qp);
    assert_eq!(built.len(), 4, "the chain's last post");
    assert!(built
        .iter()
        .all(|w| w.opcode == op::IBV_WR_SEND && w.len == 64));
    assert_eq!(built[3].flags, flag::IBV_SEND_SIGNALED);
    let counters = rdma_stub::counters(&qp);
    assert_eq!((counters.send_wrs, counters.wr_completes), (6, 3));
}

#[test]
fn uc_posts_send_and_write_and_refuses_read() {
    // SAFETY: as in `fixture`.
    let ctx = unsafe { rdma_stub::context() };
    let pd = rdma_stub::protection_domain(&ctx);
    let cq = rdma_stub::completion_queue(&ctx, 16);
    let uc_ops = (with::IBV_QP_EX_WITH_SEND
        | with::IBV_QP_EX_WITH_SEND_WITH_IMM
        | with::IBV_QP_EX_WITH_RDMA_WRITE
        | with::IBV_QP_EX_WITH_RDMA_WRITE_WITH_IMM) as u64;
    let mut qp =
        rdma_stub::queue_pair_ex(&pd, &cq, &cq, caps(8), false, QpType::Uc, uc_ops).unwrap();
    assert_eq!(qp.qp_type(), QpType::Uc);
    qp.post_send(SendWr::write(mr(&pd, 8), remote(0x10, 8)).imm(3).wr_id(1))
        .unwrap();
    assert_eq!(built_one(&qp).opcode, op::IBV_WR_RDMA_WRITE_WITH_IMM);
    let e = qp
        .post_send(SendWr::read(mr(&pd, 8), remote(0x10, 8)))
        .unwrap_err();
    assert!(e.to_string().contains("is UC"), "{e}");
    // The stub, like rxe, has no RDMA READ on UC: creation asking for it is refused.
    let read = uc_ops | with::IBV_QP_EX_WITH_RDMA_READ as u64;
    let e = rdma_stub::queue_pair_ex(&pd, &cq, &cq, caps(8), false, QpType::Uc, read).unwrap_err();
    assert_eq!(e.errno(), Some(libc::EOPNOTSUPP), "{e}");
}

#[test]
fn a_qp_without_an_operation_it_needs_is_unsupported() {
    // SAFETY: as in `fixture`.
    let ctx = unsafe { rdma_stub::context() };
    let pd = rdma_stub::protection_domain(&ctx);
    let cq = rdma_stub::completion_queue(&ctx, 16);
    let no_read = RC_OPS & !(with::IBV_QP_EX_WITH_RDMA_READ as u64);
    let e =
        rdma_stub::queue_pair_ex(&pd, &cq, &cq, caps(8), false, QpType::Rc, no_read).unwrap_err();
    assert!(matches!(e, Error::Unsupported { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("stub0 does not support ibv_wr_rdma_read"),
        "{msg}"
    );
    assert!(msg.contains("IBV_QP_EX_WITH_RDMA_READ"), "{msg}");
    // Without the atomic builders the QP is made, and refuses atomics before the device.
    let no_atomics = RC_OPS
        & !((with::IBV_QP_EX_WITH_ATOMIC_CMP_AND_SWP | with::IBV_QP_EX_WITH_ATOMIC_FETCH_AND_ADD)
            as u64);
    let mut qp =
        rdma_stub::queue_pair_ex(&pd, &cq, &cq, caps(8), false, QpType::Rc, no_atomics).unwrap();
    let e = qp
        .post_send(SendWr::fetch_add(mr(&pd, 8), remote(0x8, 8), 1))
        .unwrap_err();
    assert!(matches!(e.error, Error::Unsupported { .. }), "{e:?}");
    assert_eq!(e.returned.len(), 1);
}

#[test]
fn raw_posts_of_an_opcode_the_qp_cannot_build_are_aborted() {
    let f = fixture(8, 16);
    let mut qp = f.qp;
    let mut wr = rdma_verbs::sys::ibv_send_wr {
        opcode: op::IBV_WR_LOCAL_INV,
        send_flags: flag::IBV_SEND_SIGNALED,
        ..Default::default()
    };
    // SAFETY: a request with no memory; the QP has room.
    let e = unsafe { qp.post_send_raw(&mut wr) }.unwrap_err();
    assert_eq!(e.errno(), Some(libc::EOPNOTSUPP), "{e}");
    assert!(!rdma_stub::in_critical_section(&qp), "wr_abort closed it");
    assert_eq!(rdma_stub::counters(&qp).send_wrs, 0);
}
