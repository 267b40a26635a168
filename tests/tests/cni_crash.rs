//! The `ib-sriov` plugin killed (SIGKILL) at every point of ADD and DEL, and many plugins at
//! once on one node: DEL always brings the node back exactly as it was (see
//! `rdma_device_tests::cni_node`), and two pods never get one VF.
//!
//! The kills come from strace's syscall fault injection (`--inject=SYSCALL:signal=KILL:when=N`
//! on the plugin's main thread), not from a hook in the plugin: the N-th `rename` is the N-th
//! write of ADD's journal (the step before it has completed, the next has not started); the
//! N-th `sendto` is the N-th netlink request, inside the steps. Each sweep runs N = 1, 2, ...
//! until the plugin runs to the end.

use rdma_device_tests::cni_node::{Node, Run};
use rdma_device_tests::process::serial;
use serde_json::{json, Value};
use std::process::Command;

/// ADD (or DEL) on pod 0, killed at the `n`-th `syscall` of its main thread.
fn killed_at(node: &Node, command: &str, syscall: &str, n: u32, conf: &Value) -> Run {
    let inject = format!("--inject={syscall}:signal=KILL:when={n}");
    let trace = format!("trace={syscall}");
    let wrapper = ["strace", "-qq", "-o", "/dev/null", "-e", &trace, &inject];
    let child = Node::spawn(&mut node.command(&wrapper, command, "crash", 0), conf);
    Node::outcome(child.wait_with_output().unwrap())
}

fn assert_same(before: &[String], after: &[String], what: &str) {
    let gone: Vec<_> = before.iter().filter(|l| !after.contains(l)).collect();
    let new: Vec<_> = after.iter().filter(|l| !before.contains(l)).collect();
    assert!(
        gone.is_empty() && new.is_empty(),
        "{what}: the node is not as before\n  lost: {gone:#?}\n  new: {new:#?}"
    );
}

fn strace_present() {
    assert!(
        Command::new("strace").arg("-V").output().is_ok(),
        "strace is missing: install Debian's strace (the crash tests inject SIGKILL with it)"
    );
}

/// Kills ADD at each `syscall` in turn; after each kill, DEL (with the same config) must
/// succeed and restore the node. Returns how many kill points there were.
fn sweep_add(syscall: &str) -> u32 {
    let node = Node::new("cka", 1, 1);
    let conf = node.conf(0, json!({}));
    let before = node.snapshot();
    for n in 1.. {
        let add = killed_at(&node, "ADD", syscall, n, &conf);
        let del = node.run("DEL", "crash", 0, &conf);
        assert!(del.ok, "DEL after ADD killed at {syscall} #{n}: {del:?}");
        assert_same(
            &before,
            &node.snapshot(),
            &format!("ADD killed at {syscall} #{n}, then DEL"),
        );
        if !add.killed {
            assert!(
                add.ok,
                "ADD not killed at {syscall} #{n} must succeed: {add:?}"
            );
            assert!(
                n > 2,
                "only {} {syscall} calls: is strace injecting?",
                n - 1
            );
            return n - 1;
        }
    }
    unreachable!()
}

#[test]
fn add_killed_after_each_journal_write_is_undone_by_del() {
    let _g = serial();
    strace_present();
    let points = sweep_add("rename");
    // The claim, the netdev move, IPAM, and the completed state: four writes.
    assert_eq!(points, 4, "journal writes of one ADD");
}

#[test]
fn add_killed_at_each_netlink_request_is_undone_by_del() {
    let _g = serial();
    strace_present();
    let points = sweep_add("sendto");
    eprintln!("ADD makes {points} netlink requests on its main thread");
}

#[test]
fn del_killed_anywhere_is_finished_by_the_next_del() {
    let _g = serial();
    strace_present();
    let node = Node::new("ckd", 1, 1);
    let conf = node.conf(0, json!({}));
    let before = node.snapshot();
    for n in 1.. {
        let add = node.run("ADD", "crash", 0, &conf);
        assert!(add.ok, "ADD: {add:?}");
        let del = killed_at(&node, "DEL", "sendto", n, &conf);
        let again = node.run("DEL", "crash", 0, &conf);
        assert!(again.ok, "DEL after DEL killed at sendto #{n}: {again:?}");
        assert_same(
            &before,
            &node.snapshot(),
            &format!("DEL killed at sendto #{n}, then DEL"),
        );
        if !del.killed {
            assert!(del.ok, "DEL not killed: {del:?}");
            assert!(n > 2, "only {} netlink requests in DEL", n - 1);
            return;
        }
    }
}

/// Starts ADD (or DEL) for container `c{i}` in pod `i` on VF `vf(i)`, all at once.
fn all_at_once(node: &Node, command: &str, count: usize, vf: impl Fn(usize) -> usize) -> Vec<Run> {
    let children: Vec<_> = (0..count)
        .map(|i| {
            let conf = node.conf(vf(i), json!({}));
            Node::spawn(&mut node.command(&[], command, &format!("c{i}"), i), &conf)
        })
        .collect();
    children
        .into_iter()
        .map(|c| Node::outcome(c.wait_with_output().unwrap()))
        .collect()
}

#[test]
fn eight_adds_for_one_vf_give_it_to_one_pod_and_change_nothing_else() {
    let _g = serial();
    let node = Node::new("ck1", 1, 8);
    let before = node.snapshot();
    let runs = all_at_once(&node, "ADD", 8, |_| 0);
    let winners: Vec<usize> = (0..8).filter(|&i| runs[i].ok).collect();
    assert_eq!(winners.len(), 1, "exactly one ADD gets the VF: {runs:#?}");
    let pci = &node.vfs[0].pci;
    for (i, r) in runs.iter().enumerate().filter(|(i, _)| *i != winners[0]) {
        assert_eq!(r.out["code"], 100, "ADD c{i}: {r:?}");
        let msg = r.out["msg"].as_str().unwrap_or_default();
        assert!(
            msg.contains(&format!(
                "VF {pci} is in use by attachment c{}/net1",
                winners[0]
            )),
            "ADD c{i}: {msg}"
        );
    }
    // Nothing half-configured: only the winner's pod changed, one state file, one address.
    let after = node.snapshot();
    let w = &node.pods[winners[0]];
    let changed: Vec<_> = after
        .iter()
        .filter(|l| !before.contains(l))
        .filter(|l| !l.starts_with(&format!("{w} ")))
        .filter(|l| !l.contains("/state/") && !l.contains("/ipam/"))
        .collect();
    assert!(
        changed.is_empty(),
        "changed outside the winner's pod: {changed:#?}"
    );
    assert_eq!(after.iter().filter(|l| l.contains("/state/")).count(), 1);
    assert_eq!(after.iter().filter(|l| l.contains("/ipam/")).count(), 1);
    let dels = all_at_once(&node, "DEL", 8, |_| 0);
    for (i, r) in dels.iter().enumerate() {
        assert!(r.ok, "DEL c{i}: {r:?}");
    }
    assert_same(&before, &node.snapshot(), "8 DELs at once");
}

#[test]
fn four_adds_for_four_vfs_all_succeed_at_once() {
    let _g = serial();
    let node = Node::new("ck4", 4, 4);
    let before = node.snapshot();
    let runs = all_at_once(&node, "ADD", 4, |i| i);
    let mut addrs = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        assert!(r.ok, "ADD c{i}: {r:?}");
        assert_eq!(
            r.out["interfaces"][0]["pciID"],
            Value::Null,
            "1.0.0 has no pciID"
        );
        addrs.push(r.out["ips"][0]["address"].as_str().unwrap().to_owned());
        let link = Command::new("ip")
            .args(["-n", &node.pods[i], "-j", "addr", "show", "net1"])
            .output()
            .unwrap();
        assert!(link.status.success(), "net1 is in pod {i}");
    }
    addrs.sort();
    addrs.dedup();
    assert_eq!(addrs.len(), 4, "four different addresses: {addrs:?}");
    let dels = all_at_once(&node, "DEL", 4, |i| i);
    for (i, r) in dels.iter().enumerate() {
        assert!(r.ok, "DEL c{i}: {r:?}");
    }
    assert_same(&before, &node.snapshot(), "4 DELs at once");
}
