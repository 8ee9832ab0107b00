use super::*;

fn file(module: &str, text: &str) -> SourceFile {
    SourceFile {
        module: module.into(),
        file: format!("{}.rs", module.replace("::", "/")),
        text: text.into(),
    }
}

fn graph(files: &[(&str, &str)]) -> ModuleGraph {
    let files: Vec<SourceFile> = files.iter().map(|(m, t)| file(m, t)).collect();
    ModuleGraph::from_sources(&files)
}

#[test]
fn given_two_modules_that_use_each_other_then_the_cycle_names_both_and_the_lines() {
    let g = graph(&[
        ("crate", "pub mod a;\npub mod b;\n"),
        ("crate::a", "use crate::b::B;\npub struct A;\n"),
        ("crate::b", "\n\nuse crate::a::A;\npub struct B;\n"),
    ]);
    let cycles = g.cycles();
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    assert_eq!(cycles[0].modules, ["crate::a", "crate::b"]);
    assert_eq!(
        cycles[0].to_string(),
        "crate::a -> crate::b (crate/a.rs:1), crate::b -> crate::a (crate/b.rs:3)"
    );
}

#[test]
fn given_a_layered_crate_then_there_is_no_cycle() {
    let g = graph(&[
        (
            "crate",
            "pub mod a;\npub mod b;\npub use a::A;\npub use b::B;\n",
        ),
        ("crate::a", "pub struct A;\n"),
        ("crate::b", "use crate::A;\npub struct B(A);\n"),
    ]);
    assert!(g.cycles().is_empty(), "{:?}", g.cycles());
    assert!(
        g.edge("crate::b", "crate::a").is_some(),
        "a root re-export leads to its origin"
    );
    assert!(
        g.edge("crate", "crate::a").is_none(),
        "the root's pub use is its facade"
    );
}

#[test]
fn given_paths_outside_use_lines_then_they_are_edges_too() {
    let g = graph(&[
        ("crate::a", "fn f() { crate::b::run(); }\n"),
        (
            "crate::b",
            "pub fn run() { let _ = crate::a::f as fn(); }\n",
        ),
    ]);
    assert_eq!(g.cycles().len(), 1);
}

#[test]
fn given_use_trees_with_groups_self_and_aliases_then_every_path_is_an_edge() {
    let g = graph(&[
        (
            "crate::a",
            "use crate::{b::{self, X as Y}, c::*};\nuse super::d::Z;\n",
        ),
        ("crate::b", ""),
        ("crate::c", ""),
        ("crate::d", ""),
    ]);
    let uses: Vec<&str> = g.uses("crate::a").collect();
    assert_eq!(uses, ["crate::b", "crate::c", "crate::d"]);
}

#[test]
fn given_super_in_an_inline_test_module_then_it_is_the_file_itself() {
    let g = graph(&[
        (
            "crate::a",
            "pub fn f() {}\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\n",
        ),
        ("crate::a::b", "use super::f;\n"),
    ]);
    assert_eq!(g.uses("crate::a").count(), 0);
    assert!(g.edge("crate::a::tests", "crate::a").is_some());
    assert!(g.edge("crate::a::b", "crate::a").is_some());
}

#[test]
fn given_a_parent_using_its_child_which_uses_the_parent_then_that_is_a_cycle() {
    let g = graph(&[
        ("crate::a", "mod items;\nuse items::Item;\npub struct P;\n"),
        ("crate::a::items", "use super::P;\npub struct Item;\n"),
    ]);
    assert_eq!(g.cycles().len(), 1);
}

#[test]
fn given_paths_in_comments_strings_and_macros_then_they_are_not_edges() {
    let g = graph(&[
        (
            "crate::a",
            "// use crate::b::X;\n/* crate::b::Y /* nested */ crate::b::Z */\nconst S: &str = \"crate::b::W\";\nconst R: &str = r#\"crate::b::\"V\"#;\nconst C: char = '{';\nfn f<'x>(_: &'x str) {}\nmacro_rules! m { () => { $crate::b::U } }\npub(in crate::b) struct T;\n",
        ),
        ("crate::b", ""),
    ]);
    assert_eq!(
        g.uses("crate::a").count(),
        0,
        "{:?}",
        g.uses("crate::a").collect::<Vec<_>>()
    );
}

#[test]
fn given_test_modules_that_use_each_others_files_then_there_is_no_cycle() {
    let g = graph(&[
        (
            "crate::a",
            "pub fn f() {}
#[cfg(test)]
mod tests {
    use crate::b::g;
}
",
        ),
        (
            "crate::b",
            "pub fn g() { crate::a::f() }
",
        ),
    ]);
    assert!(g.cycles().is_empty(), "{:?}", g.cycles());
    assert!(g.edge("crate::a::tests", "crate::b").is_some());
}

#[test]
fn given_a_module_publishing_its_childs_item_which_uses_the_module_then_there_is_no_cycle() {
    let g = graph(&[
        (
            "crate::h",
            "mod mem;
pub use mem::Mem;
pub trait T {}
",
        ),
        (
            "crate::h::mem",
            "use super::T;
pub struct Mem;
",
        ),
        (
            "crate::user",
            "use crate::h::Mem;
",
        ),
    ]);
    assert!(g.cycles().is_empty(), "{:?}", g.cycles());
    assert!(g.edge("crate::user", "crate::h::mem").is_some());
}

#[test]
fn given_a_re_export_in_a_module_then_users_depend_on_the_origin_and_the_re_exporter_on_it() {
    let g = graph(&[
        ("crate::input", "pub use crate::metrics::ProblemType;\n"),
        ("crate::metrics", "pub enum ProblemType { A }\n"),
        ("crate::user", "use crate::input::ProblemType;\n"),
    ]);
    assert!(g.edge("crate::user", "crate::metrics").is_some());
    assert!(g.edge("crate::user", "crate::input").is_none());
    assert!(g.edge("crate::input", "crate::metrics").is_some());
}

#[test]
fn given_file_paths_then_module_paths_follow_rusts_rules() {
    assert_eq!(
        module_path(Path::new("lib.rs"), true).as_deref(),
        Some("crate")
    );
    assert_eq!(module_path(Path::new("main.rs"), true), None);
    assert_eq!(
        module_path(Path::new("main.rs"), false).as_deref(),
        Some("crate")
    );
    assert_eq!(
        module_path(Path::new("a/mod.rs"), true).as_deref(),
        Some("crate::a")
    );
    assert_eq!(
        module_path(Path::new("a/b.rs"), true).as_deref(),
        Some("crate::a::b")
    );
    assert_eq!(module_path(Path::new("bin/x.rs"), true), None);
}
