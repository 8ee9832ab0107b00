//! The crate's modules are layered: no module uses, directly or through others, a module that
//! uses it. Each shared type has one owner below its users:
//!
//! ```text
//! error, signature, digest  (no values)
//! ast                       (holds signatures)
//! value                     (holds syntax-tree references in lambdas)
//! validate, format, datetime, parser
//! functions                 (the built-in table; reaches the evaluator through its Host trait)
//! eval
//! lib                       (the crate root)
//! ```
//!
//! The graph is read from `src/*.rs`: an edge `a -> b` for every `crate::b…` path in `a` (in a
//! `use` tree or inline), every `super::b…` outside an inline `mod { … }` of `a`, and, in the
//! crate root, every path through a child module (`eval::Ctx`). Comments, strings and character
//! literals are skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Where an edge was seen first: file and line.
type Edges = BTreeMap<String, BTreeMap<String, String>>;

const ROOT: &str = "lib";

/// The text of `src` with comments, strings and character literals blanked (lines kept).
fn code_only(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let blank = |out: &mut String, ch: char| out.push(if ch == '\n' { '\n' } else { ' ' });
    while i < c.len() {
        let rest = |k: usize| c.get(i + k).copied().unwrap_or('\0');
        let end = if c[i] == '/' && rest(1) == '/' {
            (i..c.len()).find(|&j| c[j] == '\n').unwrap_or(c.len())
        } else if c[i] == '/' && rest(1) == '*' {
            (i + 2..c.len().saturating_sub(1))
                .find(|&j| c[j] == '*' && c[j + 1] == '/')
                .map_or(c.len(), |j| j + 2)
        } else if c[i] == 'r' && (rest(1) == '"' || (rest(1) == '#' && rest(2) == '"')) {
            let hashes = (i + 1..c.len()).take_while(|&j| c[j] == '#').count();
            let close: String = std::iter::once('"')
                .chain("#".repeat(hashes).chars())
                .collect();
            let body = i + 2 + hashes;
            let tail: String = c[body.min(c.len())..].iter().collect();
            tail.find(&close)
                .map_or(c.len(), |k| body + tail[..k].chars().count() + close.len())
        } else if c[i] == '"' {
            let mut j = i + 1;
            while j < c.len() && c[j] != '"' {
                j += if c[j] == '\\' { 2 } else { 1 };
            }
            j + 1
        } else if c[i] == '\'' && (rest(1) == '\\' || rest(2) == '\'') {
            let mut j = i + 1;
            while j < c.len() && c[j] != '\'' {
                j += if c[j] == '\\' { 2 } else { 1 };
            }
            j + 1
        } else {
            out.push(c[i]);
            i += 1;
            continue;
        };
        let end = end.min(c.len());
        for &ch in &c[i..end] {
            blank(&mut out, ch);
        }
        i = end;
    }
    out
}

/// Byte ranges of the inline `mod name { … }` blocks of `code`.
fn inline_mods(code: &str) -> Vec<(usize, usize)> {
    let re = regex::Regex::new(r"\bmod\s+[A-Za-z_][A-Za-z0-9_]*\s*\{").expect("valid pattern");
    re.find_iter(code)
        .map(|m| {
            let mut depth = 0usize;
            let close = code[m.end() - 1..].char_indices().find_map(|(k, ch)| {
                match ch {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                (depth == 0).then_some(m.end() - 1 + k)
            });
            (m.start(), close.unwrap_or(code.len()))
        })
        .collect()
}

/// The names a path continues with after `prefix::`: one name, or the top-level names of a
/// `{ … }` use tree.
fn first_segments(code: &str, at: usize) -> Vec<String> {
    let rest = code[at..].trim_start();
    if let Some(group) = rest.strip_prefix('{') {
        let (mut depth, mut names, mut current) = (0usize, Vec::new(), String::new());
        for ch in group.chars() {
            match ch {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => names.push(std::mem::take(&mut current)),
                _ => current.push(ch),
            }
        }
        names.push(current);
        return names
            .iter()
            .filter_map(|n| n.split("::").next().map(|s| s.trim().to_string()))
            .filter(|n| !n.is_empty())
            .collect();
    }
    let name: String = rest
        .chars()
        .take_while(|ch| ch.is_alphanumeric() || *ch == '_')
        .collect();
    vec![name]
}

/// The module a path's first name stands for: a module, or the crate root for its own items.
fn target(name: &str, modules: &BTreeSet<String>) -> Option<String> {
    match name {
        "self" | "" => None,
        n if modules.contains(n) => Some(n.to_string()),
        _ => Some(ROOT.to_string()),
    }
}

/// The modules `module` uses, each with the line of its first use.
fn uses_of(module: &str, src: &str, modules: &BTreeSet<String>) -> BTreeMap<String, usize> {
    let code = code_only(src);
    let inline = inline_mods(&code);
    let line_of = |pos: usize| code[..pos].matches('\n').count() + 1;
    let path = regex::Regex::new(r"(?:^|[^:\w])(crate|super|[a-z_][a-z0-9_]*)\s*::")
        .expect("valid pattern");
    let mut out = BTreeMap::new();
    for caps in path.captures_iter(&code) {
        let (Some(head), Some(all)) = (caps.get(1), caps.get(0)) else {
            continue;
        };
        let names = match head.as_str() {
            "crate" => first_segments(&code, all.end()),
            "super"
                if inline
                    .iter()
                    .any(|&(a, b)| a < head.start() && head.start() < b) =>
            {
                continue;
            }
            "super" => first_segments(&code, all.end()),
            child if module == ROOT && modules.contains(child) => vec![child.to_string()],
            _ => continue,
        };
        for name in names {
            if let Some(to) = target(&name, modules).filter(|t| t != module) {
                out.entry(to).or_insert_with(|| line_of(head.start()));
            }
        }
    }
    out
}

/// The module graph of the sources (`name -> text`), with `file:line` of each edge.
fn graph(sources: &BTreeMap<String, String>) -> Edges {
    let modules: BTreeSet<String> = sources.keys().cloned().collect();
    sources
        .iter()
        .map(|(module, src)| {
            let uses = uses_of(module, src, &modules)
                .into_iter()
                .map(|(to, line)| (to, format!("src/{module}.rs:{line}")))
                .collect();
            (module.clone(), uses)
        })
        .collect()
}

/// A cycle `a -> b -> … -> a` with where each edge is, if there is one.
fn find_cycle(edges: &Edges) -> Option<String> {
    fn visit(
        node: &str,
        edges: &Edges,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(k) = path.iter().position(|m| m == node) {
            return Some(path[k..].to_vec());
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flat_map(|m| m.keys()) {
            if let Some(cycle) = visit(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    let cycle = edges
        .keys()
        .find_map(|m| visit(m, edges, &mut Vec::new(), &mut done))?;
    let steps: Vec<String> = cycle
        .iter()
        .enumerate()
        .map(|(i, from)| {
            let to = &cycle[(i + 1) % cycle.len()];
            format!("{from} -> {to} ({})", edges[from][to])
        })
        .collect();
    Some(steps.join(", "))
}

fn crate_sources() -> BTreeMap<String, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(&src).expect("src/ is readable") {
        let path = entry.expect("src/ entry").path();
        assert!(
            !path.is_dir(),
            "{} is a directory: this test reads only src/*.rs; teach it nested modules",
            path.display()
        );
        if path.extension().is_some_and(|e| e == "rs") {
            let name = path
                .file_stem()
                .expect("a file name")
                .to_string_lossy()
                .to_string();
            let text = std::fs::read_to_string(&path).expect("source is readable");
            out.insert(name, text);
        }
    }
    out
}

fn render(edges: &Edges) -> String {
    edges
        .iter()
        .map(|(m, to)| {
            format!(
                "{m} -> {}",
                to.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_modules_of_the_crate_have_no_import_cycle() {
    let edges = graph(&crate_sources());
    if let Some(cycle) = find_cycle(&edges) {
        panic!("import cycle: {cycle}\nmodule graph:\n{}", render(&edges));
    }
}

#[test]
fn the_graph_sees_use_trees_inline_paths_and_the_roots_child_paths() {
    let edges = graph(&crate_sources());
    let has = |from: &str, to: &str| edges.get(from).is_some_and(|m| m.contains_key(to));
    // `use crate::functions::{self, Host, …}` in eval; `crate::datetime::to_millis` inline in
    // functions; `eval::Ctx` in the crate root.
    assert!(has("eval", "functions"), "{}", render(&edges));
    assert!(has("functions", "datetime"), "{}", render(&edges));
    assert!(has("lib", "eval"), "{}", render(&edges));
    // a test module's `use super::*` is its own file's, not the crate root's
    assert!(!has("value", "lib"), "{}", render(&edges));
}

#[test]
fn a_cycle_is_found_and_printed_with_its_lines() {
    let sources: BTreeMap<String, String> = [
        ("lib", "mod a;\nmod b;\nmod c;\npub use a::X;\n"),
        (
            "a",
            "// crate::c is only a comment\nuse crate::b::Y;\npub struct X;\n",
        ),
        (
            "b",
            "pub struct Y;\nfn f() { let _ = \"crate::a\"; crate::c::z(); }\n",
        ),
        (
            "c",
            "pub fn z() {}\nuse super::{a::X, b};\n#[cfg(test)]\nmod tests { use super::*; }\n",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let edges = graph(&sources);
    let cycle = find_cycle(&edges).expect("a -> b -> c -> a is a cycle");
    assert_eq!(
        cycle,
        "a -> b (src/a.rs:2), b -> c (src/b.rs:2), c -> a (src/c.rs:2)"
    );
    let mut acyclic = sources;
    acyclic.insert("c".into(), "pub fn z() {}\n".into());
    assert_eq!(find_cycle(&graph(&acyclic)), None);
}
