//! `ib-sriov` run as a runtime runs it, on the host (no device, no root needed): bad input per
//! the CNI spec (environment, stdin, commands), running it by hand, and output to a closed
//! stdout. Each case gets a fresh temp tree (see `common`), which a bad input must leave as it
//! was. The configs are in `ib_sriov_configs.rs`.

mod common;

use common::{Node, Out, ADD_ENV, DEL_ENV, GOOD};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `base` with `key` removed (`None`) or set to `value`.
fn vars_with<'a>(
    base: &[(&'a str, &'a str)],
    key: &str,
    value: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let mut v: Vec<_> = base.iter().copied().filter(|(k, _)| *k != key).collect();
    if let Some(val) = value {
        let k = base.iter().find(|(k, _)| *k == key).map_or("", |(k, _)| *k);
        v.push((k, val));
    }
    v
}

fn with_command(command: &str) -> Vec<(&str, &str)> {
    vars_with(ADD_ENV, "CNI_COMMAND", Some(command))
}

/// A bad input: what it is, the environment, stdin, the code and what the message names.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a [u8], u64, &'a str);

#[test]
fn bad_stdin_and_bad_commands_fail_with_the_specs_code_and_change_nothing() {
    let huge = format!(
        r#"{{"cniVersion":"1.0.0","name":"{}"}}"#,
        "a".repeat(10 << 20)
    );
    let utf8 = b"{\"cniVersion\":\"1.0.0\",\"name\":\"\xc3\x28\"}";
    let cases: &[Case] = &[
        ("empty stdin", ADD_ENV.to_vec(), b"", 6, "empty"),
        ("10 MB", ADD_ENV.to_vec(), huge.as_bytes(), 6, "larger than"),
        ("invalid UTF-8", ADD_ENV.to_vec(), utf8, 6, "not valid JSON"),
        (
            "deviceID 5",
            ADD_ENV.to_vec(),
            br#"{"deviceID":5}"#,
            7,
            "deviceID",
        ),
        (
            "rdmaIsolation string",
            ADD_ENV.to_vec(),
            br#"{"cniVersion":"1.0.0","rdmaIsolation":"true"}"#,
            7,
            "rdmaIsolation",
        ),
        (
            "pkey number",
            ADD_ENV.to_vec(),
            br#"{"cniVersion":"1.0.0","pkey":5}"#,
            7,
            "pkey",
        ),
        (
            "ipam string",
            ADD_ENV.to_vec(),
            br#"{"cniVersion":"1.0.0","ipam":"host-local"}"#,
            7,
            "ipam",
        ),
        (
            "unknown command",
            with_command("FROBNICATE"),
            GOOD.as_bytes(),
            4,
            "CNI_COMMAND",
        ),
        (
            "lower-case command",
            with_command("add"),
            GOOD.as_bytes(),
            4,
            "CNI_COMMAND",
        ),
        (
            "path-like container ID",
            vars_with(ADD_ENV, "CNI_CONTAINERID", Some("../etc")),
            GOOD.as_bytes(),
            4,
            "CNI_CONTAINERID",
        ),
        (
            "bad interface name",
            vars_with(ADD_ENV, "CNI_IFNAME", Some("a/b")),
            GOOD.as_bytes(),
            4,
            "CNI_IFNAME",
        ),
    ];
    for (what, vars, stdin, code, needle) in cases {
        let out = Node::new().run_unchanged(vars, stdin);
        assert_eq!(out.code_naming(needle), *code, "{what}: {out:?}");
    }
}

#[test]
fn each_missing_variable_is_named_with_code_4() {
    let check = with_command("CHECK");
    for (vars, required) in [
        (
            ADD_ENV,
            &[
                "CNI_COMMAND",
                "CNI_CONTAINERID",
                "CNI_NETNS",
                "CNI_IFNAME",
                "CNI_PATH",
            ][..],
        ),
        (
            &check[..],
            &[
                "CNI_COMMAND",
                "CNI_CONTAINERID",
                "CNI_NETNS",
                "CNI_IFNAME",
                "CNI_PATH",
            ],
        ),
        (DEL_ENV, &["CNI_COMMAND", "CNI_CONTAINERID", "CNI_IFNAME"]),
    ] {
        for name in required {
            // Unset, and set but empty (which the spec treats the same).
            for value in [None, Some("")] {
                let env = vars_with(vars, name, value);
                let out = Node::new().run_unchanged(&env, GOOD.as_bytes());
                assert_eq!(out.code_naming(name), 4, "{env:?}: {out:?}");
            }
        }
    }
    // DEL needs neither a namespace nor CNI_PATH.
    Node::new().run(DEL_ENV, GOOD.as_bytes()).empty_success();
}

#[test]
fn without_cni_command_it_reads_no_stdin_and_says_what_it_is() {
    let node = Node::new();
    let before = node.listing();
    // stdin stays open and empty, as a terminal would: reading it would never end.
    let mut child = node
        .command(&[])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _stdin = child.stdin.take();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("ib-sriov without CNI_COMMAND waits for stdin");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    let out = Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).trim_end().to_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_eq!(out.code_naming("CNI_COMMAND"), 4);
    for word in ["CNI plugin", "0.1.0", "--help"] {
        assert!(out.stderr.contains(word), "stderr lacks {word}: {out:?}");
    }
    assert_eq!(node.listing(), before);
}

#[test]
fn help_tells_what_happens_without_a_command_and_options_are_checked() {
    let node = Node::new();
    let run = |arg: &str| {
        let out = node
            .command(&[])
            .arg(arg)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, help, _) = run("--help");
    assert_eq!(code, Some(0));
    for word in ["Without CNI_COMMAND", "code 4", "DEL needs only", "1 MiB"] {
        assert!(help.contains(word), "--help lacks {word}: {help}");
    }
    let (code, version, _) = run("--version");
    assert_eq!(code, Some(0));
    assert!(version.starts_with("ib-sriov "), "{version}");
    let (code, out, err) = run("--frobnicate");
    assert_eq!((code, out.as_str()), (Some(2), ""));
    assert!(err.contains("--frobnicate"), "{err}");
}

/// The write end of a pipe whose read end is already closed: writing to it fails with EPIPE.
fn closed_pipe() -> Stdio {
    let mut reader = Command::new("true").stdin(Stdio::piped()).spawn().unwrap();
    let write_end = reader.stdin.take().unwrap();
    reader.wait().unwrap();
    Stdio::from(write_end)
}

#[test]
fn a_closed_stdout_never_panics() {
    let node = Node::new();
    let bins = [
        env!("CARGO_BIN_EXE_ib-sriov"),
        env!("CARGO_BIN_EXE_rdma-validate"),
        env!("CARGO_BIN_EXE_ib-vf"),
    ];
    let mut runs: Vec<(Command, &[u8])> = Vec::new();
    for bin in bins {
        for arg in ["--help", "--version"] {
            let mut c = Command::new(bin);
            c.arg(arg);
            runs.push((c, b""));
        }
    }
    let version = node.command(&[("CNI_COMMAND", "VERSION")]);
    runs.push((version, br#"{"cniVersion":"1.0.0"}"#));
    runs.push((node.command(ADD_ENV), b"null"));
    runs.push((node.command(&[]), b""));
    for (mut cmd, stdin) in runs {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(closed_pipe())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        let _ = input.write_all(stdin);
        drop(input);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{cmd:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{cmd:?}: {stderr}");
        assert!(stderr.lines().count() <= 1, "{cmd:?}: {stderr}");
    }
}
