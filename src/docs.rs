//! Registry documentation (`docs/`), rendered from the provider's own schemas and the files in
//! `examples/`, in the layout and format the Terraform Registry reads.
//!
//! `scripts/gen-docs` writes the pages; a test fails when the committed ones are stale.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use crate::provider::{SECRET, SECRET_GROUP, SECRET_GROUPS, TrueFoundryProvider};
use crate::schema::{Attribute, AttributeType, Nesting, Schema};
use crate::server::{FunctionSignature, Provider};
use crate::value::Type;

const PROVIDER: &str = "truefoundry";

/// Every page, by path under `docs/`. `root` is the project directory (for the examples).
pub fn render_all(root: &Path) -> std::io::Result<BTreeMap<String, String>> {
    let provider = TrueFoundryProvider::new();
    let example = |path: &str| std::fs::read_to_string(root.join("examples").join(path));
    let mut pages = BTreeMap::new();
    pages.insert(
        "index.md".to_owned(),
        page(
            &format!("{PROVIDER} Provider"),
            &format!("# {PROVIDER} Provider"),
            &provider.schema(),
            &[("terraform", example("provider/provider.tf")?)],
            None,
        ),
    );
    let resource = provider.resources()[SECRET_GROUP].schema();
    pages.insert(
        "resources/secret_group.md".to_owned(),
        page(
            &format!("{SECRET_GROUP} Resource - {PROVIDER}"),
            &format!("# {SECRET_GROUP} (Resource)"),
            &resource,
            &[(
                "terraform",
                example("resources/truefoundry_secret_group/resource.tf")?,
            )],
            Some(example("resources/truefoundry_secret_group/import.sh")?),
        ),
    );
    let secret = provider.resources()[SECRET].schema();
    pages.insert(
        "resources/secret.md".to_owned(),
        page(
            &format!("{SECRET} Resource - {PROVIDER}"),
            &format!("# {SECRET} (Resource)"),
            &secret,
            &[(
                "terraform",
                example("resources/truefoundry_secret/resource.tf")?,
            )],
            Some(example("resources/truefoundry_secret/import.sh")?),
        ),
    );
    for name in [SECRET_GROUP, SECRET_GROUPS, SECRET] {
        let data = provider.data_sources()[name].schema();
        let short = name.strip_prefix("truefoundry_").unwrap_or(name);
        pages.insert(
            format!("data-sources/{short}.md"),
            page(
                &format!("{name} Data Source - {PROVIDER}"),
                &format!("# {name} (Data Source)"),
                &data,
                &[(
                    "terraform",
                    example(&format!("data-sources/{name}/data-source.tf"))?,
                )],
                None,
            ),
        );
    }
    let ephemeral = provider.ephemeral_resources()[SECRET_GROUP].schema();
    pages.insert(
        "ephemeral-resources/secret_group.md".to_owned(),
        page(
            &format!("{SECRET_GROUP} Ephemeral Resource - {PROVIDER}"),
            &format!("# {SECRET_GROUP} (Ephemeral Resource)"),
            &ephemeral,
            &[(
                "terraform",
                example("ephemeral-resources/truefoundry_secret_group/ephemeral-resource.tf")?,
            )],
            None,
        ),
    );
    for (name, list) in provider.list_resources() {
        let short = name.strip_prefix("truefoundry_").unwrap_or(&name);
        pages.insert(
            format!("list-resources/{short}.md"),
            page(
                &format!("{name} List Resource - {PROVIDER}"),
                &format!("# {name} (List Resource)"),
                &list.schema(),
                &[(
                    "terraform",
                    example(&format!("list-resources/{name}/list-resource.tfquery.hcl"))?,
                )],
                None,
            ),
        );
    }
    for (name, function) in provider.functions() {
        pages.insert(
            format!("functions/{name}.md"),
            function_page(
                &name,
                &function.signature(),
                &example(&format!("functions/{name}/function.tf"))?,
            ),
        );
    }
    Ok(pages)
}

/// A function's page, in the layout the Registry uses for provider functions.
fn function_page(name: &str, signature: &FunctionSignature, example: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "---");
    let _ = writeln!(out, "page_title: \"{name} function - {PROVIDER}\"");
    let _ = writeln!(out, "subcategory: \"\"");
    let _ = writeln!(out, "description: |-");
    let _ = writeln!(out, "  {}", signature.summary);
    let _ = writeln!(out, "---");
    let _ = writeln!(out);
    let _ = writeln!(out, "# function: {name}");
    let _ = writeln!(out);
    let _ = writeln!(out, "{}", signature.description);
    let _ = writeln!(out);
    let _ = writeln!(out, "## Example Usage");
    let _ = writeln!(out);
    let _ = writeln!(out, "```terraform");
    let _ = writeln!(out, "{}", example.trim_end());
    let _ = writeln!(out, "```");
    let _ = writeln!(out);
    let _ = writeln!(out, "## Signature");
    let _ = writeln!(out);
    let parameters: Vec<String> = signature
        .parameters
        .iter()
        .map(|parameter| format!("{} {}", parameter.name, signature_type(&parameter.ty)))
        .collect();
    let _ = writeln!(out, "```text");
    let _ = writeln!(
        out,
        "{name}({}) {}",
        parameters.join(", "),
        signature_type(&signature.returns)
    );
    let _ = writeln!(out, "```");
    let _ = writeln!(out);
    let _ = writeln!(out, "## Arguments");
    let _ = writeln!(out);
    for (position, parameter) in signature.parameters.iter().enumerate() {
        let _ = writeln!(
            out,
            "{}. `{}` ({}) {}",
            position + 1,
            parameter.name,
            type_name(&parameter.ty),
            parameter.description
        );
    }
    out
}

/// A type as a function signature writes it: Terraform's type constraint syntax.
fn signature_type(ty: &Type) -> String {
    match ty {
        Type::Bool => "bool".to_owned(),
        Type::Number => "number".to_owned(),
        Type::String => "string".to_owned(),
        Type::Dynamic => "any".to_owned(),
        Type::List(inner) => format!("list({})", signature_type(inner)),
        Type::Set(inner) => format!("set({})", signature_type(inner)),
        Type::Map(inner) => format!("map({})", signature_type(inner)),
        Type::Tuple(items) => format!(
            "tuple([{}])",
            items
                .iter()
                .map(signature_type)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Type::Object(attributes) => format!(
            "object({{ {} }})",
            attributes
                .iter()
                .map(|(name, ty)| format!("{name} = {}", signature_type(ty)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn page(
    title: &str,
    heading: &str,
    schema: &Schema,
    examples: &[(&str, String)],
    import: Option<String>,
) -> String {
    let description = schema.block.description.markdown.trim();
    let first_paragraph = description.split("\n\n").next().unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(out, "---");
    let _ = writeln!(out, "page_title: \"{title}\"");
    let _ = writeln!(out, "subcategory: \"\"");
    let _ = writeln!(out, "description: |-");
    for line in first_paragraph.lines() {
        let _ = writeln!(out, "  {line}");
    }
    let _ = writeln!(out, "---");
    let _ = writeln!(out);
    let _ = writeln!(out, "{heading}");
    let _ = writeln!(out);
    let _ = writeln!(out, "{description}");
    let _ = writeln!(out);
    let _ = writeln!(out, "## Example Usage");
    for (lang, text) in examples {
        let _ = writeln!(out);
        let _ = writeln!(out, "```{lang}");
        let _ = write!(out, "{}", text.trim_end());
        let _ = writeln!(out);
        let _ = writeln!(out, "```");
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "<!-- schema generated from the provider's schema by scripts/gen-docs -->"
    );
    let _ = writeln!(out, "## Schema");
    let mut nested = Vec::new();
    attribute_sections(&mut out, &schema.block.attributes, "###", "", &mut nested);
    while let Some((anchor, name, attributes)) = nested.pop() {
        let _ = writeln!(out);
        let _ = writeln!(out, "<a id=\"{anchor}\"></a>");
        let _ = writeln!(out, "### Nested Schema for `{name}`");
        attribute_sections(&mut out, &attributes, "", &format!("{name}."), &mut nested);
    }
    if let Some(import) = import {
        let _ = writeln!(out);
        let _ = writeln!(out, "## Import");
        let _ = writeln!(out);
        let _ = writeln!(out, "Import is supported using the following syntax:");
        let _ = writeln!(out);
        let _ = writeln!(out, "```shell");
        let _ = write!(out, "{}", import.trim_end());
        let _ = writeln!(out);
        let _ = writeln!(out, "```");
    }
    out
}

type NestedQueue = Vec<(String, String, Vec<Attribute>)>;
type AttributeFilter = fn(&Attribute) -> bool;

fn attribute_sections(
    out: &mut String,
    attributes: &[Attribute],
    heading: &str,
    prefix: &str,
    nested: &mut NestedQueue,
) {
    let sections: [(&str, AttributeFilter); 3] = [
        ("Required", |a| a.required),
        ("Optional", |a| a.optional),
        ("Read-Only", |a| a.computed && !a.optional && !a.required),
    ];
    for (title, belongs) in sections {
        let mut members: Vec<&Attribute> = attributes.iter().filter(|a| belongs(a)).collect();
        if members.is_empty() {
            continue;
        }
        members.sort_by(|a, b| a.name.cmp(&b.name));
        let _ = writeln!(out);
        if heading.is_empty() {
            let _ = writeln!(out, "{title}:");
        } else {
            let _ = writeln!(out, "{heading} {title}");
        }
        let _ = writeln!(out);
        for attribute in members {
            let mut marks = vec![type_label(attribute)];
            if attribute.sensitive {
                marks.push("Sensitive".to_owned());
            }
            if attribute.write_only {
                marks.push(
                    "[Write-only](https://developer.hashicorp.com/terraform/language/resources/ephemeral#write-only-arguments)"
                        .to_owned(),
                );
            }
            if attribute.deprecated {
                marks.push("Deprecated".to_owned());
            }
            let description = attribute.description.markdown.replace('\n', " ");
            let mut line = format!(
                "- `{}` ({}) {description}",
                attribute.name,
                marks.join(", ")
            );
            if let AttributeType::Nested { attributes, .. } = &attribute.ty {
                let full = format!("{prefix}{}", attribute.name);
                let anchor = format!("nestedatt--{}", full.replace('.', "--"));
                let _ = write!(line, " (see [below for nested schema](#{anchor}))");
                nested.insert(0, (anchor, full, attributes.clone()));
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }
}

fn type_label(attribute: &Attribute) -> String {
    match &attribute.ty {
        AttributeType::Simple(ty) => type_name(ty),
        AttributeType::Nested { nesting, .. } => match nesting {
            Nesting::Single => "Attributes".to_owned(),
            Nesting::List => "Attributes List".to_owned(),
            Nesting::Set => "Attributes Set".to_owned(),
            Nesting::Map => "Attributes Map".to_owned(),
        },
    }
}

fn type_name(ty: &Type) -> String {
    match ty {
        Type::Bool => "Boolean".to_owned(),
        Type::Number => "Number".to_owned(),
        Type::String => "String".to_owned(),
        Type::Dynamic => "Dynamic".to_owned(),
        Type::List(inner) => format!("List of {}", type_name(inner)),
        Type::Set(inner) => format!("Set of {}", type_name(inner)),
        Type::Map(inner) => format!("Map of {}", type_name(inner)),
        Type::Tuple(_) => "Tuple".to_owned(),
        Type::Object(_) => "Object".to_owned(),
    }
}
