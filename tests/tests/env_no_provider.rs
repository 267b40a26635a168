//! A device the kernel has but libibverbs cannot drive gives Error::NoProvider.
//!
//! libibverbs finds providers through compile-time paths (`/etc/libibverbs.d` and the provider
//! directory), so this test re-runs itself in a private mount namespace (`unshare -m`, root in
//! the VM) with empty file systems mounted over both. `harness = false`: `main` is the parent
//! when `RDMA_NO_PROVIDER_CHILD` is unset, the check itself when it is set.

use rdma_verbs::{DeviceList, Error};
use std::process::Command;

const PROVIDER_DIRS: [&str; 2] = ["/etc/libibverbs.d", "/usr/lib/x86_64-linux-gnu/libibverbs"];

fn check() -> Result<(), String> {
    let kernel: Vec<String> = std::fs::read_dir("/sys/class/infiniband")
        .map_err(|e| format!("no RDMA device in the kernel ({e}): run in the VM"))?
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    if kernel.is_empty() {
        return Err("no RDMA device in the kernel: run in the VM".into());
    }
    let list = DeviceList::new().map_err(|e| e.to_string())?;
    if !list.is_empty() {
        return Err(format!("providers are still visible: {list:?}"));
    }
    match list.find(None) {
        Err(Error::NoProvider { device }) if kernel.contains(&device) => {}
        other => return Err(format!("find(None): expected NoProvider, got {other:?}")),
    }
    match list.find(Some(&kernel[0])) {
        Err(e @ Error::NoProvider { .. }) if e.to_string().contains("ibverbs-providers") => {}
        other => {
            return Err(format!(
                "find({}): expected NoProvider, got {other:?}",
                kernel[0]
            ))
        }
    }
    Ok(())
}

fn main() {
    if std::env::var_os("RDMA_NO_PROVIDER_CHILD").is_some() {
        match check() {
            Ok(()) => std::process::exit(0),
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1)
            }
        }
    }
    println!("\nrunning 1 test");
    let exe = std::env::current_exe().expect("own path");
    let mounts: String = PROVIDER_DIRS
        .iter()
        .map(|d| format!("mount -t tmpfs none {d} && "))
        .collect();
    let status = Command::new("unshare")
        .args(["-m", "sh", "-c"])
        .arg(format!("{mounts}exec \"$0\""))
        .arg(&exe)
        .env("RDMA_NO_PROVIDER_CHILD", "1")
        .status();
    let ok = matches!(status, Ok(s) if s.success());
    if !ok {
        eprintln!(
            "device_without_provider_is_named: {status:?} (needs root and a device: run in the VM)"
        );
    }
    println!(
        "test device_without_provider_is_named ... {}",
        if ok { "ok" } else { "FAILED" }
    );
    println!(
        "\ntest result: {}. {} passed; {} failed; 0 ignored; 0 measured; 0 filtered out\n",
        if ok { "ok" } else { "FAILED" },
        ok as u8,
        !ok as u8
    );
    std::process::exit(if ok { 0 } else { 101 });
}
