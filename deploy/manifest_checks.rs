//! Helpers for the tests of the deployment files, shared by `rdma-bench`'s
//! `bench/tests/deploy_manifests.rs` (the rdma-perf image `deploy/Containerfile` and
//! `deploy/k8s`) and `ib-sriov-cni`'s `cni/tests/deploy_manifests.rs` (the plugin image
//! `deploy/cni/Containerfile` and `deploy/cni/k8s`); each includes this file with `#[path]`.
//! It lives here, beside the files it reads, because neither crate owns them: reading a
//! Containerfile (logical lines, stages, `ARG`s, `apt-get install` packages, `ENTRYPOINT`, a
//! stage's `RUN`s) and the Kubernetes YAML documents (loading, scalars, a container's argv, a
//! NAD's API version and resource, a pod's networks, a container's memory registration).
//! Paths are relative to the repository root.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

/// The repository root (the including crate's directory's parent).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A file of the repository, by its path from the root.
pub fn read(rel: &str) -> String {
    let p = repo().join(rel);
    fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

// ---------------------------------------------------------------------------------------------
// Containerfiles

/// A Containerfile as logical lines (continuations joined, comments dropped).
pub fn containerfile_lines(rel: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for raw in read(rel).lines() {
        let t = raw.trim();
        if cur.is_empty() && (t.is_empty() || t.starts_with('#')) {
            continue;
        }
        match t.strip_suffix('\\') {
            Some(head) => {
                cur.push_str(head);
                cur.push(' ');
            }
            None => {
                cur.push_str(t);
                lines.push(std::mem::take(&mut cur));
            }
        }
    }
    assert!(cur.is_empty(), "{rel} ends inside a continued line");
    lines
}

/// A Containerfile's stages: each `FROM` line with the lines up to the next one (two: the
/// builder and the runtime).
pub fn stages(rel: &str) -> [(String, Vec<String>); 2] {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for l in containerfile_lines(rel) {
        if l.starts_with("FROM ") {
            out.push((l, Vec::new()));
        } else if let Some(last) = out.last_mut() {
            last.1.push(l);
        }
    }
    out.try_into()
        .unwrap_or_else(|_| panic!("{rel}: expected a builder and a runtime stage"))
}

/// The value of `ARG name=value` in a Containerfile.
pub fn containerfile_arg(rel: &str, name: &str) -> String {
    let prefix = format!("ARG {name}=");
    containerfile_lines(rel)
        .iter()
        .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
        .unwrap_or_else(|| panic!("{rel} has no `{prefix}...`"))
}

/// A Containerfile's `ENTRYPOINT` (exec form, in the runtime stage).
pub fn image_entrypoint(rel: &str) -> Vec<String> {
    let [_, (_, runtime)] = stages(rel);
    let json = runtime
        .iter()
        .find_map(|l| l.strip_prefix("ENTRYPOINT "))
        .unwrap_or_else(|| panic!("{rel}: the runtime stage has no ENTRYPOINT"));
    serde_json::from_str(json)
        .unwrap_or_else(|e| panic!("{rel}: ENTRYPOINT is not in exec (JSON) form: {e}"))
}

/// The package names of the `apt-get install` commands in `lines` (options and `&&` tails
/// dropped).
pub fn apt_install_packages(lines: &[String]) -> BTreeSet<String> {
    let mut pkgs = BTreeSet::new();
    for l in lines {
        let all: Vec<&str> = l.split_whitespace().collect();
        for (i, _) in all.iter().enumerate().filter(|(_, w)| **w == "apt-get") {
            let mut words = all[i + 1..]
                .iter()
                .copied()
                .skip_while(|w| w.starts_with('-'));
            if words.next() != Some("install") {
                continue;
            }
            collect_packages(words, &mut pkgs);
        }
    }
    pkgs
}

/// The package words of an `apt-get install` command line, up to the end of the command.
fn collect_packages<'a>(mut words: impl Iterator<Item = &'a str>, pkgs: &mut BTreeSet<String>) {
    while let Some(w) = words.next() {
        match w {
            "&&" | "||" | ";" | "|" => break,
            // apt-get's options with a value.
            "-o" | "-t" | "-c" => {
                words.next();
            }
            _ if w.starts_with('-') || w.starts_with('<') || w.starts_with('>') => {}
            _ => {
                pkgs.insert(w.to_string());
            }
        }
    }
}

/// Whether a stage runs `command`: one of its `RUN` lines contains it.
pub fn stage_runs(stage: &[String], command: &str) -> bool {
    stage
        .iter()
        .any(|l| l.starts_with("RUN ") && l.contains(command))
}

// ---------------------------------------------------------------------------------------------
// Kubernetes manifests

/// One YAML document, with the file it came from.
pub struct Doc {
    pub file: String,
    pub yaml: Yaml,
}

impl Doc {
    pub fn kind(&self) -> &str {
        self.yaml["kind"].as_str().unwrap_or("")
    }
    pub fn name(&self) -> &str {
        self.yaml["metadata"]["name"].as_str().unwrap_or("")
    }
    pub fn what(&self) -> String {
        format!("{} {} ({})", self.kind(), self.name(), self.file)
    }
}

/// Every document of every `*.yaml`/`*.yml` in a directory; fails on a parse error.
pub fn docs_in(rel_dir: &str) -> Vec<Doc> {
    let dir = repo().join(rel_dir);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no YAML file in {}", dir.display());
    let mut out = Vec::new();
    for f in files {
        let file = format!("{rel_dir}/{}", f.file_name().unwrap().to_string_lossy());
        let text = fs::read_to_string(&f).unwrap_or_else(|e| panic!("cannot read {file}: {e}"));
        let yamls = YamlLoader::load_from_str(&text)
            .unwrap_or_else(|e| panic!("{file} is not valid YAML: {e}"));
        for yaml in yamls.into_iter().filter(|y| !y.is_null()) {
            out.push(Doc {
                file: file.clone(),
                yaml,
            });
        }
    }
    out
}

/// The items of a YAML list (none if it is not one).
pub fn seq(y: &Yaml) -> impl Iterator<Item = &Yaml> {
    y.as_vec().into_iter().flatten()
}

/// A scalar as text (`"1"` and `1` alike).
pub fn scalar(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A list of scalars as text (empty if it is not a list).
pub fn strings(y: &Yaml) -> Vec<String> {
    seq(y)
        .map(|s| scalar(s).expect("a list of scalars"))
        .collect()
}

/// A map's scalar entries as text (empty if it is not a map).
pub fn str_map(y: &Yaml) -> BTreeMap<String, String> {
    y.as_hash()
        .map(|h| {
            h.iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_string(), scalar(v)?)))
                .collect()
        })
        .unwrap_or_default()
}

/// A container's argv as the runtime runs it: `command` (or the ENTRYPOINT of the image built
/// by Containerfile `image`) + `args`.
pub fn argv(c: &Yaml, image: &str) -> Vec<String> {
    let mut v = strings(&c["command"]);
    if v.is_empty() {
        v = image_entrypoint(image);
    }
    v.extend(strings(&c["args"]));
    v
}

/// A NetworkAttachmentDefinition of Multus's API.
pub fn assert_nad_api_version(nad: &Doc) {
    assert_eq!(
        nad.yaml["apiVersion"].as_str(),
        Some("k8s.cni.cncf.io/v1"),
        "{}",
        nad.what()
    );
}

/// A container (`what` in messages) can register memory: it adds CAP_IPC_LOCK and runs as
/// root (Kubernetes sets no ambient capabilities: IPC_LOCK is effective for root only).
pub fn assert_can_lock_memory(c: &Yaml, what: &str) {
    let sc = &c["securityContext"];
    assert!(
        strings(&sc["capabilities"]["add"]).contains(&"IPC_LOCK".to_string()),
        "{what}: no IPC_LOCK capability"
    );
    assert_eq!(
        sc["runAsUser"].as_i64(),
        Some(0),
        "{what}: IPC_LOCK without runAsUser 0 has no effect"
    );
}

/// The NetworkAttachmentDefinition's device plugin resource.
pub fn nad_resource(nad: &Doc) -> String {
    nad.yaml["metadata"]["annotations"]["k8s.v1.cni.cncf.io/resourceName"]
        .as_str()
        .unwrap_or_else(|| panic!("{}: no k8s.v1.cni.cncf.io/resourceName", nad.what()))
        .to_string()
}

/// The network names of a pod's `k8s.v1.cni.cncf.io/networks` annotation (JSON list or
/// Multus's `ns/name@if` comma list), without namespace and interface; none without one.
pub fn pod_networks(pod: &Doc) -> Vec<String> {
    let Some(a) = pod.yaml["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"].as_str()
    else {
        return Vec::new();
    };
    if a.trim_start().starts_with('[') {
        let v: Vec<serde_json::Value> = serde_json::from_str(a)
            .unwrap_or_else(|e| panic!("{}: networks annotation: {e}", pod.what()));
        v.iter()
            .map(|n| {
                n["name"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{}: a network without a name", pod.what()))
                    .to_string()
            })
            .collect()
    } else {
        a.split(',')
            .map(|n| {
                let n = n.trim();
                let n = n.rsplit_once('/').map_or(n, |(_, n)| n);
                n.split_once('@').map_or(n, |(n, _)| n).to_string()
            })
            .collect()
    }
}
