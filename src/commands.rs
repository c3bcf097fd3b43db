//! What each subcommand does, apart from parsing (src/cli.rs) and the process exit (src/main.rs).

use std::net::TcpListener;
use std::sync::Arc;

use crate::cli::{AnalyzeCommand, Command, CompareCommand, MigrateArgs, ServeArgs};
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
    /// `compare` could not read an image, found no single face in one, or its models failed.
    #[error(transparent)]
    Compare(#[from] crate::compare::CompareCommandError),
    /// `scenes set` was given a bad code or rules file; nothing was written.
    #[error(transparent)]
    SceneInput(#[from] crate::scenes::SceneInputError),
    /// No tenant has the code given with `--tenant`.
    #[error("no tenant with code {0:?}")]
    UnknownTenant(String),
    /// The tenant has no scene with the code given.
    #[error("no scene {code:?} in tenant {tenant:?}")]
    UnknownScene {
        /// The tenant's code.
        tenant: String,
        /// The scene's code.
        code: String,
    },
    /// The master key could not be read or made, or a sealed secret not opened or made.
    #[error("secrets: {0}")]
    Secrets(#[from] crate::secrets::SecretsError),
    /// The result-signing keys could not be loaded or made.
    #[error(transparent)]
    Signing(#[from] crate::result_signing::SigningError),
    /// `admin create` / `admin reset-password` was given a bad username or password.
    #[error(transparent)]
    Credential(#[from] crate::admin::password::CredentialError),
    /// No console administrator has the username given.
    #[error("no administrator {0:?}")]
    UnknownAdmin(String),
    /// The server stopped with an error.
    #[error("server: {0}")]
    Server(#[source] std::io::Error),
    /// A service of the node could not start.
    #[error("{0}")]
    Node(String),
    /// `loadtest` could not set up or run (a session's own failures are counted, not raised).
    #[error("loadtest: {0}")]
    Loadtest(#[from] crate::loadtest::LoadtestError),
    /// `attacks` could not set up (a presentation's own verdict is a result, not an error).
    #[error("attacks: {0}")]
    Attacks(#[from] crate::attacks::AttacksError),
}

impl CommandError {
    /// The process exit code: 2 for configuration, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            CommandError::Config(_) => 2,
            CommandError::SceneInput(_) => 2,
            CommandError::Credential(_) => 2,
            CommandError::Loadtest(crate::loadtest::LoadtestError::Usage(_)) => 2,
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
        Command::Compare(args) => compare(args).await,
        Command::Scenes(args) => scenes(args).await,
        Command::Apps(args) => apps(args).await,
        Command::Admin(args) => crate::admin::cli::run(args).await,
        Command::Loadtest(args) => Ok(crate::loadtest::run(args).await?),
        Command::Attacks(args) => attacks(args).await,
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
    crate::models::check_model_files(&config.models.dir).map_err(CommandError::Models)?;
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
    let node = crate::node::Node::start(&config, Arc::clone(&store)).await?;
    let models = crate::models::ModelsReadiness::new(node.pool());
    let state = AppState::new(store, limits).with_check(Arc::new(models));
    tracing::info!(
        %addr,
        store = %config.store.backend,
        data_dir = %config.data_dir.display(),
        public_url = %config.public_url(),
        "listening"
    );
    let routes = node.routes();
    let served = server::run_with(listener, state, routes, server::shutdown_signal()).await;
    node.stop().await;
    served.map_err(CommandError::Server)?;
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

async fn attacks(args: crate::attacks::AttacksCommand) -> Result<(), CommandError> {
    let config = config::load(args.config.config.as_deref(), &ConfigOverrides::default())?;
    let models_dir = args
        .attacks
        .models
        .clone()
        .unwrap_or_else(|| config.models.dir.clone());
    let mut out = std::io::stdout();
    crate::attacks::run(&args.attacks, &models_dir, &mut out).await?;
    Ok(())
}

async fn compare(args: CompareCommand) -> Result<(), CommandError> {
    let config = config::load(args.config.config.as_deref(), &ConfigOverrides::default())?;
    let models_dir = args
        .compare
        .models
        .clone()
        .unwrap_or_else(|| config.models.dir.clone());
    // Decoding and inference are blocking work: keep them off the async runtime's threads.
    tokio::task::spawn_blocking(move || {
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        crate::compare::run(&args.compare, &models_dir, &mut out)
    })
    .await
    .map_err(|e| CommandError::Server(std::io::Error::other(e)))??;
    Ok(())
}

async fn scenes(args: crate::cli::ScenesCommand) -> Result<(), CommandError> {
    use crate::cli::ScenesAction;
    match args.action {
        ScenesAction::Set(args) => scene_set(args).await,
        ScenesAction::List(args) => scene_list(args).await,
        ScenesAction::Show(args) => scene_show(args).await,
    }
}

/// Loads the configuration for a scene command and starts logging (to stderr).
fn scene_config(config_file: Option<&std::path::Path>) -> Result<Config, CommandError> {
    let config = config::load(config_file, &ConfigOverrides::default())?;
    crate::logging::init(&config.log);
    Ok(config)
}

/// Opens the migrated store, as `migrate` does, for a scene command.
async fn scene_store(config: &Config) -> Result<Arc<dyn Store>, CommandError> {
    if config.store.backend == config::StoreBackend::Embedded {
        prepare_data_dir(config)?;
    }
    let (store, _) = open_migrated_store(config).await?;
    Ok(store)
}

async fn scene_tenant(
    config: &Config,
    store: &dyn Store,
    code: &str,
) -> Result<store::Tenant, CommandError> {
    match store.tenant_by_code(code).await {
        Err(StoreError::NotFound { .. }) => Err(CommandError::UnknownTenant(code.to_owned())),
        other => other.map_err(|source| CommandError::Store {
            backend: config.store.backend,
            source,
        }),
    }
}

/// One scene as `scenes list` and `scenes show` print it: the callback secret masked.
fn scene_json(scene: &store::Scene) -> serde_json::Value {
    serde_json::json!({
        "code": scene.code,
        "name": scene.name,
        "version": scene.version,
        "config": crate::scenes::masked_config(&scene.config),
        "updated_at": scene.updated_at,
    })
}

/// Who the versions `livegate scenes set` writes are by.
const SCENE_AUTHOR: &str = "cli";

async fn scene_set(args: crate::cli::SceneSetArgs) -> Result<(), CommandError> {
    use crate::scenes::{check_scene_code, read_rules_file, SceneInputError};
    // Everything about the input is checked before the store is opened: a bad file writes
    // nothing, not even a fresh database.
    let config = scene_config(args.config.config.as_deref())?;
    check_scene_code(&args.code).map_err(SceneInputError::Code)?;
    let (rules_json, _) = read_rules_file(&args.file, &config.engine.thresholds)?;
    let store = scene_store(&config).await?;
    let master = crate::secrets::MasterKey::load_or_create(&config)?;
    let backend = config.store.backend;
    let wrap = |source| CommandError::Store { backend, source };
    let tenant = scene_tenant(&config, store.as_ref(), &args.tenant).await?;
    match store.scene_by_code(tenant.id, &args.code).await {
        Ok(scene) => {
            let renamed = args.name.as_ref().is_some_and(|n| *n != scene.name);
            let stored = crate::scene_secrets::open(&scene.config, &master).ok();
            if stored.as_ref() == Some(&rules_json) && !renamed {
                println!(
                    "scene {:?} of tenant {:?} is unchanged (version {})",
                    scene.code, tenant.code, scene.version
                );
                return Ok(());
            }
            let update = store::SceneUpdate {
                name: args.name.clone(),
                config: Some(crate::scene_secrets::seal(&rules_json, &master)?),
                // Another admin's change in between is refused rather than overwritten.
                expected_version: Some(scene.version),
            };
            let scene = store
                .update_scene_by(tenant.id, &args.code, &update, Some(SCENE_AUTHOR))
                .await
                .map_err(wrap)?;
            println!(
                "updated scene {:?} of tenant {:?} to version {}",
                scene.code, tenant.code, scene.version
            );
        }
        Err(StoreError::NotFound { .. }) => {
            let new = store::NewScene {
                code: args.code.clone(),
                name: args.name.clone().unwrap_or_else(|| args.code.clone()),
                config: crate::scene_secrets::seal(&rules_json, &master)?,
            };
            let scene = store
                .create_scene_by(tenant.id, &new, Some(SCENE_AUTHOR))
                .await
                .map_err(wrap)?;
            println!(
                "created scene {:?} of tenant {:?} (version {})",
                scene.code, tenant.code, scene.version
            );
        }
        Err(source) => return Err(wrap(source)),
    }
    Ok(())
}

async fn scene_list(args: crate::cli::SceneListArgs) -> Result<(), CommandError> {
    let config = scene_config(args.config.config.as_deref())?;
    let store = scene_store(&config).await?;
    let tenant = scene_tenant(&config, store.as_ref(), &args.tenant).await?;
    let scenes = store
        .list_scenes(tenant.id)
        .await
        .map_err(|source| CommandError::Store {
            backend: config.store.backend,
            source,
        })?;
    for scene in &scenes {
        println!("{}", scene_json(scene));
    }
    Ok(())
}

async fn scene_show(args: crate::cli::SceneShowArgs) -> Result<(), CommandError> {
    let config = scene_config(args.config.config.as_deref())?;
    let store = scene_store(&config).await?;
    let tenant = scene_tenant(&config, store.as_ref(), &args.tenant).await?;
    let scene = match store.scene_by_code(tenant.id, &args.code).await {
        Err(StoreError::NotFound { .. }) => {
            return Err(CommandError::UnknownScene {
                tenant: args.tenant,
                code: args.code,
            })
        }
        other => other.map_err(|source| CommandError::Store {
            backend: config.store.backend,
            source,
        })?,
    };
    println!("{}", scene_json(&scene));
    Ok(())
}

/// Deletes expired request nonces every few minutes, until aborted.
async fn apps(args: crate::cli::AppsCommand) -> Result<(), CommandError> {
    use crate::cli::AppsAction;
    match args.action {
        AppsAction::Create(args) => app_create(args).await,
        AppsAction::List(args) => app_list(args).await,
    }
}

/// `apps create`: a fresh 32-byte secret, sealed under the master key; the one JSON line on
/// stdout is the only place the secret is ever shown.
async fn app_create(args: crate::cli::AppsCreateArgs) -> Result<(), CommandError> {
    let config = scene_config(args.config.config.as_deref())?;
    let store = scene_store(&config).await?;
    let tenant = scene_tenant(&config, store.as_ref(), &args.tenant).await?;
    let master = crate::secrets::MasterKey::load_or_create(&config)?;
    // The same making and sealing as the console's `POST /admin/api/v1/apps`.
    let (new, secret) = crate::admin::apps::new_app(&master, args.name)?;
    let app = store
        .create_app(tenant.id, &new)
        .await
        .map_err(|source| CommandError::Store {
            backend: config.store.backend,
            source,
        })?;
    println!(
        "{}",
        serde_json::json!({ "app_id": app.app_id, "secret": secret, "tenant": tenant.code })
    );
    Ok(())
}

/// `apps list`: one JSON line per app of the tenant, without secrets.
async fn app_list(args: crate::cli::AppsListArgs) -> Result<(), CommandError> {
    let config = scene_config(args.config.config.as_deref())?;
    let store = scene_store(&config).await?;
    let tenant = scene_tenant(&config, store.as_ref(), &args.tenant).await?;
    let apps = store
        .list_apps(tenant.id)
        .await
        .map_err(|source| CommandError::Store {
            backend: config.store.backend,
            source,
        })?;
    for app in apps {
        println!(
            "{}",
            serde_json::json!({
                "app_id": app.app_id,
                "name": app.name,
                "tenant": tenant.code,
                "status": app.status,
                "created_at": app.created_at,
            })
        );
    }
    Ok(())
}
