//! `truefoundry-emulator`: serves a local emulator of the TrueFoundry secret-group API.
//! Arguments are parsed by hand to keep the build small.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use truefoundry_provider::emulator::{self, EmulatorConfig, EmulatorOptions, Variant};

const DEFAULT_LISTEN: &str = "127.0.0.1:8787";

const HELP: &str = "\
truefoundry-emulator: a local emulator of the TrueFoundry secret-group API (under /api/svc/v1)

Usage: truefoundry-emulator [OPTIONS]

Options:
  --listen ADDR            address to listen on (default 127.0.0.1:8787; port 0 picks a free port)
  --data-dir DIR           keep state in DIR across restarts (default: in memory)
  --config FILE            JSON file with tenants, integrations, API keys and, optionally,
                           active_deployments by secret FQN, identity_providers (JWKS files
                           relative to FILE) and virtual_accounts (default: tenant `demo`, one
                           tenant-admin key from TFY_API_KEY, or a generated one)
  --request-log FILE       append one JSON line per request to FILE (default: stderr)
  --tls-cert FILE          serve HTTPS with this PEM certificate chain (needs --tls-key)
  --tls-key FILE           the PEM private key of --tls-cert
  --header-timeout-secs N  close a connection that has not sent a request's headers within N
                           seconds of connecting or of its previous answer (default 10)
  --max-connections N      serve at most N connections at once; more wait to be accepted
                           (default 256)
  --fault-latency-ms N     add N milliseconds to every API request
  --fault-429-rate R       answer a share R (0..1) of API requests with 429 and Retry-After
  --fault-retry-after S    the Retry-After seconds of injected 429s (default 1)
  --fault-503-rate R       answer a share R of API requests with 503
  --fault-drop-rate R      close the connection of a share R of API requests without answering
  --fault-seed N           seed of the fault generator (same seed, same faults)
  --variant NAME           play a plausible alternative behaviour of the real API (repeatable):
                           no-list-versions, sparse-versions, creator-collaborator,
                           server-owned-by, no-group-name, extra-fields, lenient-manifest
  -h, --help               print this help

When ready it prints one line on stdout: `listening on http://HOST:PORT` (`https://` with TLS).
";

struct Args {
    listen: SocketAddr,
    data_dir: Option<PathBuf>,
    config: Option<PathBuf>,
    request_log: Option<PathBuf>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    header_timeout_secs: Option<u64>,
    max_connections: Option<usize>,
    latency_ms: Option<u64>,
    rate_429: Option<f64>,
    retry_after_secs: Option<u64>,
    rate_503: Option<f64>,
    rate_drop: Option<f64>,
    seed: Option<u64>,
    variants: Vec<Variant>,
}

/// `None` when help was asked for.
fn parse_args(mut raw: impl Iterator<Item = String>) -> anyhow::Result<Option<Args>> {
    let mut args = Args {
        listen: DEFAULT_LISTEN.parse().expect("the default address parses"),
        data_dir: None,
        config: None,
        request_log: None,
        tls_cert: None,
        tls_key: None,
        header_timeout_secs: None,
        max_connections: None,
        latency_ms: None,
        rate_429: None,
        retry_after_secs: None,
        rate_503: None,
        rate_drop: None,
        seed: None,
        variants: Vec::new(),
    };
    while let Some(flag) = raw.next() {
        if flag == "-h" || flag == "--help" {
            return Ok(None);
        }
        // Both `--flag value` and `--flag=value`.
        let (name, inline) = match flag.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (flag.clone(), None),
        };
        let mut value = || -> anyhow::Result<String> {
            match inline.clone().or_else(|| raw.next()) {
                Some(value) => Ok(value),
                None => bail!("{name} needs a value (see --help)"),
            }
        };
        match name.as_str() {
            "--listen" => {
                let text = value()?;
                args.listen = text
                    .parse()
                    .with_context(|| format!("--listen {text:?} is not an IP:PORT address"))?;
            }
            "--data-dir" => args.data_dir = Some(value()?.into()),
            "--config" => args.config = Some(value()?.into()),
            "--request-log" => args.request_log = Some(value()?.into()),
            "--tls-cert" => args.tls_cert = Some(value()?.into()),
            "--tls-key" => args.tls_key = Some(value()?.into()),
            "--header-timeout-secs" => args.header_timeout_secs = Some(number(&name, &value()?)?),
            "--max-connections" => args.max_connections = Some(number(&name, &value()?)?),
            "--fault-latency-ms" => args.latency_ms = Some(number(&name, &value()?)?),
            "--fault-429-rate" => args.rate_429 = Some(number(&name, &value()?)?),
            "--fault-retry-after" => args.retry_after_secs = Some(number(&name, &value()?)?),
            "--fault-503-rate" => args.rate_503 = Some(number(&name, &value()?)?),
            "--fault-drop-rate" => args.rate_drop = Some(number(&name, &value()?)?),
            "--fault-seed" => args.seed = Some(number(&name, &value()?)?),
            "--variant" => args.variants.push(Variant::parse(&value()?)?),
            _ => bail!("unknown argument {flag:?} (see --help)"),
        }
    }
    if args.tls_cert.is_some() != args.tls_key.is_some() {
        bail!("--tls-cert and --tls-key go together (see --help)");
    }
    Ok(Some(args))
}

fn number<T: std::str::FromStr>(flag: &str, text: &str) -> anyhow::Result<T> {
    text.parse()
        .map_err(|_| anyhow::anyhow!("{flag} {text:?} is not a valid number"))
}

fn options(args: Args) -> anyhow::Result<EmulatorOptions> {
    let config = match &args.config {
        Some(path) => EmulatorConfig::from_file(path)?,
        None => {
            let key = match std::env::var("TFY_API_KEY") {
                Ok(key) if !key.trim().is_empty() => key,
                _ => {
                    let key = format!("tfy-emulator-{}", random_token());
                    // The one place a key is printed: the user asked for none and needs this one.
                    eprintln!("no TFY_API_KEY set; generated API key: {key}");
                    key
                }
            };
            EmulatorConfig::demo(&key)
        }
    };
    let mut config = config;
    config.variants.extend(args.variants.iter().copied());
    let mut options = EmulatorOptions::new(config);
    options.data_dir = args.data_dir;
    options.request_log = args.request_log;
    options.tls_cert = args.tls_cert;
    options.tls_key = args.tls_key;
    if let Some(secs) = args.header_timeout_secs {
        options.limits.header_timeout = Duration::from_secs(secs);
    }
    if let Some(count) = args.max_connections {
        options.limits.max_connections = count;
    }
    let faults = &mut options.faults;
    if let Some(ms) = args.latency_ms {
        faults.latency = Duration::from_millis(ms);
    }
    if let Some(rate) = args.rate_429 {
        faults.rate_429 = rate;
    }
    if let Some(secs) = args.retry_after_secs {
        faults.retry_after_secs = secs;
    }
    if let Some(rate) = args.rate_503 {
        faults.rate_503 = rate;
    }
    if let Some(rate) = args.rate_drop {
        faults.rate_drop = rate;
    }
    if let Some(seed) = args.seed {
        faults.seed = seed;
    }
    Ok(options)
}

fn random_token() -> String {
    std::iter::repeat_with(fastrand::alphanumeric)
        .take(32)
        .collect()
}

async fn run(args: Args) -> anyhow::Result<()> {
    let listen = args.listen;
    let running = emulator::spawn_on(listen, options(args)?).await?;
    println!("listening on {}", running.base_url());
    wait_for_stop_signal().await;
    running.shutdown().await;
    Ok(())
}

async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("truefoundry-emulator: {error:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("truefoundry-emulator: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("truefoundry-emulator: {error:#}");
            ExitCode::FAILURE
        }
    }
}
