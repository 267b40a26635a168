//! The data path allocates nothing: a counting global allocator watches a post/poll/complete
//! loop of sends, receives, writes and atomics on the device.

use rdma_device_tests::counting_alloc::{self, CountingAlloc};
use rdma_device_tests::Pair;
use rdma_verbs::{Access, MemoryRegion, PostApi, QpCaps, QpType, RecvWr, SendWr, WorkCompletion};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

const CAPS: QpCaps = QpCaps {
    max_send_wr: 16,
    max_recv_wr: 16,
    max_send_sge: 1,
    max_recv_sge: 1,
    max_inline_data: 64,
};

#[test]
fn post_poll_complete_loop_allocates_nothing() {
    post_poll_complete_loop(Pair::new(CAPS));
}

/// The same loop on QPs that post with `ibv_wr_*`: single posts and a batch in one critical
/// section allocate nothing either.
#[test]
fn extended_post_poll_complete_loop_allocates_nothing() {
    let p = Pair::extended(CAPS, QpType::Rc);
    assert_eq!(p.a.post_api(), PostApi::Extended);
    post_poll_complete_loop(p);
}

fn post_poll_complete_loop(p: Pair) {
    let mut p = p.connect(Access::LOCAL_WRITE | Access::REMOTE_WRITE | Access::REMOTE_ATOMIC);
    let target =
        MemoryRegion::new(&p.pd, 4096, Access::LOCAL_WRITE | Access::REMOTE_WRITE).unwrap();
    let counter = MemoryRegion::new(&p.pd, 8, Access::LOCAL_WRITE | Access::REMOTE_ATOMIC).unwrap();
    let mut old = Some(MemoryRegion::new(&p.pd, 8, Access::LOCAL_WRITE).unwrap());
    let mut rbuf = Some(MemoryRegion::new(&p.pd, 256, Access::LOCAL_WRITE).unwrap());
    let mut sbuf = Some(MemoryRegion::new(&p.pd, 256, Access::LOCAL_WRITE).unwrap());
    let shared =
        p.a.share(MemoryRegion::new(&p.pd, 1024, Access::LOCAL_WRITE).unwrap());
    let mut wcs = [WorkCompletion::default(); 8];
    let inline = [7u8; 32];
    const ITERS: u64 = 200;

    counting_alloc::start();
    let mut received = 0u64;
    for i in 0..ITERS {
        p.b.post_recv(RecvWr::recv(rbuf.take().unwrap()).wr_id(i))
            .unwrap();
        let mut s = sbuf.take().unwrap();
        s.write_at(0, &i.to_le_bytes());
        p.a.post_send(SendWr::send(s).wr_id(i)).unwrap();
        // An unsignaled write from a shared source and an inline one in one doorbell.
        let mut batch = p.a.send_batch::<2>();
        batch
            .push(SendWr::write(shared, target.remote().slice(0, 1024).unwrap()).signaled(false))
            .unwrap();
        batch
            .push(SendWr::write(
                &inline[..],
                target.remote().slice(2048, 32).unwrap(),
            ))
            .unwrap();
        batch.post().unwrap();
        p.a.post_send(SendWr::fetch_add(old.take().unwrap(), counter.remote(), 1))
            .unwrap();
        let mut sends_done = 0;
        while sends_done < 3 {
            for wc in p.cq_a.poll(&mut wcs).unwrap() {
                let c = p.a.complete(wc).unwrap();
                assert!(c.is_ok());
                match c.buf {
                    Some(b) if b.len() == 8 => {
                        let mut was = [0u8; 8];
                        b.read_at(0, &mut was);
                        assert_eq!(u64::from_ne_bytes(was), i, "the counter before this add");
                        old = Some(b);
                    }
                    Some(b) => sbuf = Some(b),
                    None => {}
                }
                sends_done += 1;
            }
        }
        while rbuf.is_none() {
            for wc in p.cq_b.poll(&mut wcs).unwrap() {
                let c = p.b.complete(wc).unwrap();
                assert!(c.is_ok());
                let mut got = [0u8; 8];
                let b = c.buf.unwrap();
                b.read_at(0, &mut got);
                assert_eq!(u64::from_le_bytes(got), i, "bytes crossed the QP");
                received += 1;
                rbuf = Some(b);
            }
        }
    }
    let allocs = counting_alloc::stop();
    assert_eq!(received, ITERS);
    let mut total = [0u8; 8];
    counter.read_at(0, &mut total);
    assert_eq!(u64::from_ne_bytes(total), ITERS, "one add per iteration");
    assert_eq!(
        allocs, 0,
        "the data path allocated during {ITERS} iterations"
    );
}
