//! The module graph of a crate, read from its sources, and the check that it has no cycle.
//!
//! A node is a module: one with its own file (`src/lib.rs` is `crate`, `src/a.rs` and
//! `src/a/mod.rs` are `crate::a`, `src/a/b.rs` is `crate::a::b`) or an inline one (`mod tests
//! { … }` in `src/a.rs` is `crate::a::tests`: a test module is a leaf that uses the others).
//! There is an edge `from -> to` when the code of `from` names a path in `to`: `crate::…`,
//! `super::…`, `self::…` or `child::…` (a child declared with `mod child;`), in a `use` tree or
//! anywhere else in the code. Comments and string literals are skipped.
//! A path through a name that a module re-exports (`pub use a::X;`) leads to where the name comes
//! from. A module's `pub use` of its own descendants (the crate root's list of re-exports, a
//! `history` module publishing `history::in_memory::X`) is its facade, not a dependency; a
//! `pub use` of any other module is one.
//! Binaries (`src/main.rs` next to a `src/lib.rs`, `src/bin/`) are other crate roots and are left
//! out. Dev-only: used by the tests that keep each crate's modules layered.

mod lexer;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use lexer::{Token, tokens};

/// The crate's sources could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ModGraphError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a crate: it has neither src/lib.rs nor src/main.rs")]
    NotACrate { path: PathBuf },
}

/// Where an edge was first seen: the file (relative to the crate) and its line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Site {
    pub file: String,
    pub line: usize,
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// One source file of a crate: its module path (`crate::a::b`), its name for messages and its
/// text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub module: String,
    pub file: String,
    pub text: String,
}

/// The modules of a crate and which uses which.
#[derive(Debug, Clone, Default)]
pub struct ModuleGraph {
    modules: BTreeSet<String>,
    edges: BTreeMap<String, BTreeMap<String, Site>>,
}

/// A cycle: `modules[0] -> modules[1] -> … -> modules[0]`, with where each edge is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    pub modules: Vec<String>,
    pub sites: Vec<Site>,
}

impl fmt::Display for Cycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (module, site)) in self.modules.iter().zip(&self.sites).enumerate() {
            let next = &self.modules[(i + 1) % self.modules.len()];
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{module} -> {next} ({site})")?;
        }
        Ok(())
    }
}

impl ModuleGraph {
    /// Reads `crate_dir/src/**/*.rs`.
    pub fn of_crate(crate_dir: &Path) -> Result<ModuleGraph, ModGraphError> {
        Ok(ModuleGraph::from_sources(&read_sources(crate_dir)?))
    }

    /// The graph of these files (`module` paths as [`ModuleGraph`] describes them).
    pub fn from_sources(files: &[SourceFile]) -> ModuleGraph {
        let scanned: Vec<Scan> = files.iter().map(scan).collect();
        let modules: BTreeSet<String> = files
            .iter()
            .map(|f| f.module.clone())
            .chain(
                scanned
                    .iter()
                    .flat_map(|s| s.inline_modules.iter().cloned()),
            )
            .collect();
        let reexports: BTreeMap<&str, &BTreeMap<String, Vec<String>>> = files
            .iter()
            .zip(&scanned)
            .map(|(f, s)| (f.module.as_str(), &s.reexports))
            .collect();
        let mut graph = ModuleGraph {
            modules,
            edges: BTreeMap::new(),
        };
        for (file, scan) in files.iter().zip(&scanned) {
            for (from, path, line) in &scan.paths {
                let Some(target) = graph.resolve(path, &reexports) else {
                    continue;
                };
                if target != *from {
                    let site = Site {
                        file: file.file.clone(),
                        line: *line,
                    };
                    graph
                        .edges
                        .entry(from.clone())
                        .or_default()
                        .entry(target)
                        .or_insert(site);
                }
            }
        }
        graph
    }

    /// Every module (node).
    pub fn modules(&self) -> impl Iterator<Item = &str> {
        self.modules.iter().map(String::as_str)
    }

    /// Whether `from` names a path in `to`; where, if it does.
    pub fn edge(&self, from: &str, to: &str) -> Option<&Site> {
        self.edges.get(from)?.get(to)
    }

    /// The modules `from` uses.
    pub fn uses(&self, from: &str) -> impl Iterator<Item = &str> {
        self.edges
            .get(from)
            .into_iter()
            .flat_map(|m| m.keys().map(String::as_str))
    }

    /// One cycle for each group of modules that use each other (empty: the graph is layered).
    pub fn cycles(&self) -> Vec<Cycle> {
        strongly_connected(self)
            .into_iter()
            .filter(|group| group.len() > 1)
            .filter_map(|group| self.cycle_within(&group))
            .collect()
    }

    /// The file module that holds `path`, following re-exports.
    fn resolve(
        &self,
        path: &[String],
        reexports: &BTreeMap<&str, &BTreeMap<String, Vec<String>>>,
    ) -> Option<String> {
        let mut path = path.to_vec();
        for _ in 0..8 {
            let (module, used) = self.file_module(&path)?;
            let origin = path
                .get(used)
                .and_then(|name| reexports.get(module.as_str())?.get(name));
            let Some(origin) = origin else {
                return Some(module);
            };
            let mut followed = origin.clone();
            followed.extend_from_slice(&path[used + 1..]);
            if followed == path {
                return Some(module);
            }
            path = followed;
        }
        self.file_module(&path).map(|(m, _)| m)
    }

    /// The longest prefix of `path` that is a file module, and how many segments it takes.
    fn file_module(&self, path: &[String]) -> Option<(String, usize)> {
        (1..=path.len()).rev().find_map(|n| {
            let candidate = path[..n].join("::");
            self.modules.contains(&candidate).then_some((candidate, n))
        })
    }

    /// A shortest cycle through the first module of `group` that stays within `group`.
    fn cycle_within(&self, group: &BTreeSet<String>) -> Option<Cycle> {
        let start = group.iter().next()?;
        let mut previous: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start.as_str()]);
        while let Some(at) = queue.pop_front() {
            for next in self.uses(at).filter(|n| group.contains(*n)) {
                if next == start {
                    let mut modules = vec![at.to_string()];
                    let mut cursor = at;
                    while cursor != start {
                        cursor = previous[cursor];
                        modules.push(cursor.to_string());
                    }
                    modules.reverse();
                    let sites = (0..modules.len())
                        .map(|i| {
                            let to = &modules[(i + 1) % modules.len()];
                            self.edges[&modules[i]][to].clone()
                        })
                        .collect();
                    return Some(Cycle { modules, sites });
                }
                if next != start && !previous.contains_key(next) {
                    previous.insert(next, at);
                    queue.push_back(next);
                }
            }
        }
        None
    }
}

/// Fails with every cycle of the crate at `crate_dir`, each named module by module with the line
/// of each import.
pub fn assert_no_cycle(crate_dir: &Path) {
    let graph = match ModuleGraph::of_crate(crate_dir) {
        Ok(g) => g,
        Err(e) => panic!("{e}"),
    };
    let cycles = graph.cycles();
    assert!(
        cycles.is_empty(),
        "{} has import cycles between its modules (give each shared item one owner below its users):\n{}",
        crate_dir.display(),
        cycles
            .iter()
            .map(|c| format!("  {c}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The `.rs` files of `crate_dir/src` with their module paths.
pub fn read_sources(crate_dir: &Path) -> Result<Vec<SourceFile>, ModGraphError> {
    let src = crate_dir.join("src");
    let has_lib = src.join("lib.rs").is_file();
    if !has_lib && !src.join("main.rs").is_file() {
        return Err(ModGraphError::NotACrate {
            path: crate_dir.to_path_buf(),
        });
    }
    let mut files = Vec::new();
    collect_rs(&src, &mut files)?;
    files.sort();
    let mut sources = Vec::new();
    for path in files {
        let relative = path.strip_prefix(&src).unwrap_or(&path).to_path_buf();
        let Some(module) = module_path(&relative, has_lib) else {
            continue;
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ModGraphError::Read {
            path: path.clone(),
            source,
        })?;
        sources.push(SourceFile {
            module,
            file: Path::new("src").join(&relative).display().to_string(),
            text,
        });
    }
    Ok(sources)
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), ModGraphError> {
    let read_error = |source| ModGraphError::Read {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let path = entry.map_err(read_error)?.path();
        if path.is_dir() {
            collect_rs(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// `lib.rs` -> `crate`, `a/b.rs` and `a/b/mod.rs` -> `crate::a::b`; `None` for other crate roots
/// (`bin/`, `main.rs` beside a `lib.rs`).
fn module_path(relative: &Path, has_lib: bool) -> Option<String> {
    let parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    match parts.as_slice() {
        [first, ..] if first == "bin" => None,
        [root] if root == "lib" => Some("crate".into()),
        [root] if root == "main" => (!has_lib).then(|| "crate".into()),
        [dirs @ .., last] => {
            let mut path = vec!["crate".to_string()];
            path.extend(dirs.iter().cloned());
            if last != "mod" {
                path.push(last.clone());
            }
            Some(path.join("::"))
        }
        [] => None,
    }
}

/// What one file names: absolute paths (with their lines) and its re-exports.
#[derive(Debug, Default)]
struct Scan {
    /// (the module that names it, the absolute path, the line).
    paths: Vec<(String, Vec<String>, usize)>,
    /// The inline modules (`mod tests { … }`) of the file.
    inline_modules: Vec<String>,
    /// name -> the absolute path it re-exports (`pub use a::b::X as Name;`).
    reexports: BTreeMap<String, Vec<String>>,
}

fn scan(file: &SourceFile) -> Scan {
    let toks = tokens(&file.text);
    let file_scope: Vec<String> = file.module.split("::").map(str::to_string).collect();
    let children = declared_children(&toks);
    let mut scan = Scan::default();
    let mut scopes: Vec<(Vec<String>, usize)> = vec![(file_scope.clone(), 0)];
    let mut depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        let scope = &scopes[scopes.len() - 1].0;
        let at_file_scope = scopes.len() == 1;
        match &toks[i].token {
            Token::Open => depth += 1,
            Token::Close => {
                depth = depth.saturating_sub(1);
                if scopes.len() > 1 && scopes[scopes.len() - 1].1 == depth {
                    scopes.pop();
                }
            }
            Token::Ident(kw) if kw == "mod" => {
                if let (Some(Token::Ident(name)), Some(Token::Open)) = (
                    toks.get(i + 1).map(|t| &t.token),
                    toks.get(i + 2).map(|t| &t.token),
                ) {
                    let mut inner = scope.clone();
                    inner.push(name.clone());
                    scan.inline_modules.push(inner.join("::"));
                    scopes.push((inner, depth));
                    depth += 1;
                    i += 3;
                    continue;
                }
            }
            Token::Ident(kw) if kw == "use" => {
                let public = is_public(&toks, i);
                let end = (i..toks.len())
                    .find(|&j| toks[j].token == Token::Semi)
                    .unwrap_or(toks.len());
                for (path, alias) in use_tree(&toks[i + 1..end]) {
                    let Some(absolute) = absolute(&path, scope, at_file_scope, &children) else {
                        continue;
                    };
                    let line = toks[i].line;
                    if public && at_file_scope && alias != "*" {
                        scan.reexports.insert(alias, absolute.clone());
                    }
                    let facade = public && is_descendant(&absolute, scope);
                    if !facade {
                        scan.paths.push((scope.join("::"), absolute, line));
                    }
                }
                i = end + 1;
                continue;
            }
            Token::Ident(first) if starts_path(&toks, i) => {
                let mut path = vec![first.clone()];
                let mut j = i + 1;
                while let (Some(Token::PathSep), Some(Token::Ident(seg))) = (
                    toks.get(j).map(|t| &t.token),
                    toks.get(j + 1).map(|t| &t.token),
                ) {
                    path.push(seg.clone());
                    j += 2;
                }
                if let Some(absolute) = absolute(&path, scope, at_file_scope, &children) {
                    scan.paths.push((scope.join("::"), absolute, toks[i].line));
                }
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    scan
}

/// An identifier followed by `::` that is not itself after `::`, `$` (`$crate`) or `in`
/// (`pub(in crate::a)`).
fn starts_path(toks: &[lexer::Located], i: usize) -> bool {
    let followed = matches!(toks.get(i + 1).map(|t| &t.token), Some(Token::PathSep));
    let prev = i.checked_sub(1).map(|p| &toks[p].token);
    let after_sep = matches!(prev, Some(Token::PathSep) | Some(Token::Dollar));
    let after_in = matches!(prev, Some(Token::Ident(k)) if k == "in");
    followed && !after_sep && !after_in
}

/// Whether `path` names something below `module` (`crate::a::b::X` is below `crate::a`).
fn is_descendant(path: &[String], module: &[String]) -> bool {
    path.len() > module.len() + 1 && path.starts_with(module)
}

/// Whether the `use` at `i` is `pub` (any visibility but private).
fn is_public(toks: &[lexer::Located], i: usize) -> bool {
    let mut j = i;
    while j > 0 {
        j -= 1;
        match &toks[j].token {
            Token::Ident(k) if k == "pub" => return true,
            Token::Other(')') | Token::Other('(') => {}
            Token::Ident(k) if k == "crate" || k == "super" || k == "self" || k == "in" => {}
            Token::PathSep => {}
            _ => return false,
        }
    }
    false
}

/// The modules declared with `mod name;` (they have their own file).
fn declared_children(toks: &[lexer::Located]) -> BTreeSet<String> {
    toks.windows(3)
        .filter_map(|w| match (&w[0].token, &w[1].token, &w[2].token) {
            (Token::Ident(m), Token::Ident(name), Token::Semi) if m == "mod" => Some(name.clone()),
            _ => None,
        })
        .collect()
}

/// `path` made absolute from `scope`; `None` when it names something outside the crate.
fn absolute(
    path: &[String],
    scope: &[String],
    at_file_scope: bool,
    children: &BTreeSet<String>,
) -> Option<Vec<String>> {
    let (mut out, mut rest) = match path.first()?.as_str() {
        "crate" => (vec!["crate".to_string()], &path[1..]),
        "self" => (scope.to_vec(), &path[1..]),
        "super" => (scope.to_vec(), path),
        name if at_file_scope && children.contains(name) => (scope.to_vec(), path),
        _ => return None,
    };
    while rest.first().is_some_and(|s| s == "super") {
        out.pop();
        rest = &rest[1..];
    }
    if out.is_empty() {
        return None;
    }
    out.extend(rest.iter().filter(|s| *s != "self").cloned());
    Some(out)
}

/// The paths of a `use` tree (tokens after `use`, before `;`), each with the name it binds
/// (`*` for a glob).
fn use_tree(toks: &[lexer::Located]) -> Vec<(Vec<String>, String)> {
    let mut out = Vec::new();
    let mut pos = 0;
    tree(toks, &mut pos, Vec::new(), &mut out);
    out
}

fn tree(
    toks: &[lexer::Located],
    pos: &mut usize,
    prefix: Vec<String>,
    out: &mut Vec<(Vec<String>, String)>,
) {
    let mut path = prefix;
    while let Some(t) = toks.get(*pos) {
        match &t.token {
            Token::Ident(k) if k == "as" => {
                *pos += 1;
                if let Some(Token::Ident(alias)) = toks.get(*pos).map(|t| &t.token) {
                    *pos += 1;
                    out.push((path, alias.clone()));
                }
                return;
            }
            Token::Ident(seg) => {
                path.push(seg.clone());
                *pos += 1;
            }
            Token::PathSep => *pos += 1,
            Token::Other('*') => {
                *pos += 1;
                out.push((path, "*".into()));
                return;
            }
            Token::Open => {
                *pos += 1;
                loop {
                    match toks.get(*pos).map(|t| &t.token) {
                        Some(Token::Close) => {
                            *pos += 1;
                            return;
                        }
                        None => return,
                        _ => {}
                    }
                    tree(toks, pos, path.clone(), out);
                    match toks.get(*pos).map(|t| &t.token) {
                        Some(Token::Comma) => *pos += 1,
                        Some(Token::Close) => {}
                        _ => return,
                    }
                }
            }
            _ => break,
        }
    }
    // `a::b::{self}` binds `b`.
    let name = path
        .iter()
        .rev()
        .find(|segment| *segment != "self")
        .cloned();
    if let Some(name) = name {
        out.push((path, name));
    }
}

/// Tarjan's strongly connected components.
fn strongly_connected(graph: &ModuleGraph) -> Vec<BTreeSet<String>> {
    struct State<'a> {
        graph: &'a ModuleGraph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        groups: Vec<BTreeSet<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.uses(v) {
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut group = BTreeSet::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                group.insert(w.to_string());
                if w == v {
                    break;
                }
            }
            s.groups.push(group);
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        groups: Vec::new(),
    };
    for v in graph.modules() {
        if !state.index.contains_key(v) {
            visit(&mut state, v);
        }
    }
    state.groups
}

#[cfg(test)]
mod tests;
