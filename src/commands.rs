//! What each subcommand does, apart from parsing (src/cli.rs) and the process exit (src/main.rs).

use std::net::TcpListener;
use std::sync::Arc;

use crate::cli::{AnalyzeCommand, Command, MigrateArgs, ServeArgs};
use crate::config::{self, Config, ConfigError, ConfigOverrides};
use crate::server::{self, AppState, HttpLimits};
use crate::store::{self, Store, StoreError};

/// Why a command failed; `Display` is the one lowercase line printed on stderr.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The configuration is invalid (names the key).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store could not be opened or migrated.
    #[error("store ({backend}): {source}")]
    Store {
        /// `embedded` or `postgres`.
        backend: config::StoreBackend,
        /// What failed.
        #[source]
        source: StoreError,
    },
    /// A folder under the data folder could not be created.
    #[error("cannot create {path}: {source}")]
    DataDir {
        /// The folder.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The listener could not be bound, or the server failed.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// host:port.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The model files are missing or the runtime cannot load them.
    #[error("models: {0}")]
    Models(#[source] livegate_models::EngineError),
    /// `analyze` could not read, decode or analyse its input.
    #[error(transparent)]
    Analyze(#[from] crate::analyze::AnalyzeError),
    /// The server stopped with an error.
    #[error("server: {0}")]
    Server(#[source] std::io::Error),
}

impl CommandError {
    /// The process exit code: 2 for configuration, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            CommandError::Config(_) => 2,
            _ => 1,
        }
    }
}

/// Runs a parsed command to completion.
pub async fn execute(command: Command) -> Result<(), CommandError> {
    match command {
        Command::Serve(args) => serve(args).await,
        Command::Migrate(args) => migrate(args).await,
        Command::Analyze(args) => analyze(args).await,
    }
}

/// Creates the data folder and the evidence folder (the embedded store's file is created by the
/// store itself).
pub fn prepare_data_dir(config: &Config) -> Result<(), CommandError> {
    for dir in [config.data_dir.clone(), config.evidence_dir()] {
        std::fs::create_dir_all(&dir).map_err(|source| CommandError::DataDir {
            path: dir.display().to_string(),
            source,
        })?;
    }
    Ok(())
}

/// Opens the configured store and applies pending migrations.
pub async fn open_migrated_store(
    config: &Config,
) -> Result<(Arc<dyn Store>, Vec<store::AppliedMigration>), CommandError> {
    let backend = config.store.backend;
    let wrap = |source| CommandError::Store { backend, source };
    let store = store::open(config).await.map_err(wrap)?;
    let applied = store.migrate().await.map_err(wrap)?;
    Ok((store, applied))
}

async fn serve(args: ServeArgs) -> Result<(), CommandError> {
    let overrides = ConfigOverrides {
        host: args.host,
        port: args.port,
    };
    let config = config::load(args.config.config.as_deref(), &overrides)?;
    crate::logging::init(&config.log);
    // A missing or changed model file stops the start before anything is created or migrated.
    let models =
        crate::models::ModelsReadiness::start(&config.models.dir).map_err(CommandError::Models)?;
    prepare_data_dir(&config)?;
    let (store, applied) = open_migrated_store(&config).await?;
    for migration in &applied {
        tracing::info!(version = migration.version, name = %migration.name, "applied migration");
    }
    let addr = format!("{}:{}", config.server.host, config.server.port);
    // A (host, port) pair, not the joined string: an IPv6 host (::1) has colons of its own.
    let listener =
        TcpListener::bind((config.server.host.as_str(), config.server.port)).map_err(|source| {
            CommandError::Listen {
                addr: addr.clone(),
                source,
            }
        })?;
    let limits = HttpLimits {
        max_body_bytes: config.server.max_body_bytes,
        shutdown_timeout: config.shutdown_timeout(),
    };
    let state = AppState::new(store, limits).with_check(Arc::new(models));
    tracing::info!(
        %addr,
        store = %config.store.backend,
        data_dir = %config.data_dir.display(),
        "listening"
    );
    server::run(listener, state, server::shutdown_signal())
        .await
        .map_err(CommandError::Server)?;
    tracing::info!("stopped");
    Ok(())
}

async fn migrate(args: MigrateArgs) -> Result<(), CommandError> {
    let config = config::load(args.config.config.as_deref(), &ConfigOverrides::default())?;
    crate::logging::init(&config.log);
    if config.store.backend == config::StoreBackend::Embedded {
        prepare_data_dir(&config)?;
    }
    let (_, applied) = open_migrated_store(&config).await?;
    if applied.is_empty() {
        println!("{} store is up to date", config.store.backend);
    }
    for migration in &applied {
        println!(
            "applied {:04}_{} to the {} store",
            migration.version, migration.name, config.store.backend
        );
    }
    Ok(())
}

async fn analyze(args: AnalyzeCommand) -> Result<(), CommandError> {
    let config = config::load(args.config.config.as_deref(), &ConfigOverrides::default())?;
    let models_dir = args
        .analyze
        .models
        .clone()
        .unwrap_or_else(|| config.models.dir.clone());
    let thresholds = config.engine.thresholds.clone();
    // Decoding and inference are blocking work: keep them off the async runtime's threads.
    tokio::task::spawn_blocking(move || {
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        crate::analyze::run(&args.analyze, &models_dir, &thresholds, &mut out)
    })
    .await
    .map_err(|e| CommandError::Server(std::io::Error::other(e)))??;
    Ok(())
}
