//! Logs as go-hclog JSON lines on stderr, which is what Terraform parses from a plugin: each
//! line becomes a provider log entry at its `@level`, with the other keys as key=value pairs.
//!
//! The level comes from `TF_LOG_PROVIDER_TRUEFOUNDRY`, else `TF_LOG_PROVIDER`, else `TF_LOG`
//! (Terraform filters again on its side); with none of them set only errors are written.
//! Callers must never put a secret in a field or message.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write as _;

use crate::printable;

use time::OffsetDateTime;
use time::macros::format_description;
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// How Terraform's log shows where the line came from.
pub const MODULE: &str = "provider.terraform-provider-truefoundry";

/// Libraries below us (h2, hyper, rustls, tonic) log every frame at trace; only their warnings
/// and errors are worth a line in Terraform's log.
const DEPENDENCY_MAX_LEVEL: LevelFilter = LevelFilter::WARN;

/// Variables consulted for the level, most specific first.
const LEVEL_VARIABLES: [&str; 3] = ["TF_LOG_PROVIDER_TRUEFOUNDRY", "TF_LOG_PROVIDER", "TF_LOG"];

/// Installs the stderr logger as the global subscriber, at the level the environment asks for.
pub fn init() {
    let level = level_from_lookup(|name| std::env::var(name).ok());
    let layer = HclogLayer::new(level, |line: &[u8]| {
        // One write per line so concurrent lines never interleave.
        let _ = std::io::stderr().lock().write_all(line);
    });
    use tracing_subscriber::layer::SubscriberExt as _;
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer));
}

/// The first of [`LEVEL_VARIABLES`] that is set decides; unrecognised values mean trace, as in
/// Terraform. `JSON` is Terraform's trace-in-JSON setting.
pub fn level_from_lookup(lookup: impl Fn(&str) -> Option<String>) -> LevelFilter {
    let Some(setting) = LEVEL_VARIABLES
        .iter()
        .filter_map(|name| lookup(name))
        .map(|value| value.trim().to_ascii_uppercase())
        .find(|value| !value.is_empty())
    else {
        return LevelFilter::ERROR;
    };
    match setting.as_str() {
        "OFF" => LevelFilter::OFF,
        "ERROR" => LevelFilter::ERROR,
        "WARN" => LevelFilter::WARN,
        "INFO" => LevelFilter::INFO,
        "DEBUG" => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

/// A tracing layer writing one hclog JSON line per event through `sink`.
pub struct HclogLayer<F> {
    max_level: LevelFilter,
    sink: F,
}

impl<F: Fn(&[u8]) + Send + Sync + 'static> HclogLayer<F> {
    pub fn new(max_level: LevelFilter, sink: F) -> Self {
        HclogLayer { max_level, sink }
    }
}

impl<S: Subscriber, F: Fn(&[u8]) + Send + Sync + 'static> Layer<S> for HclogLayer<F> {
    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        let ours = metadata.target().starts_with(env!("CARGO_CRATE_NAME"))
            || metadata
                .target()
                .starts_with("terraform_provider_truefoundry");
        let limit = if ours {
            self.max_level
        } else {
            self.max_level.min(DEPENDENCY_MAX_LEVEL)
        };
        *metadata.level() <= limit
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.max_level)
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = JsonFields::default();
        event.record(&mut fields);
        let mut line = format_line(
            *event.metadata().level(),
            OffsetDateTime::now_utc(),
            fields.0,
        );
        line.push('\n');
        (self.sink)(line.as_bytes());
    }
}

/// `@level`, `@message`, `@module`, `@timestamp`, then the event's own fields, flat.
fn format_line(
    level: Level,
    now: OffsetDateTime,
    mut fields: BTreeMap<String, serde_json::Value>,
) -> String {
    let message = fields
        .remove("message")
        .unwrap_or(serde_json::Value::String(String::new()));
    // Keys starting with '@' sort before every field name, so a sorted map keeps hclog's order.
    let mut line = serde_json::Map::new();
    line.insert("@level".into(), hclog_level(level).into());
    line.insert("@message".into(), message);
    line.insert("@module".into(), MODULE.into());
    line.insert("@timestamp".into(), format_timestamp(now).into());
    for (key, value) in fields {
        if !key.starts_with('@') {
            line.insert(key, value);
        }
    }
    serde_json::Value::Object(line).to_string()
}

fn hclog_level(level: Level) -> &'static str {
    match level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    }
}

/// go-hclog's JSON layout `2006-01-02T15:04:05.000000Z07:00`: exactly six fractional digits
/// (Terraform falls back to plain text for anything else). We always log in UTC, hence `Z`.
fn format_timestamp(now: OffsetDateTime) -> String {
    let utc = now.to_offset(time::UtcOffset::UTC);
    utc.format(format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    ))
    .unwrap_or_default()
}

#[derive(Default)]
struct JsonFields(BTreeMap<String, serde_json::Value>);

impl Visit for JsonFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().into(), printable::for_log(value).into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `%value` fields (Display) come here too: server text, names from the configuration.
        let text = format!("{value:?}");
        self.0
            .insert(field.name().into(), printable::for_log(&text).into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::SubscriberExt as _;

    fn capture(level: LevelFilter, emit: impl FnOnce()) -> Vec<serde_json::Value> {
        let buffer = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = buffer.clone();
        let layer = HclogLayer::new(level, move |line: &[u8]| {
            sink.lock().unwrap().extend_from_slice(line)
        });
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), emit);
        let text = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    #[test]
    fn lines_are_hclog_json_with_flat_fields() {
        let lines = capture(LevelFilter::DEBUG, || {
            tracing::debug!(
                tf_rpc = "PlanResourceChange",
                attempt = 2,
                "serving request"
            );
        });
        assert_eq!(lines.len(), 1);
        let line = &lines[0];
        assert_eq!(line["@level"], "debug");
        assert_eq!(line["@message"], "serving request");
        assert_eq!(line["@module"], MODULE);
        assert_eq!(line["tf_rpc"], "PlanResourceChange");
        assert_eq!(line["attempt"], 2);
        let timestamp = line["@timestamp"].as_str().unwrap();
        let fraction = timestamp.split('.').nth(1).unwrap();
        assert_eq!(fraction.len(), "123456Z".len(), "{timestamp}");
        assert!(fraction.ends_with('Z'));
    }

    #[test]
    fn keys_come_in_hclog_order() {
        let line = format_line(
            Level::WARN,
            OffsetDateTime::UNIX_EPOCH,
            BTreeMap::from([
                ("message".to_owned(), "m".into()),
                ("Zeta".to_owned(), 1.into()),
                ("alpha".to_owned(), true.into()),
            ]),
        );
        assert_eq!(
            line,
            r#"{"@level":"warn","@message":"m","@module":"provider.terraform-provider-truefoundry","@timestamp":"1970-01-01T00:00:00.000000Z","Zeta":1,"alpha":true}"#
        );
    }

    #[test]
    fn timestamps_have_exactly_six_fractional_digits() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_795_948_378_123_456_789).unwrap();
        assert_eq!(format_timestamp(at), "2026-11-29T10:32:58.123456Z");
        let offset = at.to_offset(time::UtcOffset::from_hms(2, 0, 0).unwrap());
        assert_eq!(format_timestamp(offset), "2026-11-29T10:32:58.123456Z");
    }

    #[test]
    fn events_above_the_level_are_dropped() {
        let lines = capture(LevelFilter::WARN, || {
            tracing::info!("hidden");
            tracing::error!(error = %"boom", "shown");
        });
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["@level"], "error");
        assert_eq!(lines[0]["error"], "boom");
    }

    #[test]
    fn dependency_chatter_is_limited_to_warnings() {
        let lines = capture(LevelFilter::TRACE, || {
            tracing::trace!(target: "h2::codec", "frame");
            tracing::warn!(target: "h2::codec", "odd peer");
            tracing::trace!("ours");
        });
        let messages: Vec<&str> = lines
            .iter()
            .map(|line| line["@message"].as_str().unwrap())
            .collect();
        assert_eq!(messages, ["odd peer", "ours"]);
    }

    #[test]
    fn level_follows_the_most_specific_variable() {
        let level = |pairs: &[(&str, &str)]| {
            let map: HashMap<&str, &str> = pairs.iter().copied().collect();
            level_from_lookup(|name| map.get(name).map(|v| v.to_string()))
        };
        assert_eq!(level(&[]), LevelFilter::ERROR);
        assert_eq!(level(&[("TF_LOG", "debug")]), LevelFilter::DEBUG);
        assert_eq!(level(&[("TF_LOG", "JSON")]), LevelFilter::TRACE);
        assert_eq!(
            level(&[("TF_LOG", "trace"), ("TF_LOG_PROVIDER", "warn")]),
            LevelFilter::WARN
        );
        assert_eq!(
            level(&[
                ("TF_LOG", "trace"),
                ("TF_LOG_PROVIDER", "warn"),
                ("TF_LOG_PROVIDER_TRUEFOUNDRY", "info")
            ]),
            LevelFilter::INFO
        );
        assert_eq!(level(&[("TF_LOG_PROVIDER", "")]), LevelFilter::ERROR);
        assert_eq!(level(&[("TF_LOG", "off")]), LevelFilter::OFF);
        assert_eq!(level(&[("TF_LOG", "loud")]), LevelFilter::TRACE);
    }
}
