//! Helpers for the tests of the deployment files, shared by `rdma-bench`'s
//! `bench/tests/deploy_manifests.rs` (the rdma-perf image `deploy/Containerfile` and
//! `deploy/k8s`) and `ib-sriov-cni`'s `cni/tests/deploy_manifests.rs` (the plugin image
//! `deploy/cni/Containerfile` and `deploy/cni/k8s`); each includes this file with `#[path]`.
//! It lives here, beside the files it reads, because neither crate owns them: reading a
//! Containerfile (logical lines, the `FROM scratch` design, `ENTRYPOINT`, `USER`, `PATH`),
//! `scripts/build-images` (its lists of what the images hold, how it builds them), a built
//! image's file list (`target/images/NAME.files`, from `scripts/test-images`), and the
//! Kubernetes YAML documents (loading, scalars, a container's argv, a NAD's API version and
//! resource, a pod's networks, a container's memory registration).
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

/// A Containerfile's `INSTRUCTION ...` lines, without the instruction.
fn instructions(rel: &str, instruction: &str) -> Vec<String> {
    let prefix = format!("{instruction} ");
    containerfile_lines(rel)
        .iter()
        .filter_map(|l| l.strip_prefix(&prefix).map(|v| v.trim().to_string()))
        .collect()
}

/// A Containerfile of the registry-free design: one stage `FROM scratch` whose file system is
/// the context's `rootfs/` (scripts/build-images assembles it), no `RUN` (nothing runs at build
/// time: no shell, no compiler, no package manager in the image's making).
pub fn assert_from_scratch(rel: &str) {
    assert_eq!(
        instructions(rel, "FROM"),
        ["scratch"],
        "{rel}: not one stage FROM scratch"
    );
    assert!(instructions(rel, "RUN").is_empty(), "{rel}: a RUN step");
    assert_eq!(
        instructions(rel, "COPY"),
        ["rootfs/ /"],
        "{rel}: the image's files are not just the context's rootfs/"
    );
    assert!(
        instructions(rel, "ADD").is_empty(),
        "{rel}: ADD (files from elsewhere)"
    );
}

/// A Containerfile's `ENTRYPOINT` (exec form).
pub fn image_entrypoint(rel: &str) -> Vec<String> {
    let e = instructions(rel, "ENTRYPOINT");
    let [json] = &e[..] else {
        panic!("{rel}: expected one ENTRYPOINT, found {e:?}")
    };
    serde_json::from_str(json)
        .unwrap_or_else(|e| panic!("{rel}: ENTRYPOINT is not in exec (JSON) form: {e}"))
}

/// A Containerfile's `USER` (the last one).
pub fn image_user(rel: &str) -> String {
    instructions(rel, "USER")
        .pop()
        .unwrap_or_else(|| panic!("{rel}: no USER"))
}

/// The directories of a Containerfile's `ENV PATH=...` (a scratch image has no default).
pub fn image_path_dirs(rel: &str) -> Vec<String> {
    let env = instructions(rel, "ENV");
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or_else(|| panic!("{rel}: no ENV PATH=..."));
    path.split(':').map(str::to_string).collect()
}

// ---------------------------------------------------------------------------------------------
// scripts/build-images

/// The script that assembles the images' contexts and builds them.
pub const BUILD_IMAGES: &str = "scripts/build-images";

/// The value of the one-line assignment `name=value` or `name="value"` in scripts/build-images.
pub fn build_images_var(name: &str) -> String {
    let prefix = format!("{name}=");
    read(BUILD_IMAGES)
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| panic!("{BUILD_IMAGES} has no line {prefix}..."))
}

/// The words of `name="a b c"` in scripts/build-images.
pub fn build_images_list(name: &str) -> Vec<String> {
    build_images_var(name)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// scripts/build-images builds image `name` from Containerfile `rel` with the context it
/// assembles (target/images/NAME/ holding rootfs/) from `scripts/build-release TARGET`.
pub fn assert_build_images_builds(name: &str, rel: &str, target: &str) {
    let script = read(BUILD_IMAGES);
    let arm = format!("{name}) containerfile={rel} target={target} ;;");
    assert!(
        script.lines().any(|l| l.trim() == arm),
        "{BUILD_IMAGES} does not map image {name} to {rel} and build-release {target}: `{arm}`"
    );
    assert_eq!(
        build_images_var("out"),
        "target/images",
        "{BUILD_IMAGES}: out"
    );
    for needle in [
        r#"bins=$(scripts/build-release "$target")"#,
        r#"local ctx=$out/$name rootfs=$out/$name/rootfs b"#,
        r#"podman build --quiet --timestamp "$epoch" -f "$containerfile""#,
        r#"-t "$tag" -t "$prefix$name:latest" "$out/$name""#,
        r#"podman save --quiet --format docker-archive -o "$archive" "$tag""#,
    ] {
        assert!(
            script.contains(needle),
            "{BUILD_IMAGES} no longer has `{needle}`"
        );
    }
}

/// The external programs a POSIX sh script runs: the first word of each simple command (a
/// trap's command string included), less assignments, options, quoted words, shell keywords
/// and busybox ash's builtins. A line scan for the plain scripts here, not a shell parser.
#[allow(dead_code)] // cni/tests/deploy_manifests.rs's, not bench's
pub fn shell_programs(script: &str) -> BTreeSet<String> {
    // After these the next word is again a command.
    const KEYWORDS: &[&str] = &[
        "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}",
    ];
    const BUILTINS: &[&str] = &[
        "[", "test", "echo", "printf", "set", "trap", "exit", "wait", "kill", "cd", "export",
        "local", "shift", "true", "false", ":", ".", "eval", "exec", "read", "unset", "return",
        "umask", "ulimit", "command", "for", "case", "esac",
    ];
    let mut progs = BTreeSet::new();
    for line in script.lines().map(str::trim) {
        if line.starts_with('#') {
            continue;
        }
        let line = match line.strip_prefix("trap ") {
            Some(rest) => rest.replace('\'', " "),
            None => line.to_string(),
        };
        let mut at_start = true;
        for w in line.split_whitespace() {
            let word = w.trim_end_matches(';');
            let command = at_start && !w.contains('=') && !w.starts_with(['-', '"', '$']);
            if command && !word.is_empty() && !KEYWORDS.contains(&word) && !BUILTINS.contains(&word)
            {
                progs.insert(word.to_string());
            }
            at_start = (command && KEYWORDS.contains(&word))
                || ["&&", "||", "|", "&", ";"].contains(&w)
                || w.ends_with(';');
        }
    }
    progs
}

// ---------------------------------------------------------------------------------------------
// The built image's file list (target/images/NAME.files, written by scripts/test-images)

/// The environment variable naming the directory of the file lists; set, a missing list fails.
pub const IMAGE_FILES_VAR: &str = "RDMA_IMAGE_FILES";

/// One entry of an image's file list: `TYPE MODE UID:GID PATH [-> TARGET]`.
pub struct Entry {
    /// `f`, `d`, `l` (find's `%y`).
    pub kind: char,
    /// Permission bits (octal, as listed).
    pub mode: u32,
    /// A symlink's target.
    pub target: Option<String>,
}

/// The file system of a built image, as scripts/test-images listed it from the image loaded
/// from its saved archive.
pub struct ImageFiles {
    /// The list's file, for messages.
    pub file: PathBuf,
    entries: BTreeMap<String, Entry>,
}

impl ImageFiles {
    /// The list of image `name`: from `$RDMA_IMAGE_FILES/NAME.files` (absent: a failure), else
    /// `target/images/NAME.files` if scripts/test-images wrote one (absent: `None`, with a
    /// note on stderr that the check did not run).
    pub fn load(name: &str) -> Option<ImageFiles> {
        let required = std::env::var_os(IMAGE_FILES_VAR);
        let dir = required
            .as_ref()
            .map(PathBuf::from)
            .unwrap_or_else(|| repo().join("target/images"));
        let file = dir.join(format!("{name}.files"));
        let text = match fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if required.is_some() => panic!(
                "{IMAGE_FILES_VAR} is set but {} cannot be read ({e}): scripts/test-images \
                 lists the built image there",
                file.display()
            ),
            Err(_) => {
                eprintln!(
                    "NOT CHECKED against the built image: no {} (scripts/test-images writes it; \
                     {IMAGE_FILES_VAR}=DIR makes its absence a failure)",
                    file.display()
                );
                return None;
            }
        };
        let mut entries = BTreeMap::new();
        for line in text.lines() {
            let bad =
                || -> ! { panic!("{}: not `TYPE MODE UID:GID PATH`: {line}", file.display()) };
            let mut w = line.splitn(4, ' ');
            let (Some(kind), Some(mode), Some(_owner), Some(rest)) =
                (w.next(), w.next(), w.next(), w.next())
            else {
                bad()
            };
            let (path, target) = match rest.split_once(" -> ") {
                Some((p, t)) => (p, Some(t.to_string())),
                None => (rest, None),
            };
            let entry = Entry {
                kind: kind.chars().next().unwrap_or_else(|| bad()),
                mode: u32::from_str_radix(mode, 8).unwrap_or_else(|_| bad()),
                target,
            };
            entries.insert(path.to_string(), entry);
        }
        assert!(!entries.is_empty(), "{}: empty", file.display());
        Some(ImageFiles { file, entries })
    }

    /// The entry at `path` itself (a symlink is not followed).
    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries.get(path)
    }

    /// `path` with every symlink followed (in the image's root); `None` when it dangles.
    pub fn resolve(&self, path: &str) -> Option<(String, &Entry)> {
        let mut p = path.to_string();
        for _ in 0..40 {
            let e = self.entries.get(&p)?;
            let Some(t) = &e.target else {
                return Some((p, e));
            };
            p = if t.starts_with('/') {
                t.clone()
            } else {
                let dir = Path::new(&p).parent().unwrap_or(Path::new("/"));
                dir.join(t).display().to_string()
            };
        }
        None
    }

    /// The names directly in directory `dir` (with its trailing `/`).
    pub fn names_in(&self, dir: &str) -> BTreeSet<String> {
        self.entries
            .keys()
            .filter_map(|p| p.strip_prefix(dir))
            .filter(|n| !n.is_empty() && !n.contains('/'))
            .map(str::to_string)
            .collect()
    }

    /// `path` resolves to a regular file someone may execute.
    pub fn is_executable(&self, path: &str) -> bool {
        self.resolve(path)
            .is_some_and(|(_, e)| e.kind == 'f' && e.mode & 0o111 != 0)
    }

    /// What the runtime executes for `argv[0]` `prog`: the path, or the first directory of
    /// `path_dirs` holding `prog`; panics naming what is missing unless it is an executable.
    pub fn assert_runs(&self, prog: &str, path_dirs: &[String], what: &str) -> String {
        let candidates: Vec<String> = if prog.contains('/') {
            vec![prog.to_string()]
        } else {
            path_dirs.iter().map(|d| format!("{d}/{prog}")).collect()
        };
        let found = candidates
            .iter()
            .find(|c| self.get(c).is_some())
            .unwrap_or_else(|| {
                panic!(
                    "{what}: {prog} is not in the built image (looked for {candidates:?} in {})",
                    self.file.display()
                )
            });
        assert!(
            self.is_executable(found),
            "{what}: {found} in the built image is not an executable file ({})",
            self.file.display()
        );
        found.clone()
    }
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

/// A pod spec's containers, then its init containers.
pub fn containers(spec: &Yaml) -> impl Iterator<Item = &Yaml> {
    seq(&spec["containers"]).chain(seq(&spec["initContainers"]))
}

/// `bash ARGS` with no stdin, its output collected.
pub fn bash(args: &[&str]) -> std::process::Output {
    std::process::Command::new("bash")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run bash")
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
