//! msgpack and JSON codecs for [`Value`], driven by the schema [`Type`].

use super::{Type, Value};
use crate::diag::AttributePath;

/// A value on the wire did not match its type. The message names the problem, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at {path}")]
pub struct DecodeError {
    pub path: AttributePath,
    pub message: String,
}

/// A value could not be written with the given type (a provider bug, reported as a diagnostic).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at {path}")]
pub struct EncodeError {
    pub path: AttributePath,
    pub message: String,
}

pub fn decode_msgpack(_bytes: &[u8], _ty: &Type) -> Result<Value, DecodeError> {
    unimplemented!("value codec")
}

pub fn encode_msgpack(_value: &Value, _ty: &Type) -> Result<Vec<u8>, EncodeError> {
    unimplemented!("value codec")
}

pub fn decode_json(_bytes: &[u8], _ty: &Type) -> Result<Value, DecodeError> {
    unimplemented!("value codec")
}

pub fn encode_json(_value: &Value, _ty: &Type) -> Result<Vec<u8>, EncodeError> {
    unimplemented!("value codec")
}
