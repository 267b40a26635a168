//! The pod image (`deploy/Containerfile`) and the Kubernetes examples (`deploy/k8s`) against
//! what they name, on the host (no RDMA device, no container runtime):
//!
//! * every YAML document parses and has `apiVersion`, `kind` and `metadata.name`;
//! * the NetworkAttachmentDefinition is an ib-sriov network whose device plugin resource the
//!   pods request, and the pods' network annotation names it;
//! * every container's program is a name the image provides, and the image's perftest names
//!   are exactly the tests the binary runs: each, as a symlink to the built `rdma-perf`,
//!   prints that test's help;
//! * every option a pod passes is one the test accepts (listed in its `--help`, and the
//!   binary run with the pod's arguments fails for want of a device, not on its arguments);
//! * the client reaches the server through a Service that selects the server pod, with the
//!   same test and options;
//! * the image is `FROM scratch` with the root file system `scripts/build-images` assembles
//!   from `scripts/build-release`'s binary (the build CI runs), non-root by default;
//! * against the built image (`target/images/rdma-perf.files`, which `scripts/test-images`
//!   lists from the image loaded from its archive): every program the pods and the entrypoint
//!   run is an executable there, and the perftest names are its symlinks to `rdma-perf`.
//!   Without that list the check says NOT CHECKED; with `RDMA_IMAGE_FILES` set (as
//!   `scripts/test-images` runs it) a missing list fails.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use yaml_rust2::Yaml;

#[path = "../../deploy/manifest_checks.rs"]
mod manifest_checks;

use manifest_checks::{
    argv, assert_build_images_builds, assert_can_lock_memory, assert_from_scratch,
    assert_nad_api_version, bash, build_images_list, build_images_var, containers, docs_in,
    image_entrypoint, image_path_dirs, image_user, nad_resource, pod_networks, read, repo, str_map,
    Doc, ImageFiles, BUILD_IMAGES,
};

/// The pod image's Containerfile.
const IMAGE: &str = "deploy/Containerfile";
/// The Kubernetes examples.
const MANIFESTS: &str = "deploy/k8s";

/// The `rdma-perf` binary cargo built for this test.
const BIN: &str = env!("CARGO_BIN_EXE_rdma-perf");

/// The image's directory of programs (`PATH` holds it; the symlinks are made there).
const IMAGE_BIN_DIR: &str = "/usr/local/bin/";

/// Where the image has busybox's applets (`sleep`, `tar`).
const IMAGE_APPLET_DIR: &str = "/bin/";

/// perftest's default TCP port (`-p`).
const DEFAULT_PORT: i64 = 18515;

// ---------------------------------------------------------------------------------------------
// The Containerfile

/// The perftest names scripts/build-images links to `rdma-perf` in /usr/local/bin.
fn image_perftest_names() -> BTreeSet<String> {
    let list = build_images_list("perftest_names");
    let names: BTreeSet<String> = list.iter().cloned().collect();
    assert_eq!(
        names.len(),
        list.len(),
        "{BUILD_IMAGES}: a perftest name twice"
    );
    assert!(
        !names.is_empty(),
        "{BUILD_IMAGES} makes no perftest symlink"
    );
    names
}

/// busybox's applets in the image (its /bin).
fn image_applets() -> BTreeSet<String> {
    build_images_list("rdma_perf_applets").into_iter().collect()
}

/// Every program name the image puts on its PATH.
fn image_programs() -> BTreeSet<String> {
    let mut p = image_perftest_names();
    p.insert("rdma-perf".into());
    p.extend(image_applets());
    p
}

// ---------------------------------------------------------------------------------------------
// The manifests

fn of_kind<'a>(docs: &'a [Doc], kind: &str) -> Vec<&'a Doc> {
    docs.iter().filter(|d| d.kind() == kind).collect()
}

/// The program name `argv[0]` runs in the image (`/usr/local/bin/x`, `/bin/x` or `x` on the
/// PATH).
fn program(argv: &[String]) -> String {
    let p = argv.first().expect("an empty command");
    if p.contains('/') {
        p.strip_prefix(IMAGE_BIN_DIR)
            .or_else(|| p.strip_prefix(IMAGE_APPLET_DIR))
            .unwrap_or_else(|| {
                panic!("{p}: not a program of {IMAGE_BIN_DIR} or {IMAGE_APPLET_DIR}")
            })
            .to_string()
    } else {
        p.clone()
    }
}

/// One benchmark run a pod starts.
struct Bench<'a> {
    pod: &'a Doc,
    container: &'a Yaml,
    /// The perftest name (`ib_write_bw`).
    test: String,
    /// The arguments after the test.
    args: Vec<String>,
}

/// The benchmark containers of a pod (program `rdma-perf` or one of its perftest names).
fn benches<'a>(pod: &'a Doc) -> Vec<Bench<'a>> {
    let names = image_perftest_names();
    let mut out = Vec::new();
    for c in pod.yaml["spec"]["containers"]
        .as_vec()
        .into_iter()
        .flatten()
    {
        let a = argv(c, IMAGE);
        let prog = program(&a);
        if names.contains(&prog) {
            out.push(Bench {
                pod,
                container: c,
                test: prog,
                args: a[1..].to_vec(),
            });
        } else if prog == "rdma-perf" {
            let sub = a.get(1).expect("rdma-perf without a test");
            out.push(Bench {
                pod,
                container: c,
                test: format!("ib_{sub}"),
                args: a[2..].to_vec(),
            });
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The binary

/// A directory of symlinks named like the image's programs, to the binary under test.
struct Links(PathBuf);

impl Links {
    fn new(tag: &str) -> Links {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("deploy_manifests-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Links(dir)
    }
    /// The path of `name`, a symlink to the binary.
    fn get(&self, name: &str) -> PathBuf {
        let p = self.0.join(name);
        if fs::symlink_metadata(&p).is_err() {
            std::os::unix::fs::symlink(BIN, &p).unwrap();
        }
        p
    }
}

impl Drop for Links {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Runs `prog args`; returns (exit code, stdout, stderr).
fn run(prog: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let o = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", prog.display()));
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The options a test's `--help` lists: long and short spelling, each with whether it takes
/// a value.
fn help_options(help: &str) -> BTreeMap<String, bool> {
    let mut opts = BTreeMap::new();
    let section = help
        .split_once("\nOptions:\n")
        .unwrap_or_else(|| panic!("no Options section in:\n{help}"))
        .1;
    for line in section.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if !words.first().is_some_and(|w| w.starts_with('-')) {
            continue;
        }
        let spellings: Vec<&str> = words
            .iter()
            .take_while(|w| w.starts_with('-'))
            // `--out_json[=<FILE>]`: an optional value, attached with `=`.
            .map(|w| w.trim_end_matches(',').split("[=").next().unwrap_or(w))
            .collect();
        let takes_value = words
            .get(spellings.len())
            .is_some_and(|w| w.starts_with('<'));
        for s in spellings {
            opts.insert(s.to_string(), takes_value);
        }
    }
    opts
}

/// The option words of `args` (as spelled, without `=value`) and the positionals, per the
/// option table; panics on an option the table does not list.
fn split_args(
    args: &[String],
    opts: &BTreeMap<String, bool>,
    what: &str,
) -> (Vec<String>, Vec<String>) {
    let (mut flags, mut positionals) = (Vec::new(), Vec::new());
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--" {
            positionals.extend(it.by_ref().cloned());
            break;
        }
        if !a.starts_with('-') || a == "-" {
            positionals.push(a.clone());
            continue;
        }
        let (flag, attached) = if a.starts_with("--") {
            match a.split_once('=') {
                Some((f, _)) => (f.to_string(), true),
                None => (a.clone(), false),
            }
        } else {
            (a[..2].to_string(), a.len() > 2)
        };
        let takes = *opts
            .get(&flag)
            .unwrap_or_else(|| panic!("{what}: option {flag} is not in the test's --help"));
        if takes && !attached {
            it.next()
                .unwrap_or_else(|| panic!("{what}: option {flag} without its value"));
        }
        flags.push(flag);
    }
    (flags, positionals)
}

/// The value of option `long`/`short` in `args`, if given.
fn option_value(args: &[String], long: &str, short: Option<&str>) -> Option<String> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == long || short.is_some_and(|s| a == s) {
            return it.next().cloned();
        }
        if let Some(v) = a.strip_prefix(&format!("{long}=")) {
            return Some(v.to_string());
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// The tests

#[test]
fn manifests_parse_and_name_themselves() {
    let docs = docs_in(MANIFESTS);
    for d in &docs {
        assert!(
            d.yaml.as_hash().is_some(),
            "{}: a document that is not a map",
            d.file
        );
        for key in ["apiVersion", "kind"] {
            assert!(
                d.yaml[key].as_str().is_some_and(|s| !s.is_empty()),
                "{}: a document without {key}",
                d.file
            );
        }
        assert!(
            !d.name().is_empty(),
            "{}: {} without metadata.name",
            d.file,
            d.kind()
        );
    }
    let mut seen = BTreeSet::new();
    for d in &docs {
        assert!(
            seen.insert((d.kind(), d.name())),
            "{} defined twice",
            d.what()
        );
    }
    assert_eq!(of_kind(&docs, "NetworkAttachmentDefinition").len(), 1);
    assert!(
        of_kind(&docs, "Pod").len() >= 2,
        "expected a server and a client pod"
    );
}

#[test]
fn nad_is_an_ib_sriov_network_the_pods_attach_and_request() {
    let docs = docs_in(MANIFESTS);
    let nads = of_kind(&docs, "NetworkAttachmentDefinition");
    let nad = nads[0];
    assert_nad_api_version(nad);
    let resource = nad_resource(nad);
    assert!(
        resource.contains('/'),
        "{}: resourceName {resource} has no prefix",
        nad.what()
    );

    // The CNI configuration, as ib-sriov-cni reads it.
    let config = nad.yaml["spec"]["config"]
        .as_str()
        .unwrap_or_else(|| panic!("{}: no spec.config", nad.what()));
    let config: serde_json::Value = serde_json::from_str(config)
        .unwrap_or_else(|e| panic!("{}: spec.config is not JSON: {e}", nad.what()));
    assert_eq!(config["type"], "ib-sriov", "{}", nad.what());
    assert_eq!(config["name"], nad.name(), "{}: config name", nad.what());
    assert!(
        config["cniVersion"].is_string(),
        "{}: no cniVersion",
        nad.what()
    );
    if let Some(s) = config.get("link_state") {
        assert!(
            ["auto", "enable", "disable"].contains(&s.as_str().unwrap_or("")),
            "{}: link_state {s}",
            nad.what()
        );
    }
    let ipam = config["ipam"]["type"].as_str().unwrap_or("");
    assert!(
        !ipam.is_empty() && ipam != "dhcp",
        "{}: ipam type {ipam:?}",
        nad.what()
    );

    let nad_names: BTreeSet<&str> = nads.iter().map(|n| n.name()).collect();
    for pod in of_kind(&docs, "Pod") {
        let nets = pod_networks(pod);
        assert!(
            !nets.is_empty(),
            "{}: no k8s.v1.cni.cncf.io/networks",
            pod.what()
        );
        for n in &nets {
            assert!(
                nad_names.contains(n.as_str()),
                "{}: network {n} is not defined",
                pod.what()
            );
        }
        let benches = benches(pod);
        assert_eq!(
            benches.len(),
            1,
            "{}: expected one benchmark container",
            pod.what()
        );
        for c in pod.yaml["spec"]["containers"]
            .as_vec()
            .into_iter()
            .flatten()
        {
            let requests = str_map(&c["resources"]["requests"]);
            let limits = str_map(&c["resources"]["limits"]);
            let is_bench = std::ptr::eq(c, benches[0].container);
            if is_bench {
                // An extended resource: limits required, requests (if given) equal.
                let want = limits.get(&resource).unwrap_or_else(|| {
                    panic!("{}: the benchmark does not request {resource}", pod.what())
                });
                assert!(
                    want.parse::<u32>().is_ok_and(|n| n >= 1),
                    "{}: {want}",
                    pod.what()
                );
                assert_eq!(
                    requests.get(&resource),
                    Some(want),
                    "{}: requests",
                    pod.what()
                );
            } else {
                assert!(
                    !requests.contains_key(&resource) && !limits.contains_key(&resource),
                    "{}: a helper container takes a VF",
                    pod.what()
                );
            }
        }
    }
}

#[test]
fn pod_programs_are_in_the_image() {
    let programs = image_programs();
    let docs = docs_in(MANIFESTS);
    for pod in of_kind(&docs, "Pod") {
        for c in containers(&pod.yaml["spec"]) {
            let name = c["name"].as_str().unwrap_or("?");
            let prog = program(&argv(c, IMAGE));
            assert!(
                programs.contains(&prog),
                "{} container {name}: program {prog} is not in the image (it has {programs:?})",
                pod.what()
            );
        }
    }
}

#[test]
fn image_names_are_the_tests_the_binary_runs() {
    let names = image_perftest_names();
    let links = Links::new("names");
    for name in &names {
        let sub = name
            .strip_prefix("ib_")
            .unwrap_or_else(|| panic!("{name}: not a perftest name"));
        let (code, out, err) = run(&links.get(name), &["--help"]);
        assert_eq!(code, Some(0), "{name} --help failed:\n{out}{err}");
        assert!(
            out.contains(&format!("Usage: rdma-perf {sub} ")),
            "{name} --help is not the help of {sub}:\n{out}"
        );
    }
    // ... and the binary runs no test the image has no name for.
    let (code, out, err) = run(Path::new(BIN), &["--help"]);
    assert_eq!(code, Some(0), "rdma-perf --help:\n{out}{err}");
    let commands = out
        .split_once("\nCommands:\n")
        .unwrap_or_else(|| panic!("no Commands section in:\n{out}"))
        .1;
    let tests: BTreeSet<String> = commands
        .lines()
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(|c| format!("ib_{c}"))
        .collect();
    assert_eq!(
        names, tests,
        "the image's perftest names vs the binary's tests"
    );
}

#[test]
fn pod_options_are_accepted() {
    let links = Links::new("options");
    let scratch = links.0.join("results");
    fs::create_dir_all(&scratch).unwrap();
    let docs = docs_in(MANIFESTS);
    for pod in of_kind(&docs, "Pod") {
        for b in benches(pod) {
            let what = format!("{} ({})", pod.what(), b.test);
            let exe = links.get(&b.test);
            let (code, help, err) = run(&exe, &["--help"]);
            assert_eq!(code, Some(0), "{what}: --help failed: {err}");
            let opts = help_options(&help);
            let (_, positionals) = split_args(&b.args, &opts, &what);
            assert!(
                positionals.len() <= 1,
                "{what}: more than one host: {positionals:?}"
            );

            // The binary with the pod's arguments: parsing and the option checks pass, and it
            // stops for want of a device (exit 1), or waits for a peer where there is one.
            // --out_json goes to a scratch file here.
            let mut args = b.args.clone();
            if let Some(i) = args.iter().position(|a| a.starts_with("--out_json=")) {
                args[i] = format!("--out_json={}", scratch.join("out.json").display());
            }
            let mut child = Command::new(&exe)
                .args(&args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(5);
            let status = loop {
                if let Some(s) = child.try_wait().unwrap() {
                    break Some(s);
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                sleep(Duration::from_millis(20));
            };
            if let Some(s) = status {
                let mut err = String::new();
                std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
                assert_ne!(
                    s.code(),
                    Some(2),
                    "{what}: the arguments are refused: {err}"
                );
                assert!(
                    !s.success(),
                    "{what}: a run without a peer succeeded: {err}"
                );
            }
        }
    }
}

#[test]
fn benchmark_containers_can_register_memory_and_keep_results() {
    let docs = docs_in(MANIFESTS);
    for pod in of_kind(&docs, "Pod") {
        let containers: Vec<&Yaml> = pod.yaml["spec"]["containers"]
            .as_vec()
            .into_iter()
            .flatten()
            .collect();
        let empty_dirs: BTreeSet<&str> = pod.yaml["spec"]["volumes"]
            .as_vec()
            .into_iter()
            .flatten()
            .filter(|v| !v["emptyDir"].is_badvalue())
            .filter_map(|v| v["name"].as_str())
            .collect();
        for b in benches(pod) {
            let what = format!("{} ({})", pod.what(), b.test);
            assert_can_lock_memory(b.container, &what);

            // The JSON report lands on an emptyDir that a container still running after the
            // test also mounts, so `kubectl cp` can fetch it.
            let out = option_value(&b.args, "--out_json", None)
                .unwrap_or_else(|| panic!("{what}: no --out_json"));
            let mount_of = |c: &Yaml| -> Option<String> {
                c["volumeMounts"]
                    .as_vec()
                    .into_iter()
                    .flatten()
                    .find_map(|m| {
                        let path = m["mountPath"].as_str()?;
                        let vol = m["name"].as_str()?;
                        let inside =
                            Path::new(&out).starts_with(path) && Path::new(&out) != Path::new(path);
                        (inside && empty_dirs.contains(vol)).then(|| vol.to_string())
                    })
            };
            let vol = mount_of(b.container)
                .unwrap_or_else(|| panic!("{what}: --out_json {out} is not on an emptyDir"));
            let keeper = containers.iter().any(|c| {
                !std::ptr::eq(*c, b.container) && mount_of(c).as_deref() == Some(vol.as_str())
            });
            assert!(
                keeper,
                "{what}: no other container mounts {vol} to copy {out} from"
            );
        }
    }
}

#[test]
fn client_reaches_the_server_through_a_service() {
    let docs = docs_in(MANIFESTS);
    let pods = of_kind(&docs, "Pod");
    let all: Vec<Bench> = pods.iter().flat_map(|p| benches(p)).collect();
    let links = Links::new("client");
    let host_of = |b: &Bench| -> Option<String> {
        let (_, help, _) = run(&links.get(&b.test), &["--help"]);
        let (_, pos) = split_args(&b.args, &help_options(&help), &b.pod.what());
        pos.into_iter().next()
    };
    let (clients, servers): (Vec<&Bench>, Vec<&Bench>) =
        all.iter().partition(|b| host_of(b).is_some());
    assert!(
        !clients.is_empty() && !servers.is_empty(),
        "expected a server and a client"
    );
    let port = |b: &Bench| -> i64 {
        option_value(&b.args, "--port", Some("-p")).map_or(DEFAULT_PORT, |p| p.parse().unwrap())
    };
    // The options both sides must agree on: all but the host and the report file.
    let common = |b: &Bench| -> Vec<String> {
        let host = host_of(b);
        let mut v = Vec::new();
        for a in &b.args {
            if a.starts_with("--out_json=") {
                continue;
            } else if host.as_deref() != Some(a.as_str()) {
                v.push(a.clone());
            }
        }
        v
    };
    for c in clients {
        let host = host_of(c).unwrap();
        let svc_name = host.split('.').next().unwrap();
        let svc = of_kind(&docs, "Service")
            .into_iter()
            .find(|s| s.name() == svc_name)
            .unwrap_or_else(|| panic!("{}: server host {host} is no Service", c.pod.what()));
        let selector = str_map(&svc.yaml["spec"]["selector"]);
        assert!(!selector.is_empty(), "{}: no selector", svc.what());
        let selected: Vec<&&Bench> = servers
            .iter()
            .filter(|s| {
                let labels = str_map(&s.pod.yaml["metadata"]["labels"]);
                selector.iter().all(|(k, v)| labels.get(k) == Some(v))
            })
            .collect();
        assert_eq!(
            selected.len(),
            1,
            "{} selects no single server pod",
            svc.what()
        );
        let server = selected[0];
        let ports: Vec<i64> = svc.yaml["spec"]["ports"]
            .as_vec()
            .into_iter()
            .flatten()
            .filter_map(|p| p["port"].as_i64())
            .collect();
        assert!(
            ports.contains(&port(server)),
            "{}: no port {}",
            svc.what(),
            port(server)
        );
        assert_eq!(port(c), port(server), "{}: port", c.pod.what());
        assert_eq!(
            c.test,
            server.test,
            "{}: not the server's test",
            c.pod.what()
        );
        assert_eq!(
            common(c),
            common(server),
            "{}: not the server's options",
            c.pod.what()
        );
    }
}

#[test]
fn image_is_from_scratch_with_the_root_build_images_assembles() {
    assert_from_scratch(IMAGE);
    assert_build_images_builds("rdma-perf", IMAGE, "rdma-perf");
    // The binary is the release build CI runs.
    assert!(
        read("scripts/test-all")
            .lines()
            .any(|l| l.trim_start().starts_with("scripts/build-release")
                || l.contains("$(scripts/build-release)")),
        "scripts/test-all does not run scripts/build-release"
    );
    assert!(
        read("scripts/build-release").contains("cargo build --release --locked"),
        "scripts/build-release does not build --release --locked"
    );
    assert_eq!(
        image_entrypoint(IMAGE),
        ["rdma-perf"],
        "{IMAGE}: ENTRYPOINT"
    );
    // Non-root, numeric (Kubernetes' runAsNonRoot needs a numeric user), the user
    // build-images writes into /etc/passwd.
    let uid = build_images_var("rdma_perf_uid");
    assert!(uid.parse::<u32>().is_ok_and(|u| u != 0), "uid {uid}");
    assert_eq!(image_user(IMAGE), format!("{uid}:{uid}"), "{IMAGE}: USER");
    let path = image_path_dirs(IMAGE);
    for dir in [IMAGE_BIN_DIR, IMAGE_APPLET_DIR] {
        assert!(
            path.iter().any(|d| format!("{d}/") == dir),
            "{IMAGE}: PATH {path:?} lacks {dir}"
        );
    }
    // `kubectl cp` (the README's way to fetch the reports) runs tar in the results container.
    assert!(
        image_applets().contains("tar"),
        "the image has no tar for kubectl cp"
    );
}

#[test]
fn build_images_script_runs() {
    let script = repo().join(BUILD_IMAGES);
    let out = bash(&["-n", script.to_str().unwrap()]);
    assert!(out.status.success(), "bash -n {BUILD_IMAGES}");
    let out = bash(&[script.to_str().unwrap(), "--help"]);
    assert_eq!(out.status.code(), Some(0), "{BUILD_IMAGES} --help");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("rdma-perf") && help.contains("ib-sriov-cni"),
        "{BUILD_IMAGES} --help names no image:\n{help}"
    );
    let out = bash(&[script.to_str().unwrap(), "no-such-image"]);
    assert_eq!(out.status.code(), Some(2), "an unknown image");
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown argument 'no-such-image'"));
}

#[test]
fn manifests_name_what_the_built_image_has() {
    let Some(files) = ImageFiles::load("rdma-perf") else {
        return;
    };
    let path = image_path_dirs(IMAGE);
    files.assert_runs(&image_entrypoint(IMAGE)[0], &path, "the ENTRYPOINT");
    // The perftest names: exactly the symlinks to rdma-perf, each running it.
    let mut links = BTreeSet::new();
    for name in image_perftest_names() {
        let p = format!("{IMAGE_BIN_DIR}{name}");
        let e = files
            .get(&p)
            .unwrap_or_else(|| panic!("{p} is not in the built image ({})", files.file.display()));
        assert_eq!(
            e.target.as_deref(),
            Some("rdma-perf"),
            "{p} in the built image"
        );
        assert!(files.is_executable(&p), "{p} in the built image");
        links.insert(name);
    }
    for prog in image_programs() {
        files.assert_runs(&prog, &path, "the image's programs");
    }
    let mut bin = links.clone();
    bin.insert("rdma-perf".into());
    assert_eq!(
        files.names_in(IMAGE_BIN_DIR),
        bin,
        "/usr/local/bin of the built image"
    );
    // Every program the examples' containers run, as the runtime finds it.
    let docs = docs_in(MANIFESTS);
    for pod in of_kind(&docs, "Pod") {
        for c in containers(&pod.yaml["spec"]) {
            let what = format!(
                "{} container {}",
                pod.what(),
                c["name"].as_str().unwrap_or("?")
            );
            let a = argv(c, IMAGE);
            let found = files.assert_runs(&a[0], &path, &what);
            if let Some(name) = found.strip_prefix(IMAGE_BIN_DIR) {
                assert!(
                    name == "rdma-perf" || links.contains(name),
                    "{what}: {found} is not rdma-perf or a perftest name"
                );
            }
        }
    }
    for p in ["/etc/passwd", "/etc/group", "/tmp"] {
        assert!(files.get(p).is_some(), "{p} is not in the built image");
    }
}
