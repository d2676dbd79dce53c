//! Conversions between our model (schemas, values, diagnostics) and the tfplugin6 wire types.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::proto::google::protobuf::Timestamp;
use super::proto::tfplugin6 as pb;
use super::{ClientCapabilities, FunctionError, FunctionSignature, IdentitySchema};
use crate::diag::{AttributePath, Diagnostic, Diagnostics, PathStep, Severity};
use crate::printable;
use crate::schema::{Attribute, AttributeType, Block, Nesting, Schema};
use crate::value::{self, Type, Value};

pub fn schema_to_proto(schema: &Schema) -> pb::Schema {
    pb::Schema {
        version: schema.version,
        block: Some(block_to_proto(&schema.block, schema.version)),
    }
}

fn block_to_proto(block: &Block, version: i64) -> pb::schema::Block {
    pb::schema::Block {
        version,
        attributes: block.attributes.iter().map(attribute_to_proto).collect(),
        block_types: Vec::new(),
        description: block.description.markdown.clone(),
        description_kind: pb::StringKind::Markdown as i32,
        deprecated: block.deprecated,
    }
}

fn attribute_to_proto(attribute: &Attribute) -> pb::schema::Attribute {
    let (type_json, nested_type) = match &attribute.ty {
        AttributeType::Simple(ty) => (type_to_json_bytes(ty), None),
        AttributeType::Nested {
            nesting,
            attributes,
        } => (
            Vec::new(),
            Some(pb::schema::Object {
                attributes: attributes.iter().map(attribute_to_proto).collect(),
                nesting: nesting_to_proto(*nesting) as i32,
                min_items: 0,
                max_items: 0,
            }),
        ),
    };
    pb::schema::Attribute {
        name: attribute.name.clone(),
        r#type: type_json,
        nested_type,
        description: attribute.description.markdown.clone(),
        required: attribute.required,
        optional: attribute.optional,
        computed: attribute.computed,
        sensitive: attribute.sensitive,
        description_kind: pb::StringKind::Markdown as i32,
        deprecated: attribute.deprecated,
        write_only: attribute.write_only,
    }
}

/// A function's signature as Terraform reads it; descriptions are Markdown like the schemas'.
pub fn function_to_proto(signature: &FunctionSignature) -> pb::Function {
    pb::Function {
        parameters: signature
            .parameters
            .iter()
            .map(|parameter| pb::function::Parameter {
                name: parameter.name.to_owned(),
                r#type: type_to_json_bytes(&parameter.ty),
                allow_null_value: false,
                allow_unknown_values: false,
                description: parameter.description.to_owned(),
                description_kind: pb::StringKind::Markdown as i32,
            })
            .collect(),
        variadic_parameter: None,
        r#return: Some(pb::function::Return {
            r#type: type_to_json_bytes(&signature.returns),
        }),
        summary: signature.summary.to_owned(),
        description: signature.description.to_owned(),
        description_kind: pb::StringKind::Markdown as i32,
        deprecation_message: String::new(),
    }
}

/// An identity schema as Terraform reads it: string attributes, each needed to import.
pub fn identity_schema_to_proto(schema: &IdentitySchema) -> pb::ResourceIdentitySchema {
    pb::ResourceIdentitySchema {
        version: schema.version,
        identity_attributes: schema
            .attributes
            .iter()
            .map(
                |(name, description)| pb::resource_identity_schema::IdentityAttribute {
                    name: (*name).to_owned(),
                    r#type: type_to_json_bytes(&Type::String),
                    required_for_import: true,
                    optional_for_import: false,
                    description: (*description).to_owned(),
                },
            )
            .collect(),
    }
}

pub fn function_error_to_proto(error: FunctionError) -> pb::FunctionError {
    pb::FunctionError {
        text: error.text,
        function_argument: error.argument.map(|index| index as i64),
    }
}

fn type_to_json_bytes(ty: &Type) -> Vec<u8> {
    ty.to_json().to_string().into_bytes()
}

fn nesting_to_proto(nesting: Nesting) -> pb::schema::object::NestingMode {
    use pb::schema::object::NestingMode;
    match nesting {
        Nesting::Single => NestingMode::Single,
        Nesting::List => NestingMode::List,
        Nesting::Set => NestingMode::Set,
        Nesting::Map => NestingMode::Map,
    }
}

pub fn path_to_proto(path: &AttributePath) -> pb::AttributePath {
    use pb::attribute_path::{Step, step::Selector};
    pb::AttributePath {
        steps: path
            .0
            .iter()
            .map(|step| Step {
                selector: Some(match step {
                    PathStep::Attribute(name) => Selector::AttributeName(name.clone()),
                    PathStep::Key(key) => Selector::ElementKeyString(key.clone()),
                    PathStep::Index(index) => Selector::ElementKeyInt(*index),
                }),
            })
            .collect(),
    }
}

pub fn path_from_proto(path: &pb::AttributePath) -> AttributePath {
    use pb::attribute_path::step::Selector;
    AttributePath(
        path.steps
            .iter()
            .filter_map(|step| {
                Some(match step.selector.as_ref()? {
                    Selector::AttributeName(name) => PathStep::Attribute(name.clone()),
                    Selector::ElementKeyString(key) => PathStep::Key(key.clone()),
                    Selector::ElementKeyInt(index) => PathStep::Index(*index),
                })
            })
            .collect(),
    )
}

pub fn diagnostics_to_proto(diagnostics: &Diagnostics) -> Vec<pb::Diagnostic> {
    diagnostics
        .iter()
        .map(|diagnostic| pb::Diagnostic {
            severity: match diagnostic.severity {
                Severity::Error => pb::diagnostic::Severity::Error,
                Severity::Warning => pb::diagnostic::Severity::Warning,
            } as i32,
            // The one way out for every diagnostic: server and configuration text in it cannot
            // drive the terminal.
            summary: printable::for_terminal(&diagnostic.summary).into_owned(),
            detail: printable::for_terminal(&diagnostic.detail).into_owned(),
            attribute: diagnostic
                .path
                .as_ref()
                .filter(|path| !path.is_empty())
                .map(path_to_proto),
        })
        .collect()
}

/// For clients (the protocol test client): unknown severities count as errors.
pub fn diagnostics_from_proto(diagnostics: &[pb::Diagnostic]) -> Diagnostics {
    Diagnostics(
        diagnostics
            .iter()
            .map(|diagnostic| Diagnostic {
                severity: if diagnostic.severity == pb::diagnostic::Severity::Warning as i32 {
                    Severity::Warning
                } else {
                    Severity::Error
                },
                summary: diagnostic.summary.clone(),
                detail: diagnostic.detail.clone(),
                path: diagnostic.attribute.as_ref().map(path_from_proto),
            })
            .collect(),
    )
}

pub fn capabilities_from_proto(
    capabilities: Option<&pb::ClientCapabilities>,
) -> ClientCapabilities {
    capabilities
        .map(|c| ClientCapabilities {
            deferral_allowed: c.deferral_allowed,
            write_only_attributes_allowed: c.write_only_attributes_allowed,
        })
        .unwrap_or_default()
}

pub fn capabilities_to_proto(capabilities: ClientCapabilities) -> pb::ClientCapabilities {
    pb::ClientCapabilities {
        deferral_allowed: capabilities.deferral_allowed,
        write_only_attributes_allowed: capabilities.write_only_attributes_allowed,
    }
}

/// Decodes a DynamicValue with its schema type: msgpack when present, else JSON; nothing at
/// all is null. `what` names the value for the diagnostic ("configuration", "prior state").
pub fn decode_dynamic(
    dynamic: Option<&pb::DynamicValue>,
    ty: &Type,
    what: &str,
) -> Result<Value, Diagnostics> {
    let Some(dynamic) = dynamic else {
        return Ok(Value::Null);
    };
    let decoded = if !dynamic.msgpack.is_empty() {
        value::decode_msgpack(&dynamic.msgpack, ty)
    } else if !dynamic.json.is_empty() {
        value::decode_json(&dynamic.json, ty)
    } else {
        return Ok(Value::Null);
    };
    decoded.map_err(|error| {
        let problem = describe_problem(&error.message, &error.path);
        Diagnostics::of_error(
            "Invalid Value From Terraform",
            format!(
                "The {what} sent by Terraform does not match this provider's schema: {problem}. \
                 Check that Terraform and the provider agree on the schema (run the command again \
                 after upgrading either)."
            ),
        )
    })
}

/// Encodes a value for the wire, always as msgpack. Failure is a provider bug.
pub fn encode_dynamic(
    value: &Value,
    ty: &Type,
    what: &str,
) -> Result<pb::DynamicValue, Diagnostics> {
    match value::encode_msgpack(value, ty) {
        Ok(msgpack) => Ok(pb::DynamicValue {
            msgpack,
            json: Vec::new(),
        }),
        Err(error) => {
            let problem = describe_problem(&error.message, &error.path);
            Err(Diagnostics::of_error(
                "Provider Produced an Invalid Value",
                format!(
                    "The provider built a {what} that does not match its own schema: {problem}. \
                     This is a bug in the provider; please report it."
                ),
            ))
        }
    }
}

/// A codec problem for a diagnostic: the codec's message names the kind of mismatch, never the
/// value; the path is added when there is one.
pub fn describe_problem(message: &str, path: &AttributePath) -> String {
    if path.is_empty() {
        message.to_owned()
    } else {
        format!("{message} at {path}")
    }
}

pub fn timestamp_from_system_time(time: SystemTime) -> Timestamp {
    let (seconds, nanos) = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => (after.as_secs() as i64, after.subsec_nanos() as i32),
        Err(before) => {
            let before = before.duration();
            let mut seconds = -(before.as_secs() as i64);
            let mut nanos = before.subsec_nanos() as i32;
            if nanos > 0 {
                seconds -= 1;
                nanos = 1_000_000_000 - nanos;
            }
            (seconds, nanos)
        }
    };
    Timestamp { seconds, nanos }
}

pub fn timestamp_to_system_time(timestamp: &Timestamp) -> SystemTime {
    let nanos = Duration::from_nanos(timestamp.nanos.max(0) as u64);
    if timestamp.seconds >= 0 {
        UNIX_EPOCH + Duration::from_secs(timestamp.seconds as u64) + nanos
    } else {
        UNIX_EPOCH - Duration::from_secs(timestamp.seconds.unsigned_abs()) + nanos
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Attribute;

    #[test]
    fn schema_carries_markdown_descriptions_nesting_and_flags() {
        let schema = Schema::new(
            2,
            "A **thing**.",
            vec![
                Attribute::required("name", Type::String, "The name."),
                Attribute::nested(
                    "secrets",
                    Nesting::Map,
                    vec![
                        Attribute::optional("value", Type::String, "Value.").sensitive(),
                        Attribute::optional("value_wo", Type::String, "Write-only.")
                            .sensitive()
                            .write_only(),
                    ],
                    "Secrets.",
                )
                .with_optional(),
            ],
        );
        let proto = schema_to_proto(&schema);
        assert_eq!(proto.version, 2);
        let block = proto.block.unwrap();
        assert_eq!(block.description, "A **thing**.");
        assert_eq!(block.description_kind, pb::StringKind::Markdown as i32);
        let name = &block.attributes[0];
        assert_eq!(name.r#type, b"\"string\"");
        assert!(name.required && !name.optional && name.nested_type.is_none());
        let secrets = &block.attributes[1];
        assert!(secrets.r#type.is_empty() && secrets.optional);
        let nested = secrets.nested_type.as_ref().unwrap();
        assert_eq!(nested.nesting, pb::schema::object::NestingMode::Map as i32);
        assert!(nested.attributes[0].sensitive && !nested.attributes[0].write_only);
        assert!(nested.attributes[1].write_only && nested.attributes[1].sensitive);
    }

    #[test]
    fn diagnostics_round_trip_with_paths() {
        let mut diagnostics = Diagnostics::new();
        diagnostics.error_at(
            AttributePath::root("secrets")
                .key("DB")
                .attr("value")
                .index(3),
            "Bad",
            "Fix it.",
        );
        diagnostics.warning("Careful", "Maybe.");
        let proto = diagnostics_to_proto(&diagnostics);
        assert_eq!(proto[0].severity, pb::diagnostic::Severity::Error as i32);
        assert_eq!(proto[1].severity, pb::diagnostic::Severity::Warning as i32);
        assert!(proto[1].attribute.is_none());
        assert_eq!(diagnostics_from_proto(&proto), diagnostics);
    }

    #[test]
    fn missing_dynamic_values_are_null() {
        assert!(
            decode_dynamic(None, &Type::String, "config")
                .unwrap()
                .is_null()
        );
        let empty = pb::DynamicValue::default();
        assert!(
            decode_dynamic(Some(&empty), &Type::String, "config")
                .unwrap()
                .is_null()
        );
    }

    #[test]
    fn timestamps_convert_both_ways() {
        for time in [
            UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789),
            UNIX_EPOCH - Duration::new(10, 250_000_000),
        ] {
            assert_eq!(
                timestamp_to_system_time(&timestamp_from_system_time(time)),
                time
            );
        }
        assert_eq!(
            timestamp_from_system_time(UNIX_EPOCH - Duration::new(10, 250_000_000)),
            Timestamp {
                seconds: -11,
                nanos: 750_000_000
            }
        );
    }
}
