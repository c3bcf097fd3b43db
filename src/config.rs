//! Configuration: figment layers, then `validate()`.
//!
//! Layers, later wins:
//! 1. `conf/livegate.toml` as compiled into the binary (every key has a default there);
//! 2. the file `conf/livegate.toml` in the working directory, or `--config PATH` (which must exist);
//! 3. the `LIVEGATE_*` environment variables listed in [`ENV_VARS`] (and nowhere else);
//! 4. command-line flags (`--host`, `--port`).
//!
//! Unknown keys are errors. Every error names the key it is about, so an operator can fix it
//! without reading code: `invalid configuration: store.pool_size: must be between 1 and 256 (got 0)`.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::Deserialize;

/// The defaults, compiled in so that a bare binary starts with no file at all.
pub const DEFAULTS_TOML: &str = include_str!("../conf/livegate.toml");

/// Where the optional configuration file is looked for, relative to the working directory.
pub const DEFAULT_CONFIG_PATH: &str = "conf/livegate.toml";

/// One environment variable the server reads: its name, the configuration key it sets, and why.
#[derive(Debug, Clone, Copy)]
pub struct EnvVar {
    /// The variable's name, e.g. `LIVEGATE_SERVER__PORT`.
    pub name: &'static str,
    /// The configuration key it sets (`server.port`), or `None` when it is read outside the
    /// configuration (test suites).
    pub key: Option<&'static str>,
    /// Keep the value as text (paths, hosts, urls, filters) instead of guessing its type, so
    /// `LIVEGATE_DATA_DIR=2026` is a folder name, not a number.
    pub text: bool,
    /// What it is for, as written in docs/configuration.md.
    pub doc: &'static str,
}

/// Every `LIVEGATE_*` variable Livegate reads. Add a row here (and to docs/configuration.md)
/// when adding a configuration key; a `LIVEGATE_A__B` name missing from this table is an error.
pub const ENV_VARS: &[EnvVar] = &[
    EnvVar {
        name: "LIVEGATE_DATA_DIR",
        key: Some("data_dir"),
        text: true,
        doc: "folder for the embedded store (livegate.db) and the evidence folder",
    },
    EnvVar {
        name: "LIVEGATE_SERVER__HOST",
        key: Some("server.host"),
        text: true,
        doc: "address to listen on",
    },
    EnvVar {
        name: "LIVEGATE_SERVER__PORT",
        key: Some("server.port"),
        text: false,
        doc: "port to listen on (1-65535)",
    },
    EnvVar {
        name: "LIVEGATE_SERVER__SHUTDOWN_TIMEOUT_SECS",
        key: Some("server.shutdown_timeout_secs"),
        text: false,
        doc: "seconds in-flight requests get to finish after SIGINT/SIGTERM",
    },
    EnvVar {
        name: "LIVEGATE_SERVER__MAX_BODY_BYTES",
        key: Some("server.max_body_bytes"),
        text: false,
        doc: "largest accepted request body in bytes",
    },
    EnvVar {
        name: "LIVEGATE_SERVER__PUBLIC_URL",
        key: Some("server.public_url"),
        text: true,
        doc: "address people reach this service at, used in H5 links (default http://HOST:PORT)",
    },
    EnvVar {
        name: "LIVEGATE_SERVER__H5_DIR",
        key: Some("server.h5_dir"),
        text: true,
        doc: "folder of the built H5 page served at /h5/",
    },
    EnvVar {
        name: "LIVEGATE_SERVER__CONSOLE_DIR",
        key: Some("server.console_dir"),
        text: true,
        doc: "folder of the built operations console served at /admin/",
    },
    EnvVar {
        name: "LIVEGATE_SESSIONS__MAX_FRAME_BYTES",
        key: Some("sessions.max_frame_bytes"),
        text: false,
        doc: "largest sealed frame a page may send, in bytes (1024-8388608)",
    },
    EnvVar {
        name: "LIVEGATE_SESSIONS__MAX_FPS",
        key: Some("sessions.max_fps"),
        text: false,
        doc: "most frames a page may send in one second (1-60)",
    },
    EnvVar {
        name: "LIVEGATE_SESSIONS__MAX_FRAMES",
        key: Some("sessions.max_frames"),
        text: false,
        doc: "most frames in one session (1-100000)",
    },
    EnvVar {
        name: "LIVEGATE_SESSIONS__MAX_TOTAL_BYTES",
        key: Some("sessions.max_total_bytes"),
        text: false,
        doc: "most bytes of frames in one session",
    },
    EnvVar {
        name: "LIVEGATE_SESSIONS__MAX_DURATION_SECS",
        key: Some("sessions.max_duration_secs"),
        text: false,
        doc: "longest a session's frames may keep coming, in seconds (10-3600)",
    },
    EnvVar {
        name: "LIVEGATE_SESSIONS__SWEEP_SECS",
        key: Some("sessions.sweep_secs"),
        text: false,
        doc: "seconds between sweeps that expire sessions whose links ran out (1-3600)",
    },
    EnvVar {
        name: "LIVEGATE_TENANTS__MAX_LIVE_SESSIONS",
        key: Some("tenants.max_live_sessions"),
        text: false,
        doc: "sessions one tenant may have open at once on a node",
    },
    EnvVar {
        name: "LIVEGATE_TENANTS__MAX_NEW_PER_MINUTE",
        key: Some("tenants.max_new_per_minute"),
        text: false,
        doc: "sessions one tenant may create per minute on a node",
    },
    EnvVar {
        name: "LIVEGATE_STORE__BACKEND",
        key: Some("store.backend"),
        text: false,
        doc: "\"embedded\" (SQLite in the data folder) or \"postgres\"",
    },
    EnvVar {
        name: "LIVEGATE_STORE__URL",
        key: Some("store.url"),
        text: true,
        doc: "PostgreSQL url (postgres://user:password@host:5432/db)",
    },
    EnvVar {
        name: "LIVEGATE_DATABASE_URL",
        key: Some("store.url"),
        text: true,
        doc: "short name for LIVEGATE_STORE__URL",
    },
    EnvVar {
        name: "LIVEGATE_STORE__POOL_SIZE",
        key: Some("store.pool_size"),
        text: false,
        doc: "PostgreSQL connections in the pool (1-256)",
    },
    EnvVar {
        name: "LIVEGATE_STORE__CONNECT_TIMEOUT_SECS",
        key: Some("store.connect_timeout_secs"),
        text: false,
        doc: "seconds to wait for a database connection (1-300)",
    },
    EnvVar {
        name: "LIVEGATE_MODELS__DIR",
        key: Some("models.dir"),
        text: true,
        doc: "folder with the model files",
    },
    EnvVar {
        name: "LIVEGATE_MODELS_DIR",
        key: Some("models.dir"),
        text: true,
        doc: "short name for LIVEGATE_MODELS__DIR (also read by the engine's tests)",
    },
    EnvVar {
        name: "LIVEGATE_LOG__LEVEL",
        key: Some("log.level"),
        text: true,
        doc: "tracing filter: info, debug, livegate=debug,actix_web=info ...",
    },
    EnvVar {
        name: "LIVEGATE_LOG__FORMAT",
        key: Some("log.format"),
        text: false,
        doc: "\"text\" or \"json\"",
    },
    EnvVar {
        name: "LIVEGATE_CALLBACKS__POLL_INTERVAL_MS",
        key: Some("callbacks.poll_interval_ms"),
        text: false,
        doc: "milliseconds between polls of the callback outbox (10-60000)",
    },
    EnvVar {
        name: "LIVEGATE_CALLBACKS__FIRST_DELAY_SECS",
        key: Some("callbacks.first_delay_secs"),
        text: false,
        doc: "seconds before the second try of a callback (1-3600)",
    },
    EnvVar {
        name: "LIVEGATE_CALLBACKS__BACKOFF_FACTOR",
        key: Some("callbacks.backoff_factor"),
        text: false,
        doc: "each retry waits this many times longer than the one before (1-10)",
    },
    EnvVar {
        name: "LIVEGATE_CALLBACKS__MAX_DELAY_SECS",
        key: Some("callbacks.max_delay_secs"),
        text: false,
        doc: "longest wait between two tries of a callback (1-86400)",
    },
    EnvVar {
        name: "LIVEGATE_CALLBACKS__MAX_ATTEMPTS",
        key: Some("callbacks.max_attempts"),
        text: false,
        doc: "tries before a callback is given up as failed (1-100)",
    },
    EnvVar {
        name: "LIVEGATE_CALLBACKS__TIMEOUT_SECS",
        key: Some("callbacks.timeout_secs"),
        text: false,
        doc: "seconds a callback request may take (1-300)",
    },
    EnvVar {
        name: "LIVEGATE_CALLBACKS__BATCH_SIZE",
        key: Some("callbacks.batch_size"),
        text: false,
        doc: "callbacks a node sends at once (1-1000)",
    },
    EnvVar {
        name: "LIVEGATE_EVIDENCE__DIR",
        key: Some("evidence.dir"),
        text: true,
        doc: "folder of the local evidence store (default: the data folder's evidence/)",
    },
    EnvVar {
        name: "LIVEGATE_SECRETS__MASTER_KEY",
        key: Some("secrets.master_key"),
        text: true,
        doc: "base64 of the 32-byte master key that seals app secrets and signing keys (default: <data_dir>/master.key)",
    },
    EnvVar {
        name: "LIVEGATE_SIGNING__ROTATE_DAYS",
        key: Some("signing.rotate_days"),
        text: false,
        doc: "days a result-signing key is current before a new one replaces it (1-3650)",
    },
    EnvVar {
        name: "LIVEGATE_SIGNING__OVERLAP_DAYS",
        key: Some("signing.overlap_days"),
        text: false,
        doc: "days a replaced signing key stays in the JWKS (1-365)",
    },
    EnvVar {
        name: "LIVEGATE_ENGINE__REPLAY_CHECK_MINUTES",
        key: Some("engine.replay_check_minutes"),
        text: false,
        doc: "minutes a node remembers the face hashes of its sessions' frames, to fail a session replaying another's (`replayed_frames`, docs/attacks.md); 0 (default) is off (0-60)",
    },
    EnvVar {
        name: "LIVEGATE_ENGINE__TRUSTED_CAMERA_LABELS",
        key: Some("engine.trusted_camera_labels"),
        text: false,
        doc: "camera labels (exact, any case) known to be real, exempt from the virtual-camera cue, as a list: `[\"fake_device_0\"]` (docs/attacks.md)",
    },
    EnvVar {
        name: "LIVEGATE_ENGINE__REPORT_ONLY_CUES",
        key: Some("engine.report_only_cues"),
        text: false,
        doc: "silent cues reported in results but never deciding, as a list of `glare`, `border`: `[\"border\"]` for a site where one refuses real people (docs/attacks.md)",
    },
    EnvVar {
        name: "LIVEGATE_INFERENCE_PRECISION",
        key: None,
        text: true,
        doc: "`f32` (default) or `bf16`: the arithmetic of the face models (server workers, `livegate analyze`; docs/engine.md)",
    },
    EnvVar {
        name: "LIVEGATE_TEST_MEDIA",
        key: None,
        text: true,
        doc: "tests (skipped when unset) and `livegate loadtest --clips`: folder with the real face media",
    },
    EnvVar {
        name: "LIVEGATE_TEST_PG_URL",
        key: None,
        text: true,
        doc: "tests only: PostgreSQL url the storage conformance suite runs against",
    },
    EnvVar {
        name: "LIVEGATE_LOADTEST_SECRET",
        key: None,
        text: true,
        doc: "`livegate loadtest --secret`: the API app's secret, kept off the command line",
    },
];

/// The whole configuration of a node.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Folder for the embedded store and the evidence folder.
    pub data_dir: PathBuf,
    /// The HTTP server.
    pub server: ServerConfig,
    /// Where records, scenes and tenants are kept.
    pub store: StoreConfig,
    /// The model files.
    pub models: ModelsConfig,
    /// Logging.
    pub log: LogConfig,
    /// The engine's thresholds.
    #[serde(default)]
    pub engine: EngineConfig,
    /// Delivery of the result callbacks.
    pub callbacks: CallbacksConfig,
    /// Where evidence (frames kept with a record) is written.
    #[serde(default)]
    pub evidence: EvidenceConfig,
    /// The master key that seals stored secrets.
    #[serde(default)]
    pub secrets: SecretsConfig,
    /// Rotation of the result-signing keys.
    pub signing: SigningConfig,
    /// What one live session may send.
    pub sessions: SessionsConfig,
    /// Per-tenant limits (every tenant, until the console sets its own).
    pub tenants: livegate_actors::tenant::TenantLimits,
}

/// `[sessions]`: the limits on a page's frames and the expiry sweep.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionsConfig {
    /// Largest sealed frame, in bytes.
    pub max_frame_bytes: usize,
    /// Most frames in one second.
    pub max_fps: u32,
    /// Most frames in a session.
    pub max_frames: u64,
    /// Most bytes in a session.
    pub max_total_bytes: u64,
    /// Longest a session's frames may keep coming, in seconds.
    pub max_duration_secs: u64,
    /// Seconds between expiry sweeps.
    pub sweep_secs: u64,
}

impl SessionsConfig {
    /// The frame limits every session starts from.
    pub fn frame_limits(&self) -> livegate_actors::budget::FrameLimits {
        livegate_actors::budget::FrameLimits {
            max_frame_bytes: self.max_frame_bytes,
            max_fps: self.max_fps,
            max_frames: self.max_frames,
            max_total_bytes: self.max_total_bytes,
            max_duration_s: self.max_duration_secs,
        }
    }
}

/// `[secrets]`: the master key (see `src/secrets.rs`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsConfig {
    /// Base64 of 32 bytes; `None` is the file `<data_dir>/master.key`, made on first use.
    /// Nodes sharing a database must share it (`LIVEGATE_SECRETS__MASTER_KEY`).
    #[serde(default)]
    pub master_key: Option<SecretText>,
}

/// `[signing]`: rotation of the result-signing keys (see `src/result_signing.rs`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningConfig {
    /// Days a key is current.
    pub rotate_days: u64,
    /// Days a replaced key stays in the JWKS, so results signed just before verify.
    pub overlap_days: u64,
}

/// A secret from the configuration; `Debug` shows `***`, so it never reaches a log line.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct SecretText(String);

impl SecretText {
    /// Wraps a secret.
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretText(***)")
    }
}

/// `[callbacks]`: how result callbacks are retried (see `src/callbacks/`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbacksConfig {
    /// Milliseconds between polls of the outbox; an enqueue on this node wakes it at once.
    pub poll_interval_ms: u64,
    /// Seconds before the second try.
    pub first_delay_secs: u64,
    /// Each wait is this many times the one before.
    pub backoff_factor: f64,
    /// The longest wait between two tries, in seconds.
    pub max_delay_secs: u64,
    /// Tries before the callback is `failed`.
    pub max_attempts: u32,
    /// Seconds one request may take.
    pub timeout_secs: u64,
    /// Callbacks one node claims and sends at once.
    pub batch_size: u32,
}

/// `[evidence]`: the local evidence store.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceConfig {
    /// Its folder; `None` is `<data_dir>/evidence`.
    #[serde(default)]
    pub dir: Option<PathBuf>,
}

/// `[engine]`: how frames are judged.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    /// `[engine.thresholds]`: every threshold of the quality gate and the actions.
    #[serde(default)]
    pub thresholds: livegate_actors::thresholds::QualityThresholds,
    /// Minutes a node remembers its sessions' face hashes (`replayed_frames`); 0 is off. Off by
    /// default: the load test and the tests replay one clip in many sessions on purpose.
    #[serde(default)]
    pub replay_check_minutes: u32,
    /// Camera labels (exact, any case) known to be real, exempt from the `virtual_camera` cue.
    #[serde(default)]
    pub trusted_camera_labels: Vec<String>,
    /// Silent hard cues reported in results but never deciding (`glare`, `border`): for a site
    /// where one refuses real people (a doorway framing faces, a glossy kiosk).
    #[serde(default)]
    pub report_only_cues: Vec<String>,
}

/// `[server]`: the HTTP listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on (an IP address or a host name).
    pub host: String,
    /// Port to listen on.
    pub port: u16,
    /// Seconds in-flight requests get to finish on shutdown.
    pub shutdown_timeout_secs: u64,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// The address people reach the service at (`https://liveness.bank.example`); empty:
    /// `http://HOST:PORT`.
    #[serde(default)]
    pub public_url: String,
    /// The built H5 page, served at `/h5/`.
    pub h5_dir: PathBuf,
    /// The built operations console (`ui/console/dist`), served at `/admin/`.
    #[serde(default = "default_console_dir")]
    pub console_dir: PathBuf,
}

fn default_console_dir() -> PathBuf {
    PathBuf::from("ui/console/dist")
}

/// `[store]`: the storage backend.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Which backend holds the data.
    pub backend: StoreBackend,
    /// PostgreSQL url; required for `postgres`, ignored for `embedded`.
    #[serde(default)]
    pub url: Option<DatabaseUrl>,
    /// Connections in the PostgreSQL pool.
    pub pool_size: usize,
    /// Seconds to wait for a database connection.
    pub connect_timeout_secs: u64,
}

/// The storage backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// SQLite in the data folder: the first run, one node.
    Embedded,
    /// PostgreSQL through deadpool-postgres: production, several nodes.
    Postgres,
}

impl fmt::Display for StoreBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StoreBackend::Embedded => "embedded",
            StoreBackend::Postgres => "postgres",
        })
    }
}

/// A database url; its `Debug` hides everything after the scheme so a password never reaches a
/// log line.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// Wraps a url.
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The url itself, for the connection pool only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = self.0.split("://").next().unwrap_or("");
        write!(f, "DatabaseUrl({scheme}://***)")
    }
}

/// `[models]`: the model files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelsConfig {
    /// Folder with the model files.
    pub dir: PathBuf,
}

/// `[log]`: logging.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// A tracing filter directive.
    pub level: String,
    /// Line format.
    pub format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line.
    Json,
}

/// Values given on the command line; they win over every other layer.
#[derive(Debug, Clone, Default)]
pub struct ConfigOverrides {
    /// `--host`.
    pub host: Option<String>,
    /// `--port`.
    pub port: Option<u16>,
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A key has a bad value, a wrong type, or is unknown.
    #[error("invalid configuration: {key}: {message}")]
    Invalid {
        /// The key path, e.g. `store.pool_size`.
        key: String,
        /// What is wrong, lowercase.
        message: String,
    },
    /// `--config PATH` names a file that is not there.
    #[error("invalid configuration: config file {} does not exist", path.display())]
    FileMissing {
        /// The path given.
        path: PathBuf,
    },
    /// A `LIVEGATE_A__B` variable that is not in [`ENV_VARS`] (probably a typo).
    #[error(
        "invalid configuration: unknown environment variable {name} (see docs/configuration.md)"
    )]
    UnknownEnvVar {
        /// The variable's name.
        name: String,
    },
}

impl ConfigError {
    fn invalid(key: &str, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

/// Loads the configuration from the process: the working directory's file (or `config_path`),
/// the process environment and the overrides; then validates it.
pub fn load(
    config_path: Option<&Path>,
    overrides: &ConfigOverrides,
) -> Result<Config, ConfigError> {
    load_from(
        config_path,
        Path::new("."),
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        overrides,
    )
}

/// Loads the configuration from explicit inputs: `config_path` (must exist) or `work_dir`'s
/// `conf/livegate.toml` (if present), the given environment pairs, and the overrides; then
/// validates it. Tests call this instead of touching the process environment.
pub fn load_from(
    config_path: Option<&Path>,
    work_dir: &Path,
    env: impl IntoIterator<Item = (String, String)>,
    overrides: &ConfigOverrides,
) -> Result<Config, ConfigError> {
    let mut figment = Figment::new().merge(Toml::string(DEFAULTS_TOML));

    let file = match config_path {
        Some(path) => {
            if !path.is_file() {
                return Err(ConfigError::FileMissing {
                    path: path.to_owned(),
                });
            }
            Some(path.to_owned())
        }
        None => Some(work_dir.join(DEFAULT_CONFIG_PATH)).filter(|p| p.is_file()),
    };
    if let Some(file) = file {
        figment = figment.merge(Toml::file_exact(file));
    }

    let mut env: Vec<(String, String)> = env
        .into_iter()
        .filter(|(name, _)| name.starts_with("LIVEGATE_"))
        .collect();
    // Stable order, so that when both a short and a long name are set the long one wins.
    env.sort();
    for (name, value) in env {
        let Some(var) = ENV_VARS.iter().find(|v| v.name == name) else {
            if name.contains("__") {
                return Err(ConfigError::UnknownEnvVar { name });
            }
            continue;
        };
        let Some(key) = var.key else { continue };
        if value.is_empty() {
            continue;
        }
        figment = figment.merge(EnvValue {
            name: var.name,
            key,
            text: var.text,
            value,
        });
    }

    if let Some(host) = &overrides.host {
        figment = figment.merge(Serialized::default("server.host", host));
    }
    if let Some(port) = overrides.port {
        figment = figment.merge(Serialized::default("server.port", port));
    }

    let config: Config = figment.extract().map_err(from_figment)?;
    config.validate()?;
    Ok(config)
}

/// One environment variable as a figment provider, so that an error names the variable.
struct EnvValue {
    name: &'static str,
    key: &'static str,
    text: bool,
    value: String,
}

impl Provider for EnvValue {
    fn metadata(&self) -> Metadata {
        Metadata::named(format!("environment variable {}", self.name))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let value = if self.text {
            Value::from(self.value.clone())
        } else {
            // Infallible: what does not look like a number or a bool stays a string.
            Value::from_str(&self.value).unwrap_or_else(|never| match never {})
        };
        match figment::util::nest(self.key, value) {
            Value::Dict(_, dict) => Ok(Profile::Default.collect(dict)),
            _ => Err(figment::Error::from(format!(
                "{} does not name a configuration key",
                self.name
            ))),
        }
    }
}

/// Turns figment's error into one that leads with the key path (figment's own Display puts it
/// at the end and prefixes the profile).
fn from_figment(error: figment::Error) -> ConfigError {
    use figment::error::Kind;
    let mut path = error.path.clone();
    let message = match &error.kind {
        // figment usually ends the path with the field already; add it only when it does not.
        Kind::UnknownField(field, _) => {
            if path.last() != Some(field) {
                path.push(field.clone());
            }
            "unknown key".to_owned()
        }
        Kind::MissingField(field) => {
            if path.last().map(String::as_str) != Some(field.as_ref()) {
                path.push(field.to_string());
            }
            "missing".to_owned()
        }
        kind => kind.to_string(),
    };
    let key = if path.is_empty() {
        "(file)".to_owned()
    } else {
        path.join(".")
    };
    let message = match &error.metadata {
        Some(meta) => format!("{message} (from {})", source_name(meta)),
        None => message,
    };
    // figment quotes the expected variants itself inside its own quotes: ``a` or `b``.
    ConfigError::invalid(&key, message.replace('\n', " ").replace("``", "`"))
}

fn source_name(meta: &Metadata) -> String {
    match &meta.source {
        Some(figment::Source::File(path)) => path.display().to_string(),
        _ if meta.name == "TOML source string" => "built-in defaults".to_owned(),
        _ => meta.name.to_string(),
    }
}

impl Config {
    /// Rules across fields and ranges the types cannot express. The first broken rule wins.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::invalid("data_dir", "must not be empty"));
        }
        let host = self.server.host.trim();
        if host.is_empty() {
            return Err(ConfigError::invalid("server.host", "must not be empty"));
        }
        if host.parse::<IpAddr>().is_err()
            && !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return Err(ConfigError::invalid(
                "server.host",
                format!("not an ip address or host name (got {host:?})"),
            ));
        }
        if self.server.port == 0 {
            return Err(ConfigError::invalid(
                "server.port",
                "must be between 1 and 65535 (got 0)",
            ));
        }
        in_range(
            "server.shutdown_timeout_secs",
            self.server.shutdown_timeout_secs,
            0,
            3600,
        )?;
        in_range(
            "server.max_body_bytes",
            self.server.max_body_bytes as u64,
            1024,
            256 * 1024 * 1024,
        )?;
        in_range("store.pool_size", self.store.pool_size as u64, 1, 256)?;
        in_range(
            "store.connect_timeout_secs",
            self.store.connect_timeout_secs,
            1,
            300,
        )?;
        if self.store.backend == StoreBackend::Postgres {
            let Some(url) = &self.store.url else {
                return Err(ConfigError::invalid(
                    "store.url",
                    "required when store.backend is \"postgres\" (or set LIVEGATE_DATABASE_URL)",
                ));
            };
            let url = url.expose();
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(ConfigError::invalid(
                    "store.url",
                    "must start with postgres:// or postgresql://",
                ));
            }
            // The url may hold a password: the message never repeats it.
            if tokio_postgres::Config::from_str(url).is_err() {
                return Err(ConfigError::invalid(
                    "store.url",
                    "not a valid postgres url",
                ));
            }
        }
        if self.models.dir.as_os_str().is_empty() {
            return Err(ConfigError::invalid("models.dir", "must not be empty"));
        }
        if self.engine.replay_check_minutes > 60 {
            return Err(ConfigError::invalid(
                "engine.replay_check_minutes",
                format!(
                    "must be between 0 and 60 (got {})",
                    self.engine.replay_check_minutes
                ),
            ));
        }
        if let Some(label) = self
            .engine
            .trusted_camera_labels
            .iter()
            .find(|l| l.trim().is_empty() || l.len() > 200)
        {
            return Err(ConfigError::invalid(
                "engine.trusted_camera_labels",
                format!("labels must be 1-200 characters (got {label:?})"),
            ));
        }
        if let Some(cue) = self
            .engine
            .report_only_cues
            .iter()
            .find(|c| !livegate_models::silent::SWITCHABLE_CUES.contains(&c.as_str()))
        {
            return Err(ConfigError::invalid(
                "engine.report_only_cues",
                format!(
                    "{cue:?} is not a cue that can be reported only (one of: {})",
                    livegate_models::silent::SWITCHABLE_CUES.join(", ")
                ),
            ));
        }
        if let Err(err) = self.engine.thresholds.validate() {
            return Err(ConfigError::invalid(
                &format!("engine.thresholds.{}", err.field),
                err.reason,
            ));
        }
        let cb = &self.callbacks;
        in_range(
            "callbacks.poll_interval_ms",
            cb.poll_interval_ms,
            10,
            60_000,
        )?;
        in_range("callbacks.first_delay_secs", cb.first_delay_secs, 1, 3600)?;
        if !(1.0..=10.0).contains(&cb.backoff_factor) {
            return Err(ConfigError::invalid(
                "callbacks.backoff_factor",
                format!("must be between 1 and 10 (got {})", cb.backoff_factor),
            ));
        }
        in_range("callbacks.max_delay_secs", cb.max_delay_secs, 1, 86_400)?;
        if cb.max_delay_secs < cb.first_delay_secs {
            return Err(ConfigError::invalid(
                "callbacks.max_delay_secs",
                format!(
                    "must not be less than callbacks.first_delay_secs ({})",
                    cb.first_delay_secs
                ),
            ));
        }
        in_range("callbacks.max_attempts", u64::from(cb.max_attempts), 1, 100)?;
        in_range("callbacks.timeout_secs", cb.timeout_secs, 1, 300)?;
        in_range("callbacks.batch_size", u64::from(cb.batch_size), 1, 1000)?;
        if self
            .evidence
            .dir
            .as_ref()
            .is_some_and(|dir| dir.as_os_str().is_empty())
        {
            return Err(ConfigError::invalid("evidence.dir", "must not be empty"));
        }
        if let Some(key) = &self.secrets.master_key {
            // The reason names the rule, never the value.
            if let Err(err) = crate::secrets::MasterKey::from_base64(key.expose()) {
                return Err(ConfigError::invalid("secrets.master_key", err.to_string()));
            }
        }
        let url = self.server.public_url.trim();
        if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ConfigError::invalid(
                "server.public_url",
                "must start with http:// or https://",
            ));
        }
        let se = &self.sessions;
        in_range(
            "sessions.max_frame_bytes",
            se.max_frame_bytes as u64,
            1024,
            8 << 20,
        )?;
        in_range("sessions.max_fps", u64::from(se.max_fps), 1, 60)?;
        in_range("sessions.max_frames", se.max_frames, 1, 100_000)?;
        in_range(
            "sessions.max_total_bytes",
            se.max_total_bytes,
            se.max_frame_bytes as u64,
            4 << 30,
        )?;
        in_range("sessions.max_duration_secs", se.max_duration_secs, 10, 3600)?;
        in_range("sessions.sweep_secs", se.sweep_secs, 1, 3600)?;
        if let Err(err) = self.tenants.validate() {
            return Err(ConfigError::invalid(
                &format!("tenants.{}", err.field),
                format!("must be between 1 and 1000000 (got {})", err.got),
            ));
        }
        in_range("signing.rotate_days", self.signing.rotate_days, 1, 3650)?;
        in_range("signing.overlap_days", self.signing.overlap_days, 1, 365)?;
        if let Err(err) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            return Err(ConfigError::invalid(
                "log.level",
                format!("not a tracing filter ({err})"),
            ));
        }
        Ok(())
    }

    /// Where the embedded store's file lives.
    pub fn embedded_db_path(&self) -> PathBuf {
        self.data_dir.join("livegate.db")
    }

    /// Where evidence (best frame, sampled frames) is written: `evidence.dir`, else
    /// `<data_dir>/evidence`.
    pub fn evidence_dir(&self) -> PathBuf {
        match &self.evidence.dir {
            Some(dir) => dir.clone(),
            None => self.data_dir.join("evidence"),
        }
    }

    /// Where H5 links point: `server.public_url`, else `http://HOST:PORT`.
    pub fn public_url(&self) -> String {
        let url = self.server.public_url.trim().trim_end_matches('/');
        if url.is_empty() {
            format!("http://{}:{}", self.server.host, self.server.port)
        } else {
            url.to_owned()
        }
    }

    /// `server.shutdown_timeout_secs` as a duration.
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.server.shutdown_timeout_secs)
    }
}

fn in_range(key: &str, got: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if (min..=max).contains(&got) {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            key,
            format!("must be between {min} and {max} (got {got})"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_env_var_key_exists_in_the_defaults() {
        let defaults: toml::Table = DEFAULTS_TOML.parse().expect("defaults parse");
        for var in ENV_VARS {
            let Some(key) = var.key else { continue };
            let mut parts = key.split('.');
            let first = parts.next().expect("key");
            let mut node = defaults.get(first);
            for part in parts {
                node = node.and_then(|n| n.get(part));
            }
            // store.url, evidence.dir and secrets.master_key are commented out in the defaults
            // (no default of their own: none, or one under data_dir).
            assert!(
                node.is_some()
                    || key == "store.url"
                    || key == "evidence.dir"
                    || key == "secrets.master_key",
                "{} sets {key}, which the defaults do not have",
                var.name
            );
        }
    }

    #[test]
    fn database_url_debug_hides_the_password() {
        let url = DatabaseUrl::new("postgres://app:s3cret@db:5432/livegate");
        assert_eq!(format!("{url:?}"), "DatabaseUrl(postgres://***)");
    }
}
