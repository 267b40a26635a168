//! The CNI plugin's image (`deploy/cni/Containerfile`), its entrypoint
//! (`deploy/cni/install-cni.sh`) and Kubernetes manifests (`deploy/cni/k8s`) against what they
//! name, on the host (no RDMA device, no container runtime, no cluster):
//!
//! * the image is `FROM scratch` with the root file system `scripts/build-images` assembles
//!   from `scripts/build-release cni` (the build CI runs), as root, and busybox applets for
//!   every program the install script runs;
//! * the binaries the build script builds and the image ships are exactly cni/Cargo.toml's
//!   `[[bin]]`s, and the entrypoint installs the one the network configs name (`ib-sriov`);
//! * against the built image (`target/images/ib-sriov-cni.files`, listed by
//!   `scripts/test-images`; NOT CHECKED without it, a failure when `RDMA_IMAGE_FILES` is set):
//!   the entrypoint, the script's programs, its default plugin and the pods' programs are
//!   executables there, and /usr/local/bin holds exactly the binaries and the script;
//! * the install script, run for real into a temporary directory: the plugin arrives
//!   executable and byte for byte, an existing plugin is replaced by a rename (a runtime
//!   running it keeps its file), no temporary file is left, a missing directory fails;
//! * every YAML document parses; the DaemonSet mounts the host's /opt/cni/bin where the script
//!   installs, with no privileges;
//! * both NetworkAttachmentDefinitions (this one and deploy/k8s's rdma-perf network) are
//!   configs this plugin accepts for ADD once Multus has filled in `deviceID`, on the same
//!   device plugin resource;
//! * the validate pod attaches to that network, requests one VF of its resource, and runs
//!   `rdma-validate` with arguments the binary accepts and the NAD's expectations.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use ib_sriov_cni::config::NetConf;
use ib_sriov_cni::validate::{ExpectedLinkLayer, Mode};
use ib_sriov_cni::Pkey;
use yaml_rust2::Yaml;

#[path = "../../deploy/manifest_checks.rs"]
mod manifest_checks;

use manifest_checks::{
    argv, assert_build_images_builds, assert_can_lock_memory, assert_from_scratch,
    assert_nad_api_version, bash, build_images_list, containers, docs_in, image_entrypoint,
    image_path_dirs, image_user, nad_resource, pod_networks, read, repo, seq, shell_programs,
    str_map, strings, Doc, ImageFiles, BUILD_IMAGES,
};

const IMAGE: &str = "deploy/cni/Containerfile";
const INSTALL_SCRIPT: &str = "deploy/cni/install-cni.sh";
const MANIFESTS: &str = "deploy/cni/k8s";
const RDMA_PERF_MANIFESTS: &str = "deploy/k8s";

/// Where the image puts its programs.
const IMAGE_BIN_DIR: &str = "/usr/local/bin/";
/// Where container runtimes look for CNI plugins on the node.
const HOST_CNI_BIN_DIR: &str = "/opt/cni/bin";
/// The plugin's file name, which is its CNI `type`.
const PLUGIN: &str = "ib-sriov";
/// A VF's PCI address, standing in for the `deviceID` Multus adds from the device plugin.
const DUMMY_DEVICE_ID: &str = "0000:03:00.2";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// cni/Cargo.toml's `[[bin]]` names (a line scan: `name = "..."` inside `[[bin]]` tables).
fn cargo_bins() -> BTreeSet<String> {
    let mut in_bin = false;
    let mut names = BTreeSet::new();
    for line in read("cni/Cargo.toml").lines() {
        let t = line.trim();
        if t.starts_with('[') {
            in_bin = t == "[[bin]]";
        } else if let Some(v) = in_bin
            .then(|| t.strip_prefix("name"))
            .flatten()
            .and_then(|r| r.trim_start().strip_prefix('='))
        {
            names.insert(v.trim().trim_matches('"').to_string());
        }
    }
    assert!(
        names.contains(PLUGIN),
        "cni/Cargo.toml has no [[bin]] {PLUGIN}"
    );
    names
}

// ---------------------------------------------------------------------------------------------
// The Containerfiles and scripts

/// The binaries the image ships in /usr/local/bin: scripts/build-images installs every
/// executable `scripts/build-release cni` prints (`assert_build_images_builds`).
fn image_binaries() -> BTreeSet<String> {
    build_release_cni_bins()
}

/// Where scripts/build-images puts the install script in the image (its
/// `install -m 0755 deploy/cni/install-cni.sh "$rootfs/DEST"`).
fn image_install_script() -> String {
    let prefix = format!("install -m 0755 {INSTALL_SCRIPT} \"$rootfs");
    read(BUILD_IMAGES)
        .lines()
        .find_map(|l| l.trim().strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("{BUILD_IMAGES} does not install {INSTALL_SCRIPT}"))
        .trim_end_matches('"')
        .to_string()
}

/// The binaries `scripts/build-release cni` builds: its `cni)` target's `bins="..."`, after
/// checking that target builds every binary of the package.
fn build_release_cni_bins() -> BTreeSet<String> {
    let script = read("scripts/build-release");
    let arm = script
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("cni)"))
        .expect("scripts/build-release has no `cni)` target");
    assert!(
        arm.contains("package=ib-sriov-cni") && arm.contains("select=(--bins)"),
        "scripts/build-release cni does not build every binary of ib-sriov-cni: {arm}"
    );
    let bins = arm
        .split_once("bins=\"")
        .and_then(|(_, r)| r.split_once('"'))
        .unwrap_or_else(|| panic!("no bins=\"...\" in {arm}"))
        .0;
    bins.split_whitespace().map(str::to_string).collect()
}

/// The default of `${var:-default}` in the install script.
fn install_script_default(var: &str) -> String {
    let pat = format!("${{{var}:-");
    read(INSTALL_SCRIPT)
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .find_map(|l| Some(l.split_once(&pat)?.1.split_once('}')?.0.to_string()))
        .unwrap_or_else(|| panic!("{INSTALL_SCRIPT} has no ${{{var}:-...}}"))
}

/// The external programs the install script runs.
fn install_script_programs() -> BTreeSet<String> {
    shell_programs(&read(INSTALL_SCRIPT))
}

// ---------------------------------------------------------------------------------------------
// The manifests

/// The one document of a kind.
fn the<'a>(docs: &'a [Doc], kind: &str) -> &'a Doc {
    let found: Vec<&Doc> = docs.iter().filter(|d| d.kind() == kind).collect();
    assert_eq!(found.len(), 1, "expected one {kind}");
    found[0]
}

/// The NAD's `spec.config` as this plugin reads it at ADD: with the `deviceID` Multus adds,
/// decoded and past `check_for_add` (everything ADD checks before touching the node).
fn nad_conf(nad: &Doc) -> NetConf {
    let what = nad.what();
    let config = nad.yaml["spec"]["config"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: no spec.config"));
    let mut json: serde_json::Value = serde_json::from_str(config)
        .unwrap_or_else(|e| panic!("{what}: spec.config is not JSON: {e}"));
    assert!(
        json.get("deviceID").is_none(),
        "{what}: deviceID is the allocated VF's, which Multus fills in: the NAD must not fix one"
    );
    json["deviceID"] = DUMMY_DEVICE_ID.into();
    let conf = NetConf::parse(json.to_string().as_bytes())
        .unwrap_or_else(|e| panic!("{what}: the plugin refuses the config: {e}"));
    if let Err(e) = conf.check_for_add() {
        panic!("{what}: ADD would refuse the config: {e}");
    }
    assert_eq!(conf.plugin_type, PLUGIN, "{what}: type");
    assert_eq!(conf.name, nad.name(), "{what}: config name");
    conf
}

/// The one container of a pod spec.
fn only_container<'a>(spec: &'a Yaml, what: &str) -> &'a Yaml {
    let cs: Vec<&Yaml> = seq(&spec["containers"]).collect();
    assert_eq!(cs.len(), 1, "{what}: expected one container");
    cs[0]
}

// ---------------------------------------------------------------------------------------------
// The image

#[test]
fn image_is_from_scratch_with_the_root_build_images_assembles() {
    assert_from_scratch(IMAGE);
    assert_build_images_builds("ib-sriov-cni", IMAGE, "cni");
    // Root: the entrypoint writes into the host's /opt/cni/bin, which root owns.
    assert_eq!(image_user(IMAGE), "0:0", "{IMAGE}: USER");
    let path = image_path_dirs(IMAGE);
    assert!(
        path.iter().any(|d| format!("{d}/") == IMAGE_BIN_DIR),
        "{IMAGE}: PATH {path:?} lacks {IMAGE_BIN_DIR}"
    );
    // busybox provides the shell and every program the script runs.
    let applets: BTreeSet<String> = build_images_list("cni_applets").into_iter().collect();
    assert!(applets.contains("sh"), "no sh for the ENTRYPOINT");
    let progs = install_script_programs();
    for p in ["cp", "chmod", "mv", "sleep", "rm"] {
        assert!(progs.contains(p), "the script parser missed {p}: {progs:?}");
    }
    for p in &progs {
        assert!(
            applets.contains(p),
            "{INSTALL_SCRIPT} runs {p}, which the image's busybox applets ({applets:?}) lack"
        );
    }
}

#[test]
fn manifests_name_what_the_built_image_has() {
    let Some(files) = ImageFiles::load("ib-sriov-cni") else {
        return;
    };
    let path = image_path_dirs(IMAGE);
    for (i, p) in image_entrypoint(IMAGE).iter().enumerate() {
        assert!(
            files.resolve(p).is_some_and(|(_, e)| e.kind == 'f'),
            "ENTRYPOINT word {p} is not a file of the built image"
        );
        if i == 0 {
            files.assert_runs(p, &path, "the ENTRYPOINT");
        }
    }
    files.assert_runs(
        &install_script_default("IB_SRIOV_BIN"),
        &path,
        "IB_SRIOV_BIN's default",
    );
    for p in install_script_programs() {
        files.assert_runs(&p, &path, INSTALL_SCRIPT);
    }
    let docs = docs_in(MANIFESTS);
    for d in &docs {
        let spec = match d.kind() {
            "Pod" => &d.yaml["spec"],
            "DaemonSet" => &d.yaml["spec"]["template"]["spec"],
            _ => continue,
        };
        for c in containers(spec) {
            files.assert_runs(&argv(c, IMAGE)[0], &path, &d.what());
        }
    }
    // /usr/local/bin: the binaries and the script, nothing else.
    let mut want = image_binaries();
    want.insert(
        image_install_script()
            .trim_start_matches(IMAGE_BIN_DIR)
            .into(),
    );
    for b in &want {
        assert!(
            files.is_executable(&format!("{IMAGE_BIN_DIR}{b}")),
            "{b} in the built image"
        );
    }
    assert_eq!(
        files.names_in(IMAGE_BIN_DIR),
        want,
        "/usr/local/bin of the built image"
    );
}

#[test]
fn build_script_and_image_carry_every_binary_and_nothing_else() {
    let bins = cargo_bins();
    assert_eq!(
        build_release_cni_bins(),
        bins,
        "scripts/build-release cni vs cni/Cargo.toml's [[bin]]s"
    );
    assert_eq!(
        image_binaries(),
        bins,
        "{IMAGE}'s binaries vs cni/Cargo.toml's [[bin]]s"
    );

    // The script runs: its syntax, its help, and a target it does not know.
    let script = repo().join("scripts/build-release");
    let out = bash(&["-n", script.to_str().unwrap()]);
    assert!(out.status.success(), "bash -n: {}", text(&out.stderr));
    let out = bash(&[script.to_str().unwrap(), "--help"]);
    assert_eq!(out.status.code(), Some(0), "--help: {}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("cni"),
        "--help names no cni target"
    );
    let out = bash(&[script.to_str().unwrap(), "no-such-target"]);
    assert_eq!(out.status.code(), Some(2), "an unknown target");
    assert!(text(&out.stderr).contains("unknown target"));
}

#[test]
fn entrypoint_installs_the_plugin_the_image_carries() {
    let script = image_install_script();
    assert!(
        script.starts_with(IMAGE_BIN_DIR),
        "{IMAGE}: install script at {script}"
    );
    assert_eq!(
        image_entrypoint(IMAGE),
        ["/bin/sh", script.as_str()],
        "{IMAGE}: ENTRYPOINT"
    );
    assert_eq!(
        install_script_default("IB_SRIOV_BIN"),
        format!("{IMAGE_BIN_DIR}{PLUGIN}"),
        "{INSTALL_SCRIPT}: the default source is not where the image has the plugin"
    );
    assert!(image_binaries().contains(PLUGIN));
}

// ---------------------------------------------------------------------------------------------
// The install script, run

/// Runs the install script with `sh` (as the image does), installing `src` into `dir`, and
/// exiting after the install.
fn install(src: &Path, dir: &Path) -> Output {
    Command::new("sh")
        .arg(repo().join(INSTALL_SCRIPT))
        .env("CNI_BIN_DIR", dir)
        .env("IB_SRIOV_BIN", src)
        .env("INSTALL_ONLY", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run sh")
}

fn entries(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn install_script_installs_the_plugin_atomically() {
    let script = repo().join(INSTALL_SCRIPT);
    let out = Command::new("sh").arg("-n").arg(&script).output().unwrap();
    assert!(out.status.success(), "sh -n: {}", text(&out.stderr));

    let src = Path::new(env!("CARGO_BIN_EXE_ib-sriov"));
    let want = fs::read(src).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bin");
    fs::create_dir(&dir).unwrap();
    let dest = dir.join(PLUGIN);

    // A fresh install.
    let out = install(src, &dir);
    assert!(
        out.status.success(),
        "install: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(fs::read(&dest).unwrap() == want, "not the source's bytes");
    let mode = fs::metadata(&dest).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o755, "mode {mode:o}");
    assert_eq!(entries(&dir), BTreeSet::from([PLUGIN.to_string()]));

    // The installed file is the plugin.
    let mut child = Command::new(&dest)
        .env("CNI_COMMAND", "VERSION")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"cniVersion":"1.0.0"}"#)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "installed plugin VERSION");
    assert!(text(&out.stdout).contains("supportedVersions"));

    // An upgrade over an existing plugin: the old file is replaced by a rename, not written
    // in place, so a runtime executing it meanwhile keeps an intact file. A second link to the
    // old file shows which: it still has the old bytes and the plugin is another inode.
    let old = tmp.path().join("old-plugin");
    fs::write(&dest, b"the previous plugin").unwrap();
    fs::hard_link(&dest, &old).unwrap();
    let out = install(src, &dir);
    assert!(out.status.success(), "reinstall: {}", text(&out.stderr));
    assert_eq!(fs::read(&old).unwrap(), b"the previous plugin");
    assert_ne!(
        fs::metadata(&old).unwrap().ino(),
        fs::metadata(&dest).unwrap().ino(),
        "the plugin was overwritten in place"
    );
    assert!(fs::read(&dest).unwrap() == want, "not the source's bytes");
    assert_eq!(entries(&dir), BTreeSet::from([PLUGIN.to_string()]));

    // Missing directory or plugin: an error naming it, nothing created.
    let missing = tmp.path().join("no-such-dir");
    let out = install(src, &missing);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no-such-dir"),
        "{}",
        text(&out.stderr)
    );
    assert!(!missing.exists());
    let out = install(&tmp.path().join("no-plugin"), &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no-plugin"),
        "{}",
        text(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// The manifests

#[test]
fn manifests_parse_and_are_named() {
    let docs = docs_in(MANIFESTS);
    let mut seen = BTreeSet::new();
    for d in &docs {
        assert!(
            d.yaml["apiVersion"].as_str().is_some(),
            "{}: apiVersion",
            d.what()
        );
        assert!(!d.kind().is_empty(), "{}: kind", d.what());
        assert!(!d.name().is_empty(), "{}: metadata.name", d.what());
        assert!(seen.insert((d.kind(), d.name())), "{} twice", d.what());
    }
    for kind in ["DaemonSet", "NetworkAttachmentDefinition", "Pod"] {
        the(&docs, kind);
    }
}

#[test]
fn daemonset_mounts_the_host_cni_dir_where_the_script_installs() {
    let docs = docs_in(MANIFESTS);
    let ds = the(&docs, "DaemonSet");
    let what = ds.what();
    assert_eq!(ds.yaml["apiVersion"].as_str(), Some("apps/v1"), "{what}");
    assert_eq!(
        ds.yaml["metadata"]["namespace"].as_str(),
        Some("kube-system"),
        "{what}"
    );
    let spec = &ds.yaml["spec"]["template"]["spec"];
    // The API server refuses a selector that does not select the template.
    let selector = str_map(&ds.yaml["spec"]["selector"]["matchLabels"]);
    let labels = str_map(&ds.yaml["spec"]["template"]["metadata"]["labels"]);
    assert!(
        !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v)),
        "{what}: the selector does not select the pod template"
    );
    assert!(
        !str_map(&spec["nodeSelector"]).is_empty(),
        "{what}: no nodeSelector"
    );
    assert!(
        seq(&spec["tolerations"])
            .any(|t| t["operator"].as_str() == Some("Exists") && t["key"].is_badvalue()),
        "{what}: does not tolerate every taint"
    );

    let c = only_container(spec, &what);
    let script = image_install_script();
    assert!(
        argv(c, IMAGE).contains(&script),
        "{what}: the container does not run {script}"
    );
    // Where the script installs: the DaemonSet's CNI_BIN_DIR, else the script's default.
    let target = seq(&c["env"])
        .find(|e| e["name"].as_str() == Some("CNI_BIN_DIR"))
        .map(|e| e["value"].as_str().expect("CNI_BIN_DIR value").to_string())
        .unwrap_or_else(|| install_script_default("CNI_BIN_DIR"));
    let mount = seq(&c["volumeMounts"])
        .find(|m| m["mountPath"].as_str() == Some(target.as_str()))
        .unwrap_or_else(|| panic!("{what}: nothing is mounted at {target}, where the plugin goes"));
    assert_ne!(
        mount["readOnly"].as_bool(),
        Some(true),
        "{what}: {target} is read-only"
    );
    let vol = mount["name"].as_str().unwrap();
    let host = seq(&spec["volumes"])
        .find(|v| v["name"].as_str() == Some(vol))
        .unwrap_or_else(|| panic!("{what}: no volume {vol}"));
    assert_eq!(
        host["hostPath"]["path"].as_str(),
        Some(HOST_CNI_BIN_DIR),
        "{what}: volume {vol} is not the host's CNI bin directory"
    );

    // No privileges: it only writes a file.
    let sc = &c["securityContext"];
    assert_ne!(sc["privileged"].as_bool(), Some(true), "{what}: privileged");
    assert_eq!(
        sc["allowPrivilegeEscalation"].as_bool(),
        Some(false),
        "{what}"
    );
    assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"], "{what}");
    assert!(
        strings(&sc["capabilities"]["add"]).is_empty(),
        "{what}: adds capabilities"
    );
    let requests = str_map(&c["resources"]["requests"]);
    assert!(
        requests.contains_key("cpu") && requests.contains_key("memory"),
        "{what}: resource requests"
    );
}

#[test]
fn networks_are_configs_the_plugin_accepts_on_one_resource() {
    let docs = docs_in(MANIFESTS);
    let nad = the(&docs, "NetworkAttachmentDefinition");
    assert_nad_api_version(nad);
    let conf = nad_conf(nad);
    assert!(
        conf.pkey.is_some(),
        "{}: no pkey for the validation",
        nad.what()
    );
    assert_eq!(conf.validation.mode, Mode::Loopback, "{}", nad.what());
    assert_eq!(
        conf.validation.link_layer,
        ExpectedLinkLayer::Infiniband,
        "{}",
        nad.what()
    );

    // The rdma-perf network of deploy/k8s is for this plugin too (the same type), on the
    // same device plugin resource, so one device plugin config serves both.
    let perf_docs = docs_in(RDMA_PERF_MANIFESTS);
    let perf = the(&perf_docs, "NetworkAttachmentDefinition");
    nad_conf(perf);
    assert_eq!(nad_resource(nad), nad_resource(perf), "resourceName");
    assert_ne!(nad.name(), perf.name(), "both networks have one name");
}

#[test]
fn validate_pod_runs_rdma_validate_on_a_vf_of_the_network() {
    let docs = docs_in(MANIFESTS);
    let nad = the(&docs, "NetworkAttachmentDefinition");
    let pod = the(&docs, "Pod");
    let what = pod.what();
    assert_eq!(pod_networks(pod), [nad.name()], "{what}: networks");

    let c = only_container(&pod.yaml["spec"], &what);
    let ds = the(&docs, "DaemonSet");
    let ds_container = only_container(&ds.yaml["spec"]["template"]["spec"], &ds.what());
    assert_eq!(
        c["image"].as_str(),
        ds_container["image"].as_str(),
        "{what}: not the DaemonSet's image"
    );
    let argv = argv(c, IMAGE);
    let prog = argv[0].strip_prefix(IMAGE_BIN_DIR).unwrap_or(&argv[0]);
    assert_eq!(prog, "rdma-validate", "{what}: program");
    assert!(image_binaries().contains(prog));
    assert!(argv.contains(&"--json".to_string()), "{what}: no --json");

    // One VF of the NAD's resource (an extended resource: limits, requests equal).
    let resource = nad_resource(nad);
    let limits = str_map(&c["resources"]["limits"]);
    let requests = str_map(&c["resources"]["requests"]);
    assert_eq!(
        limits.get(&resource).map(String::as_str),
        Some("1"),
        "{what}"
    );
    assert_eq!(requests.get(&resource), limits.get(&resource), "{what}");

    // The NAD's expectations, not others.
    let conf = nad_conf(nad);
    let value = |opt: &str| {
        let i = argv.iter().position(|a| a == opt)?;
        Some(argv.get(i + 1).expect("a value").clone())
    };
    if let Some(p) = value("--pkey") {
        let p: Pkey = p
            .parse()
            .unwrap_or_else(|e| panic!("{what}: --pkey {p}: {e}"));
        assert_eq!(Some(p), conf.pkey, "{what}: --pkey is not the NAD's");
    }
    assert_eq!(
        value("--expect-link-layer").as_deref(),
        Some("infiniband"),
        "{what}: --expect-link-layer"
    );

    // Memory registration: CAP_IPC_LOCK, effective for root only.
    assert_can_lock_memory(c, &what);

    // The binary takes the pod's arguments: it fails for want of a device here (or runs, on a
    // machine with one), never with a usage error, and prints a JSON report either way.
    let out = Command::new(env!("CARGO_BIN_EXE_rdma-validate"))
        .args(&argv[1..])
        .env_remove("IB_SRIOV_SYSFS_ROOT")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_ne!(
        out.status.code(),
        Some(2),
        "{what}: the arguments are refused: {}",
        text(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{what}: not a JSON report ({e}): {}", text(&out.stdout)));
    assert!(report["passed"].is_boolean(), "{report}");
}
