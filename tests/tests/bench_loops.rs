//! The measured loops of rdma-perf on the device: they finish, their timestamps are sane, and
//! the bytes they move arrive.

use rdma::{Access, MemoryRegion, QpCaps};
use rdma_bench::run::{write_bw, write_lat, BwConfig, Clock, LatConfig, LatRole, LatSource};
use rdma_device_tests::{pattern, Pair};
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

fn caps() -> QpCaps {
    QpCaps {
        max_send_wr: 128,
        max_recv_wr: 16,
        max_inline_data: 64,
        ..QpCaps::default()
    }
}

#[test]
fn write_bw_posts_every_write_and_the_bytes_land() {
    let mut p = Pair::new(caps()).connect(Access::LOCAL_WRITE | Access::REMOTE_WRITE);
    let target =
        MemoryRegion::new(&p.pd, 4096, Access::LOCAL_WRITE | Access::REMOTE_WRITE).unwrap();
    let mut src = MemoryRegion::new(&p.pd, 4096, Access::LOCAL_WRITE).unwrap();
    let data = pattern(4096, 31);
    src.as_mut_slice().unwrap().copy_from_slice(&data);
    let src = p.a.pin(src);
    let cfg = BwConfig {
        iters: 1000,
        size: 4096,
        tx_depth: 128,
        cq_mod: 100,
        timeout: T,
    };
    let clock = Clock::new();
    let s = write_bw(&mut p.a, &p.cq_a, src, target.remote(), &cfg, &clock).unwrap();
    assert_eq!(p.a.send_outstanding(), 0, "every write retired");
    assert!(s.posted.windows(2).all(|w| w[0] <= w[1]), "posted in order");
    let signaled: Vec<usize> = (0..1000).filter(|j| s.completed[*j] != 0).collect();
    assert_eq!(signaled, (0..10).map(|k| k * 100 + 99).collect::<Vec<_>>());
    for j in signaled {
        assert!(s.completed[j] >= s.posted[j], "completion after post");
    }
    let mut back = vec![0u8; 4096];
    assert!(target.read_at(0, &mut back));
    assert_eq!(back, data);
}

fn lat_pair(size: usize, inline: bool) {
    let p = Pair::new(caps()).connect(Access::LOCAL_WRITE | Access::REMOTE_WRITE);
    let rw = Access::LOCAL_WRITE | Access::REMOTE_WRITE;
    let ta = MemoryRegion::new(&p.pd, size, rw).unwrap();
    let tb = MemoryRegion::new(&p.pd, size, rw).unwrap();
    let (ra, rb) = (ta.remote(), tb.remote());
    let source = |pd: &rdma::ProtectionDomain| {
        if inline {
            LatSource::Inline
        } else {
            LatSource::Buffer(MemoryRegion::new(pd, size, Access::LOCAL_WRITE).unwrap())
        }
    };
    let (sa, sb) = (source(&p.pd), source(&p.pd));
    let Pair {
        cq_a,
        cq_b,
        mut a,
        mut b,
        ..
    } = p;
    let iters = 300u64;
    let cfg = move |role| LatConfig {
        iters,
        size: size as u64,
        timeout: T,
        role,
    };
    let server = std::thread::spawn(move || {
        let t = write_lat(
            &mut a,
            &cq_a,
            &ta,
            sa,
            rb,
            &cfg(LatRole::Server),
            &Clock::new(),
        )
        .unwrap();
        (t, ta.load(size - 1))
    });
    let tc = write_lat(
        &mut b,
        &cq_b,
        &tb,
        sb,
        ra,
        &cfg(LatRole::Client),
        &Clock::new(),
    )
    .unwrap();
    let (ts, last_a) = server.join().unwrap();
    for t in [&ts, &tc] {
        assert_eq!(t.len() as u64, iters);
        assert!(
            t.windows(2).all(|w| w[0] < w[1]),
            "one post per round trip, in order"
        );
    }
    assert_eq!(
        last_a,
        Some(iters as u8),
        "the client's last write landed at the server"
    );
    assert_eq!(
        tb.load(size - 1),
        Some(iters as u8),
        "and the server's at the client"
    );
}

#[test]
fn write_lat_ping_pongs_inline() {
    lat_pair(2, true);
}

#[test]
fn write_lat_ping_pongs_from_an_owned_buffer() {
    lat_pair(4096, false);
}
