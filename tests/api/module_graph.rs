//! The shape of `src/app/`, checked from its source: no module imports a
//! module that imports it back (directly or around a longer circle), and
//! authentication (`app::authn`) stands on the store, the domain and crypto
//! alone.
//!
//! A module here is a file: `app/auth/login.rs` is `app::auth::login`,
//! `app/auth/mod.rs` is `app::auth`. An import names the deepest module its
//! path reaches. Imports from an enclosing module (`use super::*` in
//! `auth/login.rs`, `crate::app::App`) are how Rust shares a parent's items
//! with its children and are not edges, but a child may only take from its
//! parent what the parent defines itself, never what the parent re-exports
//! from another module: that would hide a real edge.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every module of `src/app/` and the source of its file.
fn app_modules() -> BTreeMap<String, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules = BTreeMap::new();
    let mut pending = vec![root.join("app")];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/app is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let source = std::fs::read_to_string(&path).expect("a readable source file");
                modules.insert(module_of(&root, &path), source);
            }
        }
    }
    modules
}

/// `app::auth::login` for `src/app/auth/login.rs`, `app::auth` for its `mod.rs`.
fn module_of(root: &Path, path: &Path) -> String {
    let relative: PathBuf = path
        .strip_prefix(root)
        .expect("under src")
        .with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|last| last == "mod") {
        parts.pop();
    }
    parts.join("::")
}

/// The `use` declarations of `source` outside `#[cfg(test)]` modules, each
/// flattened to one line.
fn use_declarations(source: &str) -> Vec<String> {
    let code = source.split("#[cfg(test)]").next().unwrap_or(source);
    let mut declarations = Vec::new();
    let mut current: Option<String> = None;
    for line in code.lines() {
        let trimmed = line.trim();
        if let Some(text) = current.as_mut() {
            text.push_str(trimmed);
        } else if ["use ", "pub use ", "pub(crate) use ", "pub(super) use "]
            .iter()
            .any(|start| trimmed.starts_with(start))
        {
            current = Some(trimmed.to_owned());
        }
        if current.as_ref().is_some_and(|text| text.ends_with(';')) {
            declarations.extend(current.take());
        }
    }
    declarations
}

/// The full paths one `use` declaration imports, with `{a, b::c}` groups
/// expanded: `use super::x::{A, y::B};` gives `super::x::A` and `super::x::y::B`.
fn imported_paths(declaration: &str) -> Vec<String> {
    let body = declaration
        .split_once("use ")
        .map_or("", |(_, rest)| rest)
        .trim_end_matches(';')
        .replace(" as ", "@")
        .replace(' ', "");
    let mut paths = Vec::new();
    expand("", &body, &mut paths);
    paths
}

fn expand(prefix: &str, tree: &str, out: &mut Vec<String>) {
    if let Some(open) = tree.find('{') {
        let head = &tree[..open];
        let inner = &tree[open + 1..tree.len() - 1];
        let mut depth = 0;
        let mut start = 0;
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&format!("{prefix}{head}"), &inner[start..i], out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        if start < inner.len() {
            expand(&format!("{prefix}{head}"), &inner[start..], out);
        }
    } else if !tree.is_empty() {
        let path = format!("{prefix}{tree}");
        let path = path.split('@').next().unwrap_or(&path);
        out.push(path.trim_end_matches("::self").to_owned());
    }
}

/// `super::x::Y` seen from `module` (a file) as an absolute path.
/// A file's module is named after the file (`a/b.rs` is `a::b`, `a/mod.rs`
/// is `a`), so `super` is always the module's parent.
fn absolute(module: &str, path: &str) -> Option<String> {
    let mut base: Vec<&str> = module.split("::").collect();
    let mut rest = path;
    if let Some(tail) = rest.strip_prefix("crate::") {
        return Some(tail.to_owned());
    }
    if let Some(tail) = rest.strip_prefix("self::") {
        return Some(format!("{}::{tail}", base.join("::")));
    }
    let mut climbed = false;
    while let Some(tail) = rest.strip_prefix("super::") {
        base.pop();
        rest = tail;
        climbed = true;
    }
    if climbed {
        return Some(format!("{}::{rest}", base.join("::")));
    }
    // A path starting with a child module declared in this file.
    Some(format!("{module}::{rest}"))
}

/// The deepest known module `path` lies in.
fn owning_module<'a>(modules: &'a BTreeMap<String, String>, path: &str) -> Option<&'a str> {
    let mut candidate = path.to_owned();
    loop {
        if let Some((key, _)) = modules.get_key_value(&candidate) {
            return Some(key);
        }
        let (parent, _) = candidate.rsplit_once("::")?;
        candidate = parent.to_owned();
    }
}

/// What `source` re-exports (`pub use x::{A, B}`): the names A and B.
fn reexported_names(source: &str) -> BTreeSet<String> {
    use_declarations(source)
        .iter()
        .filter(|d| d.starts_with("pub use ") || d.starts_with("pub(crate) use "))
        .flat_map(|d| imported_paths(d))
        .filter_map(|p| p.rsplit("::").next().map(str::to_owned))
        .collect()
}

/// The edges between modules of `src/app/`, and the violations found on the way.
fn module_edges(
    modules: &BTreeMap<String, String>,
) -> (BTreeMap<String, BTreeSet<String>>, Vec<String>) {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut violations = Vec::new();
    for (module, source) in modules {
        edges.entry(module.clone()).or_default();
        for declaration in use_declarations(source) {
            for path in imported_paths(&declaration) {
                let local = path.starts_with("super::")
                    || path.starts_with("self::")
                    || path.starts_with("crate::app");
                let child = source.contains(&format!("mod {};", first_segment(&path)));
                if !local && !child {
                    continue;
                }
                let Some(absolute) = absolute(module, &path) else {
                    continue;
                };
                let Some(target) = owning_module(modules, &absolute) else {
                    continue;
                };
                if target == module {
                    continue;
                }
                let ancestor = module.starts_with(&format!("{target}::"));
                if ancestor {
                    let name = absolute.rsplit("::").next().unwrap_or_default();
                    if name != "*" && reexported_names(&modules[target]).contains(name) {
                        violations.push(format!(
                            "{module} imports {name} through {target}, which only re-exports it: \
                             import it from the module that defines it"
                        ));
                    }
                    continue;
                }
                edges
                    .entry(module.clone())
                    .or_default()
                    .insert(target.to_owned());
            }
        }
    }
    (edges, violations)
}

fn first_segment(path: &str) -> &str {
    path.split("::").next().unwrap_or(path)
}

/// A circle of modules, if there is one.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, done, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|node| visit(node, edges, &mut done, &mut Vec::new()))
}

#[test]
fn no_module_of_app_imports_one_that_imports_it_back() {
    let modules = app_modules();
    assert!(modules.len() > 20, "found only {modules:?}");
    let (edges, violations) = module_edges(&modules);
    assert!(violations.is_empty(), "{violations:#?}");
    assert!(
        edges["app::accounts::lifecycle"].contains("app::blocks::audit"),
        "the checker reads real imports: {edges:#?}"
    );
    assert_eq!(find_cycle(&edges), None, "a circle of imports in src/app");
}

#[test]
fn authentication_stands_on_store_domain_and_crypto_alone() {
    let modules = app_modules();
    let (edges, _) = module_edges(&modules);
    for (module, targets) in &edges {
        if !module.starts_with("app::authn") {
            continue;
        }
        for target in targets {
            assert!(
                target.starts_with("app::authn") || target == "app::error",
                "{module} imports {target}: authentication may use only the store, \
                 the domain, crypto and app::error"
            );
        }
    }
}

#[test]
fn the_checker_sees_a_circle_and_a_hidden_edge() {
    let mut modules = BTreeMap::new();
    modules.insert(
        "app".to_owned(),
        "mod a;\nmod b;\npub use b::B;\n".to_owned(),
    );
    modules.insert("app::a".to_owned(), "use super::b::{B, C};\n".to_owned());
    modules.insert("app::b".to_owned(), "use crate::app::a::A;\n".to_owned());
    let (edges, _) = module_edges(&modules);
    assert!(find_cycle(&edges).is_some(), "{edges:?}");

    modules.insert("app::b".to_owned(), "pub struct B;\n".to_owned());
    let (edges, _) = module_edges(&modules);
    assert_eq!(find_cycle(&edges), None, "{edges:?}");

    modules.insert("app::c".to_owned(), "use super::B;\n".to_owned());
    let (_, violations) = module_edges(&modules);
    assert_eq!(violations.len(), 1, "{violations:?}");
}
