//! The CNI plugin's netlink layer against the VM's kernel: rtnetlink on dummy links (rename,
//! up/down, network namespaces, addresses, routes, VF requests a dummy cannot do) and RDMA
//! netlink on rxe0 (devices, netns mode, moving a device). Each result is compared with what
//! iproute2 (`ip`, `rdma`) reports, and each error test checks the error kind.
//!
//! Tests run in parallel threads and share the VM with the other device tests: every link and
//! namespace has a name of its own and is removed by a drop guard, and the RDMA netns mode is
//! put back to shared even when a test fails.

mod cni_netlink {
    use ib_sriov_cni::netlink::{
        GuidKind, NetlinkError, NetnsMode, RdmaNetlink, Route, VfLinkState,
    };
    use ib_sriov_cni::Guid;
    use std::fs::File;
    use std::net::IpAddr;
    use std::os::fd::{AsFd, AsRawFd};
    use std::process::Command;
    use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
    use std::thread;
    use std::time::{Duration, Instant};

    /// The kernel refuses an RDMA netns mode change while any network namespace besides the
    /// initial one exists: tests that create namespaces hold this shared, the test that
    /// changes the mode holds it exclusively.
    static NAMESPACES: RwLock<()> = RwLock::new(());

    fn creating_namespaces() -> RwLockReadGuard<'static, ()> {
        NAMESPACES.read().unwrap_or_else(|e| e.into_inner())
    }

    fn changing_rdma_mode() -> RwLockWriteGuard<'static, ()> {
        NAMESPACES.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs a command, asserts it succeeded, returns its standard output.
    fn run(args: &[&str]) -> String {
        let out = Command::new(args[0])
            .args(&args[1..])
            .output()
            .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8 output")
    }

    fn json(args: &[&str]) -> serde_json::Value {
        let text = run(args);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"))
    }

    /// A dummy link, deleted on drop (wherever it is named `name` in the host namespace).
    struct Dummy {
        name: String,
    }

    impl Dummy {
        fn new(name: &str) -> Dummy {
            let _ = Command::new("ip").args(["link", "del", name]).output();
            run(&["ip", "link", "add", name, "type", "dummy"]);
            Dummy { name: name.into() }
        }
    }

    impl Drop for Dummy {
        fn drop(&mut self) {
            let _ = Command::new("ip")
                .args(["link", "del", &self.name])
                .output();
        }
    }

    /// A named network namespace (`ip netns add`), deleted on drop (which deletes the dummy
    /// links still in it).
    struct Netns {
        name: String,
        file: File,
    }

    impl Netns {
        fn new(name: &str) -> Netns {
            let _ = Command::new("ip").args(["netns", "del", name]).output();
            run(&["ip", "netns", "add", name]);
            let file = File::open(format!("/run/netns/{name}")).expect("open the netns");
            Netns {
                name: name.into(),
                file,
            }
        }
    }

    impl Drop for Netns {
        fn drop(&mut self) {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.name])
                .output();
        }
    }

    /// The test process's own network namespace (the VM's initial one).
    fn host_netns() -> File {
        File::open("/proc/self/ns/net").expect("open /proc/self/ns/net")
    }

    /// Runs `f` on a new thread that entered the network namespace `ns`.
    fn in_netns<T: Send + 'static>(ns: &File, f: impl FnOnce() -> T + Send + 'static) -> T {
        let fd = ns.try_clone().expect("dup the netns fd");
        thread::spawn(move || {
            // SAFETY: `fd` is an open network namespace file for the whole call; setns only
            // changes this new thread's namespace, which nothing else shares.
            let rc = unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .expect("the thread in the namespace panicked")
    }

    #[test]
    fn rename_and_set_up_down_a_dummy() {
        let d = Dummy::new("cnl-a");
        let mut r = Route::open().unwrap();
        let link = r.link_by_name("cnl-a").unwrap();
        assert_eq!(link.name, "cnl-a");
        assert!(!link.up, "a new dummy is down");
        assert_eq!(link.hwaddr.len(), 6, "Ethernet address");
        assert!(link.vfs.is_empty());
        let shown = json(&["ip", "-j", "link", "show", "cnl-a"]);
        assert_eq!(shown[0]["ifindex"].as_u64(), Some(u64::from(link.index)));
        let mac: Vec<String> = link.hwaddr.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(shown[0]["address"].as_str(), Some(mac.join(":").as_str()));

        r.set_up(link.index, true).unwrap();
        assert!(r.link_by_index(link.index).unwrap().up);
        let flags = json(&["ip", "-j", "link", "show", "cnl-a"])[0]["flags"].to_string();
        assert!(flags.contains("\"UP\""), "{flags}");

        // A running link cannot be renamed: EBUSY from the kernel.
        match r.rename(link.index, "cnl-a2") {
            Err(e @ NetlinkError::Kernel { .. }) => {
                assert_eq!(e.errno(), Some(libc::EBUSY), "{e}");
                assert!(e.to_string().starts_with("rename cnl-a to cnl-a2: "), "{e}");
            }
            other => panic!("renaming an up link: {other:?}"),
        }

        r.set_up(link.index, false).unwrap();
        assert!(!r.link_by_name("cnl-a").unwrap().up);
        r.rename(link.index, "cnl-a2").unwrap();
        let _renamed = Dummy {
            name: "cnl-a2".into(),
        };
        drop(d);
        assert!(
            matches!(r.link_by_name("cnl-a"), Err(NetlinkError::NoSuchLink(n)) if n == "cnl-a")
        );
        let again = r.link_by_name("cnl-a2").unwrap();
        assert_eq!(again.index, link.index);
        run(&["ip", "link", "show", "cnl-a2"]);

        // A name another link has: EEXIST.
        assert!(
            matches!(r.rename(link.index, "lo"), Err(NetlinkError::Exists { .. })),
            "renaming to lo"
        );
        // Names the kernel would refuse are refused before asking it.
        for bad in ["", "way-too-long-name", "a/b", "a b", "a:b"] {
            assert!(
                matches!(
                    r.rename(link.index, bad),
                    Err(NetlinkError::InvalidName { .. })
                ),
                "{bad:?}"
            );
        }
        // Indexes and names no link has.
        assert!(matches!(
            r.link_by_index(0x7fff_fff0),
            Err(NetlinkError::NoSuchIndex(0x7fff_fff0))
        ));
        assert!(matches!(
            r.set_up(0x7fff_fff0, true),
            Err(NetlinkError::NoSuchIndex(_))
        ));
        assert!(matches!(
            r.link_by_name("cnl-none"),
            Err(NetlinkError::NoSuchLink(_))
        ));
    }

    #[test]
    fn move_to_a_netns_then_configure_addresses_and_routes_there() {
        let _ns_lock = creating_namespaces();
        let host = host_netns();
        let _d = Dummy::new("cnl-b");
        let ns = Netns::new("cnl-ns-b");
        let mut r = Route::open().unwrap();
        let link = r.link_by_name("cnl-b").unwrap();
        r.move_to_netns(link.index, ns.file.as_fd()).unwrap();
        assert!(matches!(
            r.link_by_name("cnl-b"),
            Err(NetlinkError::NoSuchLink(_))
        ));

        let back = host.try_clone().unwrap();
        let index = in_netns(&ns.file, move || {
            let mut r = Route::open().unwrap();
            let l = r
                .link_by_name("cnl-b")
                .expect("the link is in the namespace");
            r.rename(l.index, "net1").unwrap();
            r.set_up(l.index, true).unwrap();
            let v4: IpAddr = "192.0.2.5".parse().unwrap();
            let v6: IpAddr = "2001:db8::5".parse().unwrap();
            let gw: IpAddr = "192.0.2.1".parse().unwrap();
            r.add_address(l.index, v4, 24).unwrap();
            r.add_address(l.index, v6, 64).unwrap();
            r.add_route("198.51.100.77".parse().unwrap(), 24, Some(gw), l.index)
                .unwrap();
            r.add_route("0.0.0.0".parse().unwrap(), 0, Some(gw), l.index)
                .unwrap();
            r.add_route("203.0.113.0".parse().unwrap(), 24, None, l.index)
                .unwrap();
            r.add_route("2001:db8:1::".parse().unwrap(), 48, None, l.index)
                .unwrap();
            // Twice: EEXIST, with the kernel's own words.
            match r.add_address(l.index, v4, 24) {
                Err(e @ NetlinkError::Exists { .. }) => {
                    assert_eq!(e.errno(), Some(libc::EEXIST));
                    eprintln!("add_address twice: {e}");
                }
                other => panic!("adding an address twice: {other:?}"),
            }
            assert!(matches!(
                r.add_route("198.51.100.0".parse().unwrap(), 24, Some(gw), l.index),
                Err(NetlinkError::Exists { .. })
            ));
            // Arguments no request can carry.
            assert!(matches!(
                r.add_route("2001:db8:2::".parse().unwrap(), 48, Some(gw), l.index),
                Err(NetlinkError::InvalidArgument { .. })
            ));
            assert!(matches!(
                r.add_address(l.index, v4, 33),
                Err(NetlinkError::InvalidArgument { .. })
            ));
            // An unreachable gateway: the kernel's errno, not a panic or a success.
            match r.add_route(
                "198.18.99.0".parse().unwrap(),
                24,
                Some("10.9.9.9".parse().unwrap()),
                l.index,
            ) {
                Err(e @ NetlinkError::Kernel { .. }) => eprintln!("unreachable gateway: {e}"),
                other => panic!("route via an unreachable gateway: {other:?}"),
            }
            let mut have = r.addresses(l.index).unwrap();
            have.sort();
            assert!(have.contains(&(v4, 24)), "{have:?}");
            assert!(have.contains(&(v6, 64)), "{have:?}");
            let l = r.link_by_name("net1").unwrap();
            assert!(l.up);
            l.index
        });

        // What iproute2 sees in the namespace.
        let addrs = json(&["ip", "-n", "cnl-ns-b", "-j", "addr", "show", "dev", "net1"]);
        let info = addrs[0]["addr_info"].as_array().expect("addr_info");
        let v4 = info
            .iter()
            .find(|a| a["local"] == "192.0.2.5")
            .unwrap_or_else(|| panic!("192.0.2.5 in {addrs}"));
        assert_eq!(v4["prefixlen"], 24);
        assert_eq!(v4["broadcast"], "192.0.2.255");
        assert!(info
            .iter()
            .any(|a| a["local"] == "2001:db8::5" && a["prefixlen"] == 64));
        let routes = json(&["ip", "-n", "cnl-ns-b", "-j", "route", "show"]);
        let routes = routes.as_array().unwrap();
        let find = |dst: &str| {
            routes
                .iter()
                .find(|r| r["dst"] == dst)
                .unwrap_or_else(|| panic!("route {dst} in {routes:?}"))
        };
        assert_eq!(find("198.51.100.0/24")["gateway"], "192.0.2.1");
        assert_eq!(find("198.51.100.0/24")["dev"], "net1");
        assert_eq!(find("default")["gateway"], "192.0.2.1");
        assert_eq!(find("203.0.113.0/24")["scope"], "link");
        let routes6 = json(&["ip", "-n", "cnl-ns-b", "-6", "-j", "route", "show"]);
        assert!(
            routes6
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["dst"] == "2001:db8:1::/48"),
            "{routes6}"
        );

        // And back to the host, under its first name.
        in_netns(&ns.file, move || {
            let mut r = Route::open().unwrap();
            r.set_up(index, false).unwrap();
            r.rename(index, "cnl-b").unwrap();
            r.move_to_netns(index, back.as_fd()).unwrap();
            assert!(matches!(
                r.link_by_name("cnl-b"),
                Err(NetlinkError::NoSuchLink(_))
            ));
        });
        let l = r.link_by_name("cnl-b").expect("the link is back");
        assert!(!l.up);
    }

    #[test]
    fn vf_requests_on_a_dummy_are_unsupported() {
        let _d = Dummy::new("cnl-c");
        let mut r = Route::open().unwrap();
        let link = r.link_by_name("cnl-c").unwrap();
        let guid: Guid = "02:00:00:00:00:00:00:05".parse().unwrap();
        for kind in [GuidKind::Node, GuidKind::Port] {
            match r.set_vf_guid(link.index, 0, kind, guid) {
                Err(e @ NetlinkError::Unsupported { .. }) => {
                    assert_eq!(
                        e.to_string(),
                        "cnl-c cannot set VF GUIDs (EOPNOTSUPP): it is not an SR-IOV InfiniBand PF"
                    );
                    assert_eq!(e.errno(), Some(libc::EOPNOTSUPP));
                }
                other => panic!("{kind} GUID on a dummy: {other:?}"),
            }
        }
        for state in [VfLinkState::Enable, VfLinkState::Auto] {
            match r.set_vf_link_state(link.index, 0, state) {
                Err(NetlinkError::Unsupported { op, link, .. }) => {
                    assert_eq!(op, "set VF link state");
                    assert_eq!(link, "cnl-c");
                }
                other => panic!("link state {state} on a dummy: {other:?}"),
            }
        }
        // The netdev under rxe0 (a dummy too) says the same, naming itself.
        let rdma0 = r.link_by_name("rdma0").expect("the VM's rdma0");
        assert!(rdma0.vfs.is_empty());
        let e = r
            .set_vf_guid(rdma0.index, 0, GuidKind::Node, guid)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "rdma0 cannot set VF GUIDs (EOPNOTSUPP): it is not an SR-IOV InfiniBand PF"
        );
        // A PF index no link has.
        assert!(matches!(
            r.set_vf_guid(0x7fff_fff0, 0, GuidKind::Node, guid),
            Err(NetlinkError::NoSuchIndex(_))
        ));
    }

    /// `rdma sys show` prints `netns shared copy-on-fork on` (not JSON, even with -j).
    fn rdma_tool_netns_mode() -> String {
        let text = run(&["rdma", "sys", "show"]);
        let mut words = text.split_whitespace();
        words
            .by_ref()
            .find(|w| *w == "netns")
            .unwrap_or_else(|| panic!("no netns in `rdma sys show`: {text}"));
        words.next().expect("a mode after netns").to_owned()
    }

    #[test]
    fn rdma_devices_and_shared_mode() {
        let _ns_lock = creating_namespaces();
        let mut rdma = RdmaNetlink::open().unwrap();
        let devices = rdma.devices().unwrap();
        let shown = json(&["rdma", "-j", "dev", "show"]);
        let from_tool: Vec<(u32, String)> = shown
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["ifindex"].as_u64().unwrap() as u32,
                    d["ifname"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(devices, from_tool);
        let rxe0 = devices
            .iter()
            .find(|(_, n)| n == "rxe0")
            .unwrap_or_else(|| panic!("rxe0 in {devices:?}"))
            .0;
        assert_eq!(rdma.device_index("rxe0").unwrap(), rxe0);
        assert!(matches!(
            rdma.device_index("mlx5_99"),
            Err(NetlinkError::NoSuchRdmaDevice(n)) if n == "mlx5_99"
        ));

        assert_eq!(rdma.netns_mode().unwrap(), NetnsMode::Shared);
        assert_eq!(rdma_tool_netns_mode(), "shared");

        // Shared mode: a device cannot be moved, and the error says why.
        let ns = Netns::new("cnl-ns-d");
        match rdma.move_device_to_netns(rxe0, ns.file.as_fd()) {
            Err(e @ NetlinkError::Unsupported { .. }) => {
                let text = e.to_string();
                assert!(text.starts_with("RDMA device rxe0 cannot move to another network namespace (EOPNOTSUPP): the RDMA subsystem is in shared netns mode"), "{text}");
            }
            other => panic!("moving rxe0 in shared mode: {other:?}"),
        }
        // In shared mode the namespace sees rxe0 too.
        let seen = in_netns(&ns.file, || RdmaNetlink::open().unwrap().devices().unwrap());
        assert_eq!(seen, devices);
    }

    /// Puts the RDMA subsystem back in shared mode on drop, after the namespace it guards is
    /// gone (and rxe0 with it, back to the host); waits for the kernel to free namespaces.
    struct SharedModeOnDrop {
        ns: Option<Netns>,
    }

    /// Sets `mode`, retrying `EBUSY` for up to 30 s: namespaces are freed asynchronously, so
    /// one deleted a moment ago may still block the change.
    fn set_mode_when_free(mode: NetnsMode) -> Result<(), NetlinkError> {
        let start = Instant::now();
        let mut rdma = RdmaNetlink::open()?;
        loop {
            match rdma.set_netns_mode(mode) {
                Err(e)
                    if e.errno() == Some(libc::EBUSY)
                        && start.elapsed() < Duration::from_secs(30) =>
                {
                    thread::sleep(Duration::from_millis(200));
                }
                r => return r,
            }
        }
    }

    impl Drop for SharedModeOnDrop {
        fn drop(&mut self) {
            drop(self.ns.take());
            if let Err(e) = set_mode_when_free(NetnsMode::Shared) {
                eprintln!("cannot put the RDMA netns mode back to shared: {e}");
                if !thread::panicking() {
                    panic!("cannot put the RDMA netns mode back to shared: {e}");
                }
            }
        }
    }

    #[test]
    fn rdma_exclusive_mode_isolates_namespaces() {
        let _mode_lock = changing_rdma_mode();
        let mut guard = SharedModeOnDrop { ns: None };
        set_mode_when_free(NetnsMode::Exclusive).expect("switch to exclusive mode");
        let mut rdma = RdmaNetlink::open().unwrap();
        assert_eq!(rdma.netns_mode().unwrap(), NetnsMode::Exclusive);
        assert_eq!(rdma_tool_netns_mode(), "exclusive");
        let rxe0 = rdma.device_index("rxe0").unwrap();

        let ns = guard.ns.insert(Netns::new("cnl-ns-x"));
        // With a namespace besides the initial one, the kernel refuses any mode change.
        match rdma.set_netns_mode(NetnsMode::Shared) {
            Err(e @ NetlinkError::Kernel { .. }) => {
                assert_eq!(e.errno(), Some(libc::EBUSY), "{e}");
                eprintln!("mode change with a namespace present: {e}");
            }
            other => panic!("mode change with a namespace present: {other:?}"),
        }
        // Exclusive mode: a fresh namespace sees no RDMA device.
        let seen = in_netns(&ns.file, || {
            let mut r = RdmaNetlink::open().unwrap();
            (r.devices().unwrap(), r.device_index("rxe0"))
        });
        assert_eq!(seen.0, vec![]);
        assert!(matches!(seen.1, Err(NetlinkError::NoSuchRdmaDevice(_))));
        let tool = json(&[
            "ip", "netns", "exec", "cnl-ns-x", "rdma", "-j", "dev", "show",
        ]);
        assert_eq!(tool, serde_json::json!([]));

        let host = host_netns();
        match rdma.move_device_to_netns(rxe0, ns.file.as_fd()) {
            Ok(()) => {
                // The kernel allows it: rxe0 is in the namespace only, then back.
                assert!(matches!(
                    rdma.device_index("rxe0"),
                    Err(NetlinkError::NoSuchRdmaDevice(_))
                ));
                let tool = json(&[
                    "ip", "netns", "exec", "cnl-ns-x", "rdma", "-j", "dev", "show",
                ]);
                assert_eq!(tool[0]["ifname"], "rxe0");
                in_netns(&ns.file, move || {
                    let mut r = RdmaNetlink::open().unwrap();
                    let i = r.device_index("rxe0").unwrap();
                    r.move_device_to_netns(i, host.as_fd()).unwrap();
                });
                assert_eq!(rdma.device_index("rxe0").unwrap(), rxe0);
            }
            Err(e @ NetlinkError::Unsupported { .. }) => {
                // rxe has no user-context disassociation: the kernel refuses to move it.
                let text = e.to_string();
                assert!(
                    text.starts_with("RDMA device rxe0 cannot move to another network namespace (EOPNOTSUPP): its driver cannot move"),
                    "{text}"
                );
                eprintln!("moving rxe0 in exclusive mode: {text}");
                assert_eq!(rdma.device_index("rxe0").unwrap(), rxe0, "rxe0 stayed");
            }
            Err(e) => panic!("moving rxe0 in exclusive mode: {e:?}"),
        }
        // An index no device has.
        assert!(matches!(
            rdma.move_device_to_netns(rxe0 + 1000, ns.file.as_fd()),
            Err(NetlinkError::NoSuchRdmaIndex(i)) if i == rxe0 + 1000
        ));

        drop(guard);
        let mut rdma = RdmaNetlink::open().unwrap();
        assert_eq!(rdma.netns_mode().unwrap(), NetnsMode::Shared);
        assert_eq!(rdma_tool_netns_mode(), "shared");
        assert_eq!(rdma.device_index("rxe0").unwrap(), rxe0);
    }
}
