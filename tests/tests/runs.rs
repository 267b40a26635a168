//! Runs (`QueuePair::run`) on real verbs: templates and chains checked once and posted many
//! times, data checked byte for byte.

use rdma_device_tests::{caps64, pattern, poll_n, Pair, TIMEOUT};
use rdma_verbs::{Access, MemoryRegion, RecvWr, SendWr, WcOpcode};

#[test]
fn templates_and_a_chain_write_where_each_was_checked_to_write() {
    let mut p = Pair::new(caps64()).connect(Access::LOCAL_WRITE | Access::REMOTE_WRITE);
    let target =
        MemoryRegion::new(&p.pd, 8 * 512, Access::LOCAL_WRITE | Access::REMOTE_WRITE).unwrap();
    let mut src = MemoryRegion::new(&p.pd, 1024, Access::LOCAL_WRITE).unwrap();
    let data = pattern(1024, 21);
    src.as_mut_slice().unwrap().copy_from_slice(&data);
    let shared = p.a.share(src);
    {
        let run = p.a.run();
        // Slots 0..4: one template each, from a different 512 bytes of the source (two
        // ranges, alternately); slots 4..8 stay untouched by them.
        let mut writes: Vec<_> = (0..4u64)
            .map(|i| {
                let dst = target.remote().slice(i * 512, 512).unwrap();
                let from = (i as usize % 2) * 512;
                run.prepare(SendWr::write(shared, dst).range(from, 512))
                    .unwrap()
            })
            .collect();
        for (i, w) in writes.iter_mut().enumerate() {
            w.post(100 + i as u64, i == 3).unwrap();
        }
        let done = run.complete(&poll_n(&p.cq_a, 1, TIMEOUT)[0]).unwrap();
        done.result().unwrap();
        assert_eq!(
            (done.wr_id, done.opcode, done.byte_len),
            (103, WcOpcode::RdmaWrite, 512)
        );
        assert_eq!(run.send_outstanding(), 0, "the three before it retired too");
        // A chain of 4 copies of one write into slot 5, in one doorbell, twice.
        let dst = target.remote().slice(5 * 512, 512).unwrap();
        let mut chain = run
            .prepare_chain(SendWr::write(shared, dst).range(512, 512), 4)
            .unwrap();
        for round in 0..2u64 {
            chain.post(1000 + 10 * round, true).unwrap();
            let done = run.complete(&poll_n(&p.cq_a, 1, TIMEOUT)[0]).unwrap();
            done.result().unwrap();
            assert_eq!(done.wr_id, 1003 + 10 * round, "the last of the chain");
        }
        assert_eq!(run.send_outstanding(), 0);
    }
    let mut back = vec![0u8; 8 * 512];
    assert!(target.read_at(0, &mut back));
    for (i, got) in back.chunks(512).enumerate() {
        let want: &[u8] = match i {
            0 | 2 => &data[..512],
            1 | 3 | 5 => &data[512..],
            _ => &[0; 512],
        };
        assert_eq!(got, want, "slot {i}");
    }
    assert_eq!(p.a.unshare(shared).unwrap().as_slice().unwrap(), &data[..]);
}

#[test]
fn sends_of_a_template_land_in_a_sink_through_receive_templates() {
    let mut p = Pair::new(caps64()).connect(Access::LOCAL_WRITE);
    let mut src = MemoryRegion::new(&p.pd, 256, Access::LOCAL_WRITE).unwrap();
    let data = pattern(256, 22);
    src.as_mut_slice().unwrap().copy_from_slice(&data);
    let shared = p.a.share(src);
    let sink =
        p.b.sink(MemoryRegion::new(&p.pd, 4 * 256, Access::LOCAL_WRITE).unwrap());
    let recv_run = p.b.run();
    // Receive k lands in the k-th 256 bytes of the sink.
    let mut recvs: Vec<_> = (0..4)
        .map(|k| {
            recv_run
                .prepare_recv(RecvWr::recv_to_sink(sink).range(k * 256, 256))
                .unwrap()
        })
        .collect();
    for (k, r) in recvs.iter_mut().enumerate() {
        r.post(10 + k as u64).unwrap();
    }
    assert_eq!(recv_run.recv_outstanding(), 4);
    {
        let run = p.a.run();
        let mut send = run
            .prepare(SendWr::send(shared).range(0, 128).imm(9))
            .unwrap();
        let mut chain = run.prepare_chain(SendWr::send(shared), 3).unwrap();
        send.post(1, true).unwrap();
        chain.post(2, true).unwrap();
        let wcs = poll_n(&p.cq_a, 2, TIMEOUT);
        let ids: Vec<u64> = wcs
            .iter()
            .map(|wc| run.complete(wc).unwrap().wr_id)
            .collect();
        assert_eq!(ids, [1, 4]);
    }
    let wcs = poll_n(&p.cq_b, 4, TIMEOUT);
    let got: Vec<_> = wcs
        .iter()
        .map(|wc| {
            let c = recv_run.complete(wc).unwrap();
            c.result().unwrap();
            (c.wr_id, c.byte_len, c.imm_data)
        })
        .collect();
    assert_eq!(
        got,
        [
            (10, 128, Some(9)),
            (11, 256, None),
            (12, 256, None),
            (13, 256, None)
        ]
    );
    drop(recv_run);
    let back = p.b.unsink(sink).expect("every receive completed");
    let back = back.as_slice().unwrap();
    assert_eq!(&back[..128], &data[..128]);
    for k in 1..4 {
        assert_eq!(&back[k * 256..(k + 1) * 256], &data[..], "receive {k}");
    }
}
