//! Every example is `terraform fmt` clean and passes `terraform validate` against our provider.

use std::path::{Path, PathBuf};

use crate::support::terraform::{Workspace, for_each_terraform};

/// Folders under examples/ that hold .tf files directly (modules are checked with their caller).
fn example_dirs(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut has_tf = false;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if !path.ends_with("modules") {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "tf") {
                has_tf = true;
            }
        }
        if has_tf {
            found.push(dir);
        }
    }
    found.sort();
    found
}

fn copy_tree(from: &Path, to: &Path, ws: &Workspace) {
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let relative = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_tree(&path, &relative, ws);
        } else {
            ws.write(
                relative.to_str().unwrap(),
                &std::fs::read_to_string(&path).unwrap(),
            );
        }
    }
}

#[test]
fn examples_are_formatted_and_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let dirs = example_dirs(&root);
    assert!(dirs.len() >= 7, "examples found: {dirs:?}");
    for_each_terraform(|terraform| {
        for dir in &dirs {
            let main = std::fs::read_to_string(
                dir.join(
                    dir.read_dir()
                        .unwrap()
                        .find_map(|e| {
                            let p = e.unwrap().path();
                            p.extension().is_some_and(|x| x == "tf").then_some(p)
                        })
                        .unwrap(),
                ),
            )
            .unwrap();
            // Write-only and ephemeral examples need Terraform 1.11.
            if main.contains("required_version = \">= 1.11\"") && !terraform.at_least(1, 11) {
                continue;
            }
            let ws = Workspace::new(terraform);
            ws.remove("versions.tf");
            copy_tree(dir, Path::new(""), &ws);
            let label = dir.strip_prefix(&root).unwrap().display().to_string();
            let fmt = ws.run(&["fmt", "-check", "-recursive", "-diff"]);
            assert!(fmt.success(), "{label} is not terraform fmt clean\n{fmt}");
            if dir.join("modules").exists() {
                ws.run(&["get"]).expect_success();
            }
            let validate = ws.run(&["validate"]);
            assert!(validate.success(), "{label} does not validate\n{validate}");
        }
    });
}
