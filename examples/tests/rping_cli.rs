//! The `rping` binary's command line and its behaviour on a machine without RDMA (like the
//! CI host): usage errors exit 2 naming what is wrong, a missing device is one clear line and
//! exit 1, never a crash. The protocol itself runs in the VM (tests/tests/interop_rping.rs).

use std::process::{Command, Output};

fn rping(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rping"))
        .args(args)
        .output()
        .expect("run rping")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn kernel_has_devices() -> bool {
    std::fs::read_dir("/sys/class/infiniband").is_ok_and(|mut d| d.next().is_some())
}

#[test]
fn help_lists_the_c_tools_options() {
    let o = rping(&["--help"]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    for opt in [
        "-s", "-c", "-a", "-I", "-p", "-C", "-S", "-v", "-V", "-d", "-P", "-q",
    ] {
        assert!(
            text.contains(&format!("{opt}, ")),
            "--help lacks {opt}:\n{text}"
        );
    }
}

#[test]
fn usage_errors_name_the_problem() {
    let o = rping(&["-s", "-S", "22"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("22 is not in 23..=65535"),
        "{}",
        stderr(&o)
    );
    let o = rping(&["-a", "198.18.0.1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--server|--client"), "{}", stderr(&o));
    let o = rping(&["-c"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "rping: a client needs the server's address: -a ADDR\n"
    );
}

#[test]
fn without_rdma_both_roles_say_so() {
    if kernel_has_devices() {
        // The interop tests cover a machine with RDMA.
        return;
    }
    for args in [&["-s"][..], &["-c", "-a", "127.0.0.1", "-C", "1"][..]] {
        let o = rping(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.starts_with("rping: "), "{err}");
        assert!(err.contains("no RDMA device found"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}
