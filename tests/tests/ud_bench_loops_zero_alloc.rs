//! rdma-perf's UD loops (`ud_bw_requester` with receives, `ud_send_lat`) allocate nothing per
//! message: on the device, one UD QP sends to itself, and a counting global allocator sees
//! the same allocations (the loop's arrays, sized before it starts) for a short run and for
//! one several times longer. The messages arrive: the loops end only when every datagram
//! has been received.

use rdma_bench::run::{
    ud_bw_requester, ud_post_receives, ud_send_lat, BwConfig, Clock, LatRole, Receiving,
    SendLatConfig, Span, UdSend,
};
use rdma_device_tests::counting_alloc::{self, CountingAlloc};
use rdma_device_tests::{device, loopback_options};
use rdma_verbs::ud::{Peer, UdQueuePair, DEFAULT_QKEY};
use rdma_verbs::{
    Access, AddressHandle, CompletionQueue, MemoryRegion, ProtectionDomain, QpCaps, Shared, Sink,
};
use std::sync::atomic::AtomicU64;
use std::time::Duration;

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

const SIZE: u64 = 256;
const RX_DEPTH: u64 = 256;

/// One UD QP that sends to itself, with separate send and receive CQs.
struct Loop {
    _pd: ProtectionDomain,
    send_cq: CompletionQueue,
    recv_cq: CompletionQueue,
    qp: UdQueuePair,
    me: Peer,
    src: Shared,
    sink: Sink,
}

fn open() -> Loop {
    let ctx = device();
    let pd = ProtectionDomain::new(&ctx).unwrap();
    let send_cq = CompletionQueue::new(&ctx, 64).unwrap();
    let recv_cq = CompletionQueue::new(&ctx, 1024).unwrap();
    let mut qp = UdQueuePair::builder(&pd, &send_cq, &recv_cq)
        .caps(QpCaps {
            max_send_wr: 32,
            max_recv_wr: 512,
            max_send_sge: 1,
            max_recv_sge: 1,
            max_inline_data: 0,
        })
        .build()
        .unwrap();
    let opts = loopback_options(&ctx, 0, Access::NONE);
    let ah = AddressHandle::to(&pd, &qp.address(&opts).unwrap(), &opts).unwrap();
    let me = qp.add_peer(ah, qp.qpn(), DEFAULT_QKEY).unwrap();
    let mr = |len| MemoryRegion::new(&pd, len, Access::LOCAL_WRITE).unwrap();
    let src = qp.share(mr(SIZE as usize));
    let sink = qp.sink(mr(SIZE as usize));
    Loop {
        send_cq,
        recv_cq,
        qp,
        me,
        src,
        sink,
        _pd: pd,
    }
}

/// Allocations of one bandwidth run of `iters` datagrams to itself, receiving them too.
fn bw_allocs(l: &mut Loop, iters: u64) -> usize {
    ud_post_receives(&mut l.qp, l.sink, SIZE, RX_DEPTH).unwrap();
    let cfg = BwConfig {
        span: Span::Iters(iters),
        size: SIZE,
        tx_depth: 16,
        cq_mod: 4,
        timeout: Duration::from_secs(10),
        inline: false,
        post_list: 1,
        events: false,
    };
    let sinks = [l.sink];
    let recv = Receiving {
        cq: &l.recv_cq,
        sinks: &sinks,
        rx_depth: RX_DEPTH,
        wait_first: false,
    };
    let sends = [UdSend {
        peer: l.me,
        src: l.src,
    }];
    let clock = Clock::new();
    let progress = AtomicU64::new(0);
    counting_alloc::start();
    let s = ud_bw_requester(
        std::slice::from_mut(&mut l.qp),
        &sends,
        &l.send_cq,
        Some(recv),
        &cfg,
        &clock,
        &progress,
    );
    let allocs = counting_alloc::stop();
    let s = s.expect("every datagram sent and received");
    assert_eq!(s.iters, iters);
    assert!(
        s.posted.windows(2).all(|w| w[0] <= w[1]),
        "posts timed in order"
    );
    let last = s.completed[iters as usize - 1];
    assert!(
        last > s.posted[0],
        "the last completion after the first post"
    );
    allocs
}

/// Allocations of one ping-pong of `iters` round trips with itself.
fn lat_allocs(l: &mut Loop, iters: u64) -> usize {
    ud_post_receives(&mut l.qp, l.sink, SIZE, RX_DEPTH).unwrap();
    let cfg = SendLatConfig {
        span: Span::Iters(iters),
        size: SIZE,
        rx_depth: RX_DEPTH,
        timeout: Duration::from_secs(10),
        role: LatRole::Client,
        inline: false,
        events: false,
    };
    let clock = Clock::new();
    counting_alloc::start();
    let run = ud_send_lat(
        &mut l.qp, l.me, &l.send_cq, &l.recv_cq, l.src, l.sink, &cfg, &clock,
    );
    let allocs = counting_alloc::stop();
    let run = run.expect("every round trip");
    assert_eq!(run.posted.len() as u64, iters);
    allocs
}

#[test]
fn ud_bench_loops_allocate_nothing_per_message() {
    let mut l = open();
    let short = bw_allocs(&mut l, 600);
    let long = bw_allocs(&mut l, 3000);
    assert_eq!(
        short, long,
        "ud_bw_requester: {short} allocations for 600 datagrams, {long} for 3000"
    );
    let short = lat_allocs(&mut l, 100);
    let long = lat_allocs(&mut l, 1000);
    assert_eq!(
        short, long,
        "ud_send_lat: {short} allocations for 100 round trips, {long} for 1000"
    );
}
