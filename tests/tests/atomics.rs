//! RC atomics on real verbs: fetch-and-add and compare-and-swap change the peer's 8 bytes and
//! hand back the value before, checked on both sides; what is refused before the device, and
//! what the device refuses.

use rdma_device_tests::{caps64, poll_n, Pair, TIMEOUT};
use rdma_verbs::{Access, Error, MemoryRegion, SendWr, WcOpcode, WcStatus};

/// The peer's counter: 8 bytes peers may run atomics on.
fn counter(p: &Pair, access: Access, value: u64) -> MemoryRegion {
    let mut c = MemoryRegion::new(&p.pd, 8, Access::LOCAL_WRITE | access).unwrap();
    assert!(c.write_at(0, &value.to_ne_bytes()));
    c
}

fn value(mr: &MemoryRegion) -> u64 {
    let mut b = [0u8; 8];
    assert!(mr.read_at(0, &mut b));
    u64::from_ne_bytes(b)
}

/// Posts `wr` on A and returns the value before, as the result buffer holds it.
fn run(p: &mut Pair, wr: SendWr<'_>, opcode: WcOpcode) -> u64 {
    p.a.post_send(wr).unwrap();
    let done = p.a.complete(&poll_n(&p.cq_a, 1, TIMEOUT)[0]).unwrap();
    done.result().unwrap();
    assert_eq!((done.opcode, done.byte_len), (opcode, 8));
    let buf = done.buf.expect("the result buffer comes back");
    u64::from_ne_bytes(buf.as_slice().unwrap()[..8].try_into().unwrap())
}

#[test]
fn fetch_add_and_compare_swap_change_the_peer_and_return_the_old_value() {
    let mut p = Pair::new(caps64()).connect(Access::LOCAL_WRITE | Access::REMOTE_ATOMIC);
    let c = counter(&p, Access::REMOTE_ATOMIC, 40);
    let result = || MemoryRegion::new(&p.pd, 8, Access::LOCAL_WRITE).unwrap();
    let (r1, r2, r3) = (result(), result(), result());
    let old = run(
        &mut p,
        SendWr::fetch_add(r1, c.remote(), 2),
        WcOpcode::FetchAdd,
    );
    assert_eq!((old, value(&c)), (40, 42));
    let old = run(
        &mut p,
        SendWr::compare_swap(r2, c.remote(), 42, 100),
        WcOpcode::CompSwap,
    );
    assert_eq!((old, value(&c)), (42, 100), "equal: swapped");
    let old = run(
        &mut p,
        SendWr::compare_swap(r3, c.remote(), 42, 7),
        WcOpcode::CompSwap,
    );
    assert_eq!((old, value(&c)), (100, 100), "not equal: left alone");
}

#[test]
fn a_misaligned_atomic_is_refused_before_the_device() {
    let mut p = Pair::new(caps64()).connect(Access::LOCAL_WRITE | Access::REMOTE_ATOMIC);
    let c = MemoryRegion::new(&p.pd, 64, Access::LOCAL_WRITE | Access::REMOTE_ATOMIC).unwrap();
    let at4 = c.remote().slice(4, 8).unwrap();
    let dst = MemoryRegion::new(&p.pd, 8, Access::LOCAL_WRITE).unwrap();
    let e = p.a.post_send(SendWr::fetch_add(dst, at4, 1)).unwrap_err();
    assert!(
        matches!(e.error, Error::InvalidArgument(ref m) if m.contains("aligned")),
        "{e}"
    );
    assert_eq!((e.returned.len(), p.a.send_outstanding()), (1, 0));
}

#[test]
fn an_atomic_on_memory_without_the_atomic_right_is_a_remote_access_error() {
    let mut p = Pair::new(caps64()).connect(Access::LOCAL_WRITE | Access::REMOTE_ATOMIC);
    let c = counter(&p, Access::REMOTE_WRITE, 40);
    let dst = MemoryRegion::new(&p.pd, 8, Access::LOCAL_WRITE).unwrap();
    p.a.post_send(SendWr::fetch_add(dst, c.remote(), 1))
        .unwrap();
    let done = p.a.complete(&poll_n(&p.cq_a, 1, TIMEOUT)[0]).unwrap();
    assert_eq!(done.status, WcStatus::RemoteAccess);
    assert!(
        done.buf.is_some(),
        "the result buffer comes back on error too"
    );
    assert_eq!(value(&c), 40, "the peer's memory is untouched");
}
