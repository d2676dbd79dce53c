//! HCL for the tests, both ways: a writer of `truefoundry_secret_group` blocks ([`GroupHcl`]) for
//! the end-to-end tests, and a reader for the small subset of HCL the bad-configuration corpus is
//! written in, so a test can send the provider, in-process, the same values Terraform would send
//! for a corpus file.
//!
//! Supported: `#` and `//` comments, blocks with string labels, attributes, strings (escapes
//! `\"`, `\\`, `\n`, `\t`, `\uNNNN`, `$${`, `%%{`), numbers, `true`/`false`/`null`, tuples `[...]`,
//! objects `{ k = v }` (or `k: v`), references such as `truefoundry_secret_group.other.id` and
//! interpolated strings (both unknown at plan time, as Terraform sends them for a resource not yet
//! created), and one function, `format("%0<width>s", "text")`, to build oversize values without
//! huge files.
//! Anything else panics: the corpus is ours, so an unsupported construct is a test bug.

#![allow(dead_code)]

use std::collections::BTreeMap;

use truefoundry_provider::value::{Number, Type, Value};

/// `text` as an HCL quoted string, with whatever HCL would read as an escape or a template
/// escaped, so the string means exactly `text`.
pub fn quote(text: &str) -> String {
    let mut quoted = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            other => quoted.push(other),
        }
    }
    quoted = quoted.replace("${", "$${").replace("%{", "%%{");
    quoted.push('"');
    quoted
}

/// A `truefoundry_secret_group` resource block as a test writes it, attribute by attribute in the
/// order given. Map keys are always quoted, so any key (valid or not) can be written.
#[derive(Clone, Debug)]
pub struct GroupHcl {
    label: String,
    lines: Vec<String>,
}

impl GroupHcl {
    /// `resource "truefoundry_secret_group" "<label>"` with `name = "<name>"`.
    pub fn new(label: &str, name: &str) -> Self {
        GroupHcl {
            label: label.to_owned(),
            lines: Vec::new(),
        }
        .string("name", name)
    }

    /// `attribute = <expr>`, the expression written as it is (a reference, a number, `null`).
    pub fn expr(mut self, attribute: &str, expr: &str) -> Self {
        self.lines.push(format!("  {attribute} = {expr}\n"));
        self
    }

    /// `attribute = "<value>"`.
    pub fn string(self, attribute: &str, value: &str) -> Self {
        self.expr(attribute, &quote(value))
    }

    /// `collaborators` from (subject, role) pairs; an empty list is written as `[]`.
    pub fn collaborators<S: AsRef<str>, R: AsRef<str>>(
        self,
        pairs: impl IntoIterator<Item = (S, R)>,
    ) -> Self {
        let mut list = String::from("[\n");
        for (subject, role) in pairs {
            list += &format!(
                "    {{ subject = {}, role_id = {} }},\n",
                quote(subject.as_ref()),
                quote(role.as_ref())
            );
        }
        self.expr("collaborators", &(list + "  ]"))
    }

    /// A map attribute (`secrets`, `secrets_wo`, `secrets_wo_versions`, `initial_secrets`) whose
    /// values are the given strings.
    pub fn map<K: AsRef<str>, V: AsRef<str>>(
        self,
        attribute: &str,
        entries: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let exprs: Vec<(String, String)> = entries
            .into_iter()
            .map(|(key, value)| (key.as_ref().to_owned(), quote(value.as_ref())))
            .collect();
        self.map_exprs(attribute, exprs)
    }

    /// A map attribute whose values are HCL expressions, written as they are.
    pub fn map_exprs<K: AsRef<str>, V: AsRef<str>>(
        self,
        attribute: &str,
        entries: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let mut map = String::from("{\n");
        for (key, expr) in entries {
            map += &format!("    {} = {}\n", quote(key.as_ref()), expr.as_ref());
        }
        self.expr(attribute, &(map + "  }"))
    }
}

impl std::fmt::Display for GroupHcl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "resource \"truefoundry_secret_group\" {} {{",
            quote(&self.label)
        )?;
        for line in &self.lines {
            f.write_str(line)?;
        }
        writeln!(f, "}}")
    }
}

#[derive(Clone, Debug)]
pub enum Expr {
    Str(String),
    Num(String),
    Bool(bool),
    Null,
    Tuple(Vec<Expr>),
    Object(Vec<(String, Expr)>),
    /// A reference or an interpolated string: unknown until apply.
    Unknown,
    Call(String, Vec<Expr>),
}

#[derive(Clone, Debug)]
pub struct Block {
    pub kind: String,
    pub labels: Vec<String>,
    pub attributes: Vec<(String, Expr)>,
    pub blocks: Vec<Block>,
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    /// A string with `${`: its value depends on something else.
    Template,
    Num(String),
    Punct(char),
}

fn lex(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '#' || (c == '/' && chars.get(i + 1) == Some(&'/')) {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '"' {
            i += 1;
            let mut s = String::new();
            let mut template = false;
            while chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                    let unicode = chars[i] == 'u'
                        && chars
                            .get(i + 1..i + 5)
                            .is_some_and(|digits| digits.iter().all(char::is_ascii_hexdigit));
                    s.push(match chars[i] {
                        // `\uNNNN`, as HCL reads it.
                        'u' if unicode => {
                            let digits: String = chars[i + 1..i + 5].iter().collect();
                            i += 4;
                            u32::from_str_radix(&digits, 16)
                                .ok()
                                .and_then(char::from_u32)
                                .unwrap_or(char::REPLACEMENT_CHARACTER)
                        }
                        'n' => '\n',
                        't' => '\t',
                        other => other,
                    });
                } else if matches!(chars[i], '$' | '%')
                    && chars.get(i + 1) == Some(&chars[i])
                    && chars.get(i + 2) == Some(&'{')
                {
                    // `$${` and `%%{` are the escapes for a literal `${` and `%{`.
                    s.push(chars[i]);
                    s.push('{');
                    i += 2;
                } else {
                    if chars[i] == '$' && chars.get(i + 1) == Some(&'{') {
                        template = true;
                    }
                    s.push(chars[i]);
                }
                i += 1;
            }
            i += 1;
            tokens.push(if template {
                Token::Template
            } else {
                Token::Str(s)
            });
        } else if c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            tokens.push(Token::Num(chars[start..i].iter().collect()));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '-' | '.'))
            {
                i += 1;
            }
            tokens.push(Token::Ident(chars[start..i].iter().collect()));
        } else if "={}[](),:".contains(c) {
            tokens.push(Token::Punct(c));
            i += 1;
        } else {
            panic!("unsupported character {c:?} in corpus HCL");
        }
    }
    tokens
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Token {
        let token = self.tokens.get(self.at).cloned().expect("unexpected end");
        self.at += 1;
        token
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Token::Punct(c)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) {
        let token = self.next();
        assert_eq!(token, Token::Punct(c), "expected {c:?}");
    }

    /// Attributes and blocks until `}` (eaten) or the end of input.
    fn body(&mut self) -> (Vec<(String, Expr)>, Vec<Block>) {
        let mut attributes = Vec::new();
        let mut blocks = Vec::new();
        while let Some(token) = self.peek().cloned() {
            if token == Token::Punct('}') {
                self.at += 1;
                break;
            }
            let Token::Ident(name) = self.next() else {
                panic!("expected a name, found {token:?}");
            };
            if self.eat('=') {
                attributes.push((name, self.expr()));
                continue;
            }
            let mut labels = Vec::new();
            while let Some(Token::Str(label)) = self.peek().cloned() {
                self.at += 1;
                labels.push(label);
            }
            self.expect('{');
            let (attributes, inner) = self.body();
            blocks.push(Block {
                kind: name,
                labels,
                attributes,
                blocks: inner,
            });
        }
        (attributes, blocks)
    }

    fn expr(&mut self) -> Expr {
        match self.next() {
            Token::Str(s) => Expr::Str(s),
            Token::Template => Expr::Unknown,
            Token::Num(n) => Expr::Num(n),
            Token::Punct('[') => {
                let mut items = Vec::new();
                while !self.eat(']') {
                    items.push(self.expr());
                    self.eat(',');
                }
                Expr::Tuple(items)
            }
            Token::Punct('{') => {
                let mut entries = Vec::new();
                while !self.eat('}') {
                    let key = match self.next() {
                        Token::Ident(k) | Token::Str(k) => k,
                        other => panic!("expected an object key, found {other:?}"),
                    };
                    if !self.eat(':') {
                        self.expect('=');
                    }
                    entries.push((key, self.expr()));
                    self.eat(',');
                }
                Expr::Object(entries)
            }
            Token::Ident(word) => match word.as_str() {
                "true" => Expr::Bool(true),
                "false" => Expr::Bool(false),
                "null" => Expr::Null,
                _ if self.eat('(') => {
                    let mut args = Vec::new();
                    while !self.eat(')') {
                        args.push(self.expr());
                        self.eat(',');
                    }
                    Expr::Call(word, args)
                }
                _ => Expr::Unknown,
            },
            other => panic!("unexpected {other:?} in an expression"),
        }
    }
}

/// The top-level blocks of an HCL file.
pub fn parse(text: &str) -> Vec<Block> {
    let mut parser = Parser {
        tokens: lex(text),
        at: 0,
    };
    let (attributes, blocks) = parser.body();
    assert!(attributes.is_empty(), "attributes outside any block");
    blocks
}

/// The value of an expression, before conversion to an attribute's type.
pub fn eval(expr: &Expr) -> Value {
    match expr {
        Expr::Str(s) => Value::String(s.clone()),
        Expr::Num(n) => Value::Number(Number::parse(n).expect("a number")),
        Expr::Bool(b) => Value::Bool(*b),
        Expr::Null => Value::Null,
        Expr::Unknown => Value::Unknown,
        Expr::Tuple(items) => Value::List(items.iter().map(eval).collect()),
        Expr::Object(entries) => {
            Value::Object(entries.iter().map(|(k, v)| (k.clone(), eval(v))).collect())
        }
        Expr::Call(name, args) => call(name, args),
    }
}

fn call(name: &str, args: &[Expr]) -> Value {
    match (name, args) {
        ("format", [Expr::Str(spec), Expr::Str(text)]) => {
            let width: usize = spec
                .strip_prefix("%0")
                .and_then(|s| s.strip_suffix('s'))
                .and_then(|w| w.parse().ok())
                .unwrap_or_else(|| panic!("only format(\"%0<width>s\", …) is supported"));
            // Go's fmt pads a string with zeros on the left under the `0` flag.
            let pad = width.saturating_sub(text.chars().count());
            Value::String(format!("{}{text}", "0".repeat(pad)))
        }
        _ => panic!("unsupported function call {name}(…)"),
    }
}

/// The object a block's attributes make, conformed to `ty` (absent attributes are null).
pub fn block_value(block: &Block, ty: &Type) -> Value {
    assert!(
        block.blocks.is_empty(),
        "nested blocks are not in the schema"
    );
    let object = Value::Object(
        block
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), eval(v)))
            .collect(),
    );
    conform(&object, ty)
}

/// Converts a parsed value to `ty` as Terraform would for a well-typed configuration.
pub fn conform(value: &Value, ty: &Type) -> Value {
    match (value, ty) {
        (Value::Null, _) | (Value::Unknown, _) => value.clone(),
        (Value::Object(entries), Type::Object(attributes)) => {
            for name in entries.keys() {
                assert!(
                    attributes.contains_key(name),
                    "attribute {name:?} is not in the schema"
                );
            }
            Value::Object(
                attributes
                    .iter()
                    .map(|(name, ty)| {
                        let v = entries.get(name).cloned().unwrap_or(Value::Null);
                        (name.clone(), conform(&v, ty))
                    })
                    .collect(),
            )
        }
        (Value::Object(entries), Type::Map(element)) => Value::Map(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), conform(v, element)))
                .collect::<BTreeMap<_, _>>(),
        ),
        (Value::Map(entries), Type::Map(element)) => Value::Map(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), conform(v, element)))
                .collect(),
        ),
        (Value::Set(items), Type::Set(element)) => {
            Value::Set(items.iter().map(|v| conform(v, element)).collect())
        }
        (Value::List(items), Type::List(element)) => {
            Value::List(items.iter().map(|v| conform(v, element)).collect())
        }
        (Value::List(items), Type::Set(element)) => {
            Value::Set(items.iter().map(|v| conform(v, element)).collect())
        }
        // Terraform's safe conversions, as for `name = 42` in JSON configuration.
        (Value::Number(n), Type::String) => Value::String(n.canonical()),
        (Value::Bool(b), Type::String) => Value::String(b.to_string()),
        (Value::String(_), Type::String)
        | (Value::Number(_), Type::Number)
        | (Value::Bool(_), Type::Bool) => value.clone(),
        (value, ty) => panic!("a {} where a {} belongs", value.kind(), ty.kind()),
    }
}

#[test]
fn the_subset_reads_blocks_values_and_references() {
    let blocks = parse(
        r#"# comment
        provider "truefoundry" { host = "https://a.b" }
        resource "t" "n" {
          name = "x" // trailing
          n    = -1.5
          set  = [{ subject = "team:a", role_id = "r" }, { subject = other.id, role_id = "${x}" }]
          map  = { "A B" = "x", C = format("%05s", "ab") }
        }"#,
    );
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[1].labels, ["t", "n"]);
    let value = eval(&Expr::Object(blocks[1].attributes.clone()));
    assert_eq!(value.get("name").as_str(), Some("x"));
    assert!(
        value.get("set").as_elements().unwrap()[1]
            .get("subject")
            .is_unknown()
    );
    let map = value.get("map").as_entries().unwrap();
    assert_eq!(map["C"].as_str(), Some("000ab"));
    assert_eq!(map["A B"].as_str(), Some("x"));
}

#[test]
fn written_groups_read_back_as_written() {
    let awkward = "q\"uote \\ ${not.a.ref} %{if} \n";
    let text = GroupHcl::new("g", "written-acme")
        .collaborators([("team:payments", "secret-group-editor")])
        .map("secrets", [("A", awkward), ("BAD KEY", "b")])
        .map_exprs("secrets_wo", [("W", "var.w")])
        .map("initial_secrets", [("I", "set-me")])
        .to_string();
    let blocks = parse(&text);
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].labels, ["truefoundry_secret_group", "g"]);
    let value = eval(&Expr::Object(blocks[0].attributes.clone()));
    assert_eq!(value.get("name").as_str(), Some("written-acme"));
    let secrets = value.get("secrets").as_entries().unwrap();
    assert_eq!(secrets["A"].as_str(), Some(awkward));
    assert_eq!(secrets["BAD KEY"].as_str(), Some("b"));
    assert!(value.get("secrets_wo").get("W").is_unknown());
    assert_eq!(
        value.get("initial_secrets").get("I").as_str(),
        Some("set-me")
    );
    let subject = &value.get("collaborators").as_elements().unwrap()[0];
    assert_eq!(subject.get("role_id").as_str(), Some("secret-group-editor"));
}
