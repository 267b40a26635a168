//! A check that the modules of `cm` import each other without a cycle (the layers are
//! listed in `mod.rs`). It reads the sources: an edge is a path through `super::` or
//! `crate::cm::` that names a sibling module, outside comments.

use std::collections::BTreeMap;
use std::path::Path;

/// The sibling modules each file's code names, by module.
fn edges(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("read src/cm") {
        let path = entry.expect("read src/cm").path();
        let name = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned);
        if path.extension().is_some_and(|e| e == "rs") {
            let name = name.expect("a UTF-8 file name");
            if name != "mod" && name != "layers" {
                files.insert(name, std::fs::read_to_string(&path).expect("read a module"));
            }
        }
    }
    let mut graph = BTreeMap::new();
    for (name, text) in &files {
        let mut to: Vec<String> = named_modules(text)
            .into_iter()
            .filter(|m| m != name && files.contains_key(m))
            .collect();
        to.sort();
        to.dedup();
        graph.insert(name.clone(), to);
    }
    graph
}

/// The first segments of the paths after `super::` and `crate::cm::` in `text`'s code,
/// expanding `super::{a, b::c}` to `a`, `b`.
fn named_modules(text: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut names = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        for prefix in ["super::", "crate::cm::"] {
            let mut rest = code;
            while let Some(at) = rest.find(prefix) {
                rest = &rest[at + prefix.len()..];
                if let Some(group) = rest.strip_prefix('{') {
                    let group = group.split('}').next().unwrap_or("");
                    names.extend(group.split(',').map(|item| ident(item.trim())));
                } else {
                    names.push(ident(rest));
                }
            }
        }
    }
    names.retain(|n| !n.is_empty());
    names
}

/// A cycle in `graph`, as the modules along it, if there is one.
fn find_cycle(graph: &BTreeMap<String, Vec<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<String, Vec<String>>,
        marks: &mut BTreeMap<&'a str, Mark>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let start = path.iter().position(|n| *n == node).unwrap_or(0);
                let mut cycle: Vec<String> = path[start..].iter().map(|n| n.to_string()).collect();
                cycle.push(node.to_string());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node, Mark::Open);
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, marks, path) {
                return Some(cycle);
            }
        }
        path.pop();
        marks.insert(node, Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut marks, &mut Vec::new()))
}

#[test]
#[cfg_attr(miri, ignore = "reads the source files")]
fn cm_modules_import_each_other_without_a_cycle() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cm");
    let graph = edges(&dir);
    assert!(graph.len() > 10 && graph["listen"].contains(&"request".to_string()));
    if let Some(cycle) = find_cycle(&graph) {
        let edges: Vec<String> = graph
            .iter()
            .map(|(from, to)| format!("{from} -> {}", to.join(", ")))
            .collect();
        panic!(
            "the modules of cm import each other in a circle: {}\nedges:\n{}",
            cycle.join(" -> "),
            edges.join("\n")
        );
    }
}

#[test]
fn the_parser_sees_groups_and_skips_comments() {
    let text = "use super::{a::X, b};\n// use super::c;\nlet x = crate::cm::d::f(super::e::G);";
    assert_eq!(named_modules(text), ["a", "b", "e", "d"]);
    let graph: BTreeMap<String, Vec<String>> = [("a", "b"), ("b", "c"), ("c", "a")]
        .into_iter()
        .map(|(f, t)| (f.to_string(), vec![t.to_string()]))
        .collect();
    assert_eq!(find_cycle(&graph).unwrap(), ["a", "b", "c", "a"]);
    let dag: BTreeMap<String, Vec<String>> = [("a", vec!["b", "c"]), ("b", vec!["c"])]
        .into_iter()
        .map(|(f, t)| (f.to_string(), t.into_iter().map(str::to_string).collect()))
        .collect();
    assert_eq!(find_cycle(&dag), None);
}
