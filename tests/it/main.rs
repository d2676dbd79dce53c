// TrueFoundry API client: wire shapes, errors, retries, redaction.
mod client;
mod emulator;
