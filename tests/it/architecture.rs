//! ARCHITECTURE.md names only places that exist.
//!
//! The rule, applied to every backticked token without spaces:
//! - it is a path when it holds only letters, digits and `_-./`, and ends in `.rs`, `.md`, `.proto`, `.py`, `.json` or `/`, or starts with
//!   `scripts/` (a trailing `::symbol` after a `.rs` file is split off first);
//! - a path whose first segment is an entry of the repository's root (`src/…`, `tests/…`,
//!   `scripts/…`, `build.rs`) must exist exactly there; any other (`write.rs`,
//!   `secret_group/keys.rs`, `client/`) is read the way the document uses it, relative to the
//!   section it sits in, so it must be the tail of some path in the repository;
//! - a symbol after a `.rs` path (`client/wire.rs::is_tenant_admin_role`) must appear as a word
//!   in that file; a `module::name` token (`write::secrets_write`) whose module is a file under
//!   `src/` (`write.rs` or `write/mod.rs`, anywhere) must have its last segment appear as a word
//!   in one of those files. Tokens like `anyhow::Result` or `Identity::not_found`, whose first
//!   segment is no module file, are not checked.

use std::path::{Path, PathBuf};

const PATH_ENDINGS: [&str; 6] = [".rs", ".md", ".proto", ".py", ".json", "/"];

/// Every backticked token of `text` that holds no whitespace.
fn backticked(text: &str) -> Vec<&str> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|token| !token.is_empty() && !token.contains(char::is_whitespace))
        .collect()
}

/// The repository's files and folders, relative to the root, folders ending in `/`; build
/// output, tool downloads and version control left out.
fn repository_paths(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("the repository is readable") {
            let path = entry.expect("a directory entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if [".git", "target", ".tools", "node_modules"].contains(&name.as_str()) {
                continue;
            }
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if path.is_dir() {
                out.push(format!("{relative}/"));
                walk(root, &path, out);
            } else {
                out.push(relative);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out
}

fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        let is_ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !is_ident(before) && !is_ident(after)
    })
}

/// What is wrong with one token, if anything.
fn problem(token: &str, root: &Path, paths: &[String]) -> Option<String> {
    let matching = |path: &str| -> Vec<PathBuf> {
        let top = path.split('/').next().unwrap_or_default();
        let top_is_root_entry = paths
            .iter()
            .any(|p| p == top || p.strip_suffix('/') == Some(top));
        if top_is_root_entry {
            paths
                .iter()
                .filter(|p| p.as_str() == path)
                .map(|p| root.join(p))
                .collect()
        } else {
            paths
                .iter()
                .filter(|p| p.ends_with(&format!("/{path}")))
                .map(|p| root.join(p))
                .collect()
        }
    };
    let (path, symbol) = match token.split_once(".rs::") {
        Some((file, symbol)) => (format!("{file}.rs"), Some(symbol)),
        None => (token.to_owned(), None),
    };
    let path_chars = path
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-./".contains(c));
    let is_path = path_chars
        && (PATH_ENDINGS.iter().any(|end| path.ends_with(end)) || path.starts_with("scripts/"));
    if is_path {
        let found = matching(&path);
        if found.is_empty() {
            return Some(format!("`{token}`: no such path"));
        }
        let symbol = symbol?;
        let last = symbol.rsplit("::").next().unwrap();
        let named = found
            .iter()
            .any(|file| std::fs::read_to_string(file).is_ok_and(|text| contains_word(&text, last)));
        return (!named).then(|| format!("`{token}`: `{last}` is not in {path}"));
    }
    let (module, rest) = token.split_once("::")?;
    let is_module_name = module
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !is_module_name || rest.is_empty() {
        return None;
    }
    let files: Vec<PathBuf> = paths
        .iter()
        .filter(|p| {
            p.starts_with("src/")
                && (p.ends_with(&format!("/{module}.rs"))
                    || p.ends_with(&format!("/{module}/mod.rs")))
        })
        .map(|p| root.join(p))
        .collect();
    if files.is_empty() {
        return None;
    }
    let last = rest.rsplit("::").next().unwrap().trim_end_matches("()");
    let named = files
        .iter()
        .any(|file| std::fs::read_to_string(file).is_ok_and(|text| contains_word(&text, last)));
    (!named).then(|| format!("`{token}`: `{last}` is in no `{module}` module"))
}

fn problems(text: &str, root: &Path) -> Vec<String> {
    let paths = repository_paths(root);
    backticked(text)
        .into_iter()
        .filter_map(|token| problem(token, root, &paths))
        .collect()
}

#[test]
fn every_path_and_symbol_architecture_md_names_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let checked = backticked(&text)
        .iter()
        .filter(|token| {
            PATH_ENDINGS.iter().any(|end| token.ends_with(end)) || token.contains(".rs::")
        })
        .count();
    assert!(checked > 50, "the rule finds the map's paths ({checked})");
    let problems = problems(&text, root);
    assert!(
        problems.is_empty(),
        "ARCHITECTURE.md names places that do not exist:\n{}",
        problems.join("\n")
    );
}

/// The rule itself: a renamed file, a vanished symbol and a missing script are each caught, and
/// what the document means by a relative path is found.
#[test]
fn the_architecture_check_catches_what_went_missing() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = "`src/provider/secret_group/writes.rs`, `secret_group/write.rs`, \
                `write::no_such_function`, `write::secrets_write`, `scripts/no-such-script`, \
                `client/wire.rs::no_such_role_check`, `anyhow::Result`, `tests/it/support/`";
    assert_eq!(
        problems(text, root),
        [
            "`src/provider/secret_group/writes.rs`: no such path",
            "`write::no_such_function`: `no_such_function` is in no `write` module",
            "`scripts/no-such-script`: no such path",
            "`client/wire.rs::no_such_role_check`: `no_such_role_check` is not in client/wire.rs",
        ]
    );
}

/// The source files under `src/` that `in_scope` takes and whose text holds one of `needles`.
fn sources_using(root: &Path, needles: &[&str], in_scope: impl Fn(&str) -> bool) -> Vec<String> {
    let sources: Vec<String> = repository_paths(root)
        .into_iter()
        .filter(|path| path.starts_with("src/") && path.ends_with(".rs"))
        .collect();
    assert!(
        sources.len() > 50,
        "the source files are found ({})",
        sources.len()
    );
    sources
        .into_iter()
        .filter(|path| in_scope(path))
        .filter(|path| {
            let text = std::fs::read_to_string(root.join(path)).expect("a source file");
            needles.iter().any(|needle| text.contains(needle))
        })
        .collect()
}

/// The `server/` invariant: no source file outside `server/` and `plugin/` uses the generated
/// protobuf types, so the provider, the client, the values and the emulator see none of them.
#[test]
fn generated_protobuf_types_stay_in_the_server_and_the_plugin() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let strays = sources_using(root, &["proto::", "tfplugin6 as pb"], |path| {
        !path.starts_with("src/server/") && !path.starts_with("src/plugin/")
    });
    assert!(
        strays.is_empty(),
        "generated protobuf types used outside server/ and plugin/: {strays:?}"
    );
}

/// The emulator's invariant: an independent implementation of the API, it borrows nothing from
/// the provider or its client, so a shared mistake cannot hide on both sides.
#[test]
fn the_emulator_borrows_nothing_from_the_provider_or_its_client() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let borrowers = sources_using(
        root,
        &[
            "crate::client",
            "crate::provider",
            "truefoundry_provider::client",
            "truefoundry_provider::provider",
        ],
        |path| path.starts_with("src/emulator/") || path == "src/bin/truefoundry-emulator.rs",
    );
    assert!(
        borrowers.is_empty(),
        "the emulator uses the provider's or the client's code: {borrowers:?}"
    );
}
