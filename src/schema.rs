//! The schema model: what the provider declares, and what Terraform checks values against.

use std::collections::BTreeMap;

use crate::value::{Type, Value};

/// A resource, data source, ephemeral resource or provider schema.
#[derive(Clone, Debug, PartialEq)]
pub struct Schema {
    /// Bumped when stored state needs an upgrade; Terraform passes it back in UpgradeResourceState.
    pub version: i64,
    pub block: Block,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Block {
    pub attributes: Vec<Attribute>,
    pub description: Description,
    pub deprecated: bool,
}

/// Descriptions are written in Markdown; `plain` is the same text without markup, for CLIs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Description {
    pub markdown: String,
}

impl Description {
    pub fn new(markdown: impl Into<String>) -> Self {
        Description {
            markdown: markdown.into(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nesting {
    Single,
    List,
    Set,
    Map,
}

#[derive(Clone, Debug, PartialEq)]
pub enum AttributeType {
    Simple(Type),
    /// Protocol 6 nested attributes: objects of `attributes`, nested as `nesting`.
    Nested {
        nesting: Nesting,
        attributes: Vec<Attribute>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub ty: AttributeType,
    pub description: Description,
    pub required: bool,
    pub optional: bool,
    pub computed: bool,
    pub sensitive: bool,
    pub write_only: bool,
    pub deprecated: bool,
}

impl Attribute {
    fn new(name: &str, ty: AttributeType, description: &str) -> Self {
        Attribute {
            name: name.to_owned(),
            ty,
            description: Description::new(description),
            required: false,
            optional: false,
            computed: false,
            sensitive: false,
            write_only: false,
            deprecated: false,
        }
    }

    pub fn required(name: &str, ty: Type, description: &str) -> Self {
        Attribute {
            required: true,
            ..Self::new(name, AttributeType::Simple(ty), description)
        }
    }

    pub fn optional(name: &str, ty: Type, description: &str) -> Self {
        Attribute {
            optional: true,
            ..Self::new(name, AttributeType::Simple(ty), description)
        }
    }

    pub fn computed(name: &str, ty: Type, description: &str) -> Self {
        Attribute {
            computed: true,
            ..Self::new(name, AttributeType::Simple(ty), description)
        }
    }

    pub fn optional_computed(name: &str, ty: Type, description: &str) -> Self {
        Attribute {
            optional: true,
            computed: true,
            ..Self::new(name, AttributeType::Simple(ty), description)
        }
    }

    pub fn nested(
        name: &str,
        nesting: Nesting,
        attributes: Vec<Attribute>,
        description: &str,
    ) -> Self {
        Self::new(
            name,
            AttributeType::Nested {
                nesting,
                attributes,
            },
            description,
        )
    }

    pub fn with_optional(mut self) -> Self {
        self.optional = true;
        self
    }

    pub fn with_required(mut self) -> Self {
        self.required = true;
        self
    }

    pub fn with_computed(mut self) -> Self {
        self.computed = true;
        self
    }

    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }

    pub fn write_only(mut self) -> Self {
        self.write_only = true;
        self
    }

    /// The cty type this attribute's values have on the wire.
    pub fn value_type(&self) -> Type {
        match &self.ty {
            AttributeType::Simple(ty) => ty.clone(),
            AttributeType::Nested {
                nesting,
                attributes,
            } => {
                let object = object_type(attributes);
                match nesting {
                    Nesting::Single => object,
                    Nesting::List => Type::List(Box::new(object)),
                    Nesting::Set => Type::Set(Box::new(object)),
                    Nesting::Map => Type::Map(Box::new(object)),
                }
            }
        }
    }
}

fn object_type(attributes: &[Attribute]) -> Type {
    Type::Object(
        attributes
            .iter()
            .map(|a| (a.name.clone(), a.value_type()))
            .collect::<BTreeMap<_, _>>(),
    )
}

impl Schema {
    /// An object of this schema with every attribute null: where a state is built from nothing.
    pub fn null_object(&self) -> Value {
        Value::Object(
            self.block
                .attributes
                .iter()
                .map(|attribute| (attribute.name.clone(), Value::Null))
                .collect(),
        )
    }

    pub fn new(version: i64, description: &str, attributes: Vec<Attribute>) -> Self {
        Schema {
            version,
            block: Block {
                attributes,
                description: Description::new(description),
                deprecated: false,
            },
        }
    }

    /// The object type of a whole value of this schema.
    pub fn value_type(&self) -> Type {
        object_type(&self.block.attributes)
    }

    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.block.attributes.iter().find(|a| a.name == name)
    }
}
