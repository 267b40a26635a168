//! The data path allocates nothing: a counting global allocator watches a post/poll/complete
//! loop of sends, receives and writes on the device.

use rdma::{Access, MemoryRegion, QpCaps, SendWr, WorkCompletion};
use rdma_device_tests::Pair;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

struct Counting;
static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn post_poll_complete_loop_allocates_nothing() {
    let mut p = Pair::new(QpCaps {
        max_send_wr: 16,
        max_recv_wr: 16,
        max_inline_data: 64,
        ..QpCaps::default()
    })
    .connect(Access::LOCAL_WRITE | Access::REMOTE_WRITE);
    let target =
        MemoryRegion::new(&p.pd, 4096, Access::LOCAL_WRITE | Access::REMOTE_WRITE).unwrap();
    let mut rbuf = Some(MemoryRegion::new(&p.pd, 256, Access::LOCAL_WRITE).unwrap());
    let mut sbuf = Some(MemoryRegion::new(&p.pd, 256, Access::LOCAL_WRITE).unwrap());
    let pinned =
        p.a.pin(MemoryRegion::new(&p.pd, 1024, Access::LOCAL_WRITE).unwrap());
    let mut wcs = [WorkCompletion::default(); 8];
    let inline = [7u8; 32];
    const ITERS: u64 = 200;

    COUNTING.store(true, Ordering::SeqCst);
    let mut received = 0u64;
    for i in 0..ITERS {
        p.b.post_recv(rbuf.take().unwrap(), i).unwrap();
        let mut s = sbuf.take().unwrap();
        s.write_at(0, &i.to_le_bytes());
        p.a.post_send(SendWr::send(s).wr_id(i)).unwrap();
        // An unsignaled write from a pinned source and an inline one in one doorbell.
        let mut batch = p.a.send_batch::<2>();
        batch
            .push(SendWr::write(pinned, target.remote().slice(0, 1024).unwrap()).signaled(false))
            .unwrap();
        batch
            .push(SendWr::write(
                &inline[..],
                target.remote().slice(2048, 32).unwrap(),
            ))
            .unwrap();
        batch.post().unwrap();
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
    COUNTING.store(false, Ordering::SeqCst);
    assert_eq!(received, ITERS);
    assert_eq!(
        ALLOCS.load(Ordering::SeqCst),
        0,
        "the data path allocated during {ITERS} iterations"
    );
}
