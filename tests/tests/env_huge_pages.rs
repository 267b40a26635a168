//! Huge-page backed memory regions. Its own test binary: it reserves huge pages for the VM.

use rdma_device_tests::{pattern, poll_n, Pair, TIMEOUT};
use rdma_verbs::{Access, MemoryRegion, QpCaps, RecvWr, SendWr};

#[test]
fn huge_page_region_carries_data() {
    std::fs::write("/proc/sys/vm/nr_hugepages", "4").expect("reserve huge pages (root in the VM)");
    let mut p = Pair::new(QpCaps::default()).connect(Access::LOCAL_WRITE);
    let mut src = MemoryRegion::builder(&p.pd, 2 << 20)
        .huge_pages(true)
        .build()
        .expect("a 2 MiB huge-page region");
    assert_eq!(src.addr() % (2 << 20), 0, "huge-page aligned");
    let data = pattern(2 << 20, 14);
    src.as_mut_slice().unwrap().copy_from_slice(&data);
    let (head, _tail) = src.split_at(1 << 20);
    p.b.post_recv(
        RecvWr::recv(MemoryRegion::new(&p.pd, 1 << 20, Access::LOCAL_WRITE).unwrap()).wr_id(1),
    )
    .unwrap();
    p.a.post_send(SendWr::send(head)).unwrap();
    p.a.complete(&poll_n(&p.cq_a, 1, TIMEOUT)[0])
        .unwrap()
        .result()
        .unwrap();
    let got = p.b.complete(&poll_n(&p.cq_b, 1, TIMEOUT)[0]).unwrap();
    assert_eq!(got.byte_len, 1 << 20);
    assert_eq!(got.buf.unwrap().as_slice().unwrap(), &data[..1 << 20]);
}
