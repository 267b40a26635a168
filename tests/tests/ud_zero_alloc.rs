//! The UD data path allocates nothing: a counting global allocator watches a loop of
//! addressed sends (owned, inline, shared, a gather), receives (one a scatter) and completions
//! on the device.

use rdma_device_tests::caps64;
use rdma_device_tests::counting_alloc::{self, CountingAlloc};
use rdma_device_tests::ud::UdPair;
use rdma_verbs::ud::DEFAULT_QKEY;
use rdma_verbs::{Piece, QpCaps, RecvWr, SendWr, WorkCompletion};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

#[test]
fn ud_post_poll_complete_loop_allocates_nothing() {
    let mut p = UdPair::with_caps(QpCaps {
        max_send_sge: 2,
        max_recv_sge: 2,
        ..caps64()
    });
    let ah = p.ah(&p.b);
    let to_b = p.a.add_peer(ah, p.b.qpn(), DEFAULT_QKEY).unwrap();
    let mut rbufs: Vec<_> = (0..3).map(|_| Some(p.mr(256))).collect();
    let mut sbuf = Some(p.mr(256));
    let shared = p.a.share(p.mr(128));
    let inline = [7u8; 32];
    let mut wcs = [WorkCompletion::default(); 8];
    const ITERS: u64 = 200;

    counting_alloc::start();
    let mut received = 0u64;
    for i in 0..ITERS {
        // The first receive scatters: 8 bytes at 0, the rest from 128.
        let scatter = [Piece::owned(128, 128)];
        for (k, r) in rbufs.iter_mut().enumerate() {
            let wr = RecvWr::recv(r.take().unwrap()).wr_id(k as u64);
            let wr = if k == 0 {
                wr.range(0, 8).scatter(&scatter)
            } else {
                wr
            };
            p.b.post_recv(wr).unwrap();
        }
        // The first send gathers: the counter at 0 and 100 bytes from 128.
        let mut s = sbuf.take().unwrap();
        s.write_at(0, &i.to_le_bytes());
        let gather = [Piece::owned(128, 100)];
        p.a.post_send(to_b, SendWr::send(s).range(0, 8).gather(&gather).wr_id(i))
            .unwrap();
        p.a.post_send(to_b, SendWr::send(shared).signaled(false))
            .unwrap();
        p.a.post_send(to_b, SendWr::send(&inline[..]).imm(i as u32))
            .unwrap();
        let mut sends_done = 0;
        while sends_done < 2 {
            for wc in p.cq_a.poll(&mut wcs).unwrap() {
                let c = p.a.complete(wc).unwrap();
                assert!(c.is_ok());
                if let Some(b) = c.buf {
                    sbuf = Some(b);
                }
                sends_done += 1;
            }
        }
        let mut got = 0;
        while got < 3 {
            for wc in p.cq_b.poll(&mut wcs).unwrap() {
                let c = p.b.complete(wc).unwrap();
                assert!(c.is_ok() && c.sender.is_some());
                let k = c.wr_id as usize;
                if k == 0 {
                    assert_eq!(c.byte_len, 108, "both pieces of the gather");
                    let mut first = [0u8; 8];
                    first.copy_from_slice(&c.payload().unwrap()[..8]);
                    assert_eq!(u64::from_le_bytes(first), i, "bytes crossed the QP");
                }
                rbufs[k] = c.buf;
                got += 1;
            }
        }
        received += got;
    }
    let allocs = counting_alloc::stop();
    assert_eq!(received, 3 * ITERS);
    assert!(sbuf.is_some() && rbufs.iter().all(Option::is_some));
    assert_eq!(
        allocs, 0,
        "the UD data path allocated during {ITERS} iterations"
    );
}
