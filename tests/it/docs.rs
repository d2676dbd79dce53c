//! The committed registry docs match what the provider's schemas and examples render.

use std::path::Path;

use truefoundry_provider::docs::render_all;

#[test]
fn committed_docs_are_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let pages = render_all(root).expect("examples are readable");
    let update = std::env::var_os("UPDATE_DOCS").is_some();
    let mut stale = Vec::new();
    for (path, rendered) in &pages {
        let file = root.join("docs").join(path);
        if update {
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, rendered).unwrap();
        } else if std::fs::read_to_string(&file).ok().as_deref() != Some(rendered.as_str()) {
            stale.push(path.clone());
        }
    }
    assert!(
        stale.is_empty(),
        "stale docs: {stale:?}; run scripts/gen-docs and commit the result"
    );
    for expected in [
        "index.md",
        "resources/secret_group.md",
        "resources/secret.md",
        "data-sources/secret_group.md",
        "data-sources/secret_groups.md",
        "data-sources/secret.md",
        "ephemeral-resources/secret_group.md",
    ] {
        assert!(pages.contains_key(expected), "{expected} is rendered");
    }
}
