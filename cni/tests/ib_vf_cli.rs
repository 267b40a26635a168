//! `ib-vf` on the host: help and argument errors (no netlink needed for those).

use std::process::Command;

fn ib_vf(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ib-vf"))
        .args(args)
        .output()
        .expect("run ib-vf");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_names_every_subcommand() {
    let (code, out, _) = ib_vf(&["--help"]);
    assert_eq!(code, Some(0));
    for word in ["guid", "link-state", "CAP_NET_ADMIN", "--rebind"] {
        assert!(out.contains(word), "--help lacks {word}: {out}");
    }
    let (code, out, _) = ib_vf(&["guid", "set", "--help"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("02:00:00:00:00:00:00:05"), "{out}");
}

#[test]
fn bad_arguments_exit_2_naming_them() {
    for (args, needle) in [
        (&["guid", "set", "ib0", "0", "02:00"][..], "02:00"),
        (
            &["guid", "set", "ib0", "x", "02:00:00:00:00:00:00:05"][..],
            "'x'",
        ),
        (&["link-state", "ib0", "0", "up"][..], "up"),
        (
            &[
                "guid",
                "set",
                "ib0",
                "0",
                "02:00:00:00:00:00:00:05",
                "--only",
                "both",
            ][..],
            "both",
        ),
        (&["frobnicate"][..], "frobnicate"),
    ] {
        let (code, _, err) = ib_vf(args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(
            err.contains(needle),
            "{args:?}: stderr lacks {needle}: {err}"
        );
    }
}
