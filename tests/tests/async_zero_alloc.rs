//! Awaiting completions allocates nothing: a counting global allocator watches a loop of
//! posts and `AsyncCq::poll` waits on the device, in event mode (the receiver sleeps on the
//! reactor every round) and in busy-poll mode, after a warm-up, on a current-thread runtime.

use rdma_device_tests::async_wait::current_thread;
use rdma_device_tests::counting_alloc::{self, CountingAlloc};
use rdma_device_tests::Pair;
use rdma_verbs::{Access, AsyncCq, MemoryRegion, QpCaps, RecvWr, SendWr, WaitMode, WorkCompletion};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

const WARM_UP: u64 = 50;
const ITERS: u64 = 300;

#[test]
fn awaiting_completions_allocates_nothing_in_event_and_busy_modes() {
    let mut p = Pair::with_channels(QpCaps {
        max_send_wr: 16,
        max_recv_wr: 16,
        ..QpCaps::default()
    })
    .connect(Access::LOCAL_WRITE);
    let rt = current_thread();
    for mode in [WaitMode::Event, WaitMode::BusyPoll] {
        let (received, allocs) = rt.block_on(async {
            let mut qa = AsyncCq::new(p.cq_a.clone(), mode).unwrap();
            let mut qb = AsyncCq::new(p.cq_b.clone(), mode).unwrap();
            let mut rbuf = Some(MemoryRegion::new(&p.pd, 256, Access::LOCAL_WRITE).unwrap());
            let mut sbuf = Some(MemoryRegion::new(&p.pd, 256, Access::LOCAL_WRITE).unwrap());
            let (mut wa, mut wb) = (
                [WorkCompletion::default(); 4],
                [WorkCompletion::default(); 4],
            );
            let mut received = 0;
            for i in 0..WARM_UP + ITERS {
                if i == WARM_UP {
                    counting_alloc::start();
                }
                p.b.post_recv(RecvWr::recv(rbuf.take().unwrap()).wr_id(i))
                    .unwrap();
                // B starts waiting first (and, in event mode, sleeps on the reactor: the CQ is
                // empty), then A sends and waits for its own completion.
                let (b_side, a_side) = tokio::join!(
                    biased;
                    async {
                        let wc = qb.poll(&mut wb).await.unwrap()[0];
                        p.b.complete(&wc).unwrap()
                    },
                    async {
                        tokio::task::yield_now().await;
                        let mut s = sbuf.take().unwrap();
                        s.write_at(0, &i.to_le_bytes());
                        p.a.post_send(SendWr::send(s).wr_id(i)).unwrap();
                        let wc = qa.poll(&mut wa).await.unwrap()[0];
                        p.a.complete(&wc).unwrap()
                    }
                );
                assert!(b_side.is_ok() && a_side.is_ok());
                let b = b_side.buf.unwrap();
                let mut got = [0u8; 8];
                b.read_at(0, &mut got);
                assert_eq!(u64::from_le_bytes(got), i, "bytes crossed the QP");
                received += 1;
                rbuf = Some(b);
                sbuf = a_side.buf;
            }
            (received, counting_alloc::stop())
        });
        assert_eq!(received, WARM_UP + ITERS);
        assert_eq!(
            allocs, 0,
            "{mode:?}: awaiting completions allocated during {ITERS} rounds"
        );
    }
}
