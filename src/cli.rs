//! The command line: `livegate serve`, `migrate`, `analyze`, `compare`, `scenes`, `apps`, `admin`,
//! `loadtest`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Livegate: real-time face liveness for H5 pages.
#[derive(Debug, Parser)]
#[command(name = "livegate", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands; each variant's arguments live in their own struct.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate the store and serve HTTP until SIGINT/SIGTERM.
    Serve(ServeArgs),
    /// Apply the store's pending schema migrations and print them.
    Migrate(MigrateArgs),
    /// Run the engine over a video or an image and print JSON lines (events, then a summary).
    Analyze(AnalyzeCommand),
    /// Compare the faces of two images (one face each) and print one JSON line.
    Compare(CompareCommand),
    /// Manage the API apps that sign Open API requests.
    Apps(AppsCommand),
    /// Create, update and list scenes: a tenant's liveness rules.
    Scenes(ScenesCommand),
    /// Create console administrators and reset their passwords (first install, recovery).
    Admin(crate::admin::cli::AdminCommand),
    /// Play real clips as many H5 pages at once over the real protocol; print a table of
    /// throughput, latencies and server CPU/memory, then one JSON line.
    Loadtest(crate::loadtest::LoadtestArgs),
    /// Stage attack sessions from the real media and play them to sessions; print APCER per
    /// species and BPCER on live clips (docs/attacks.md), then one JSON line.
    Attacks(crate::attacks::AttacksCommand),
}

/// Where the configuration file is, for every subcommand that reads one.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// Configuration file (default: conf/livegate.toml in the working directory, if present).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
}

/// `livegate serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on (overrides server.host).
    #[arg(long)]
    pub host: Option<String>,
    /// Port to listen on (overrides server.port).
    #[arg(long)]
    pub port: Option<u16>,
    /// The configuration file.
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `livegate migrate`.
#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    /// The configuration file.
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `livegate analyze`.
#[derive(Debug, Clone, Args)]
pub struct AnalyzeCommand {
    /// What to analyse and how.
    #[command(flatten)]
    pub analyze: crate::analyze::AnalyzeArgs,
    /// The configuration file (models.dir, engine.thresholds).
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `livegate compare`.
#[derive(Debug, Clone, Args)]
pub struct CompareCommand {
    /// The two images and the models.
    #[command(flatten)]
    pub compare: crate::compare::CompareArgs,
    /// The configuration file (models.dir).
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `livegate scenes`.
#[derive(Debug, Clone, Args)]
pub struct ScenesCommand {
    /// What to do with scenes.
    #[command(subcommand)]
    pub action: ScenesAction,
}

/// `livegate scenes set | list | show`.
#[derive(Debug, Clone, Subcommand)]
pub enum ScenesAction {
    /// Create the scene, or give it new rules (a new version), from a JSON file checked first.
    Set(SceneSetArgs),
    /// Print the tenant's scenes, one JSON line each (callback secrets masked).
    List(SceneListArgs),
    /// Print one scene as JSON (callback secret masked).
    Show(SceneShowArgs),
}

/// `livegate scenes set CODE --file rules.json`.
#[derive(Debug, Clone, Args)]
pub struct SceneSetArgs {
    /// The scene's code (a-z, 0-9, '-', '_').
    pub code: String,
    /// The rules, a JSON object (see docs/scenes.md).
    #[arg(long, value_name = "PATH")]
    pub file: PathBuf,
    /// Display name (default: the code when creating; unchanged when updating).
    #[arg(long)]
    pub name: Option<String>,
    /// The tenant's code.
    #[arg(long, value_name = "CODE", default_value = crate::store::DEFAULT_CODE)]
    pub tenant: String,
    /// The configuration file.
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `livegate scenes list`.
#[derive(Debug, Clone, Args)]
pub struct SceneListArgs {
    /// The tenant's code.
    #[arg(long, value_name = "CODE", default_value = crate::store::DEFAULT_CODE)]
    pub tenant: String,
    /// The configuration file.
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `livegate scenes show CODE`.
#[derive(Debug, Clone, Args)]
pub struct SceneShowArgs {
    /// The scene's code.
    pub code: String,
    /// The tenant's code.
    #[arg(long, value_name = "CODE", default_value = crate::store::DEFAULT_CODE)]
    pub tenant: String,
    /// The configuration file.
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `livegate apps`.
#[derive(Debug, Clone, Args)]
pub struct AppsCommand {
    /// What to do with apps.
    #[command(subcommand)]
    pub action: AppsAction,
}

/// The `livegate apps` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum AppsAction {
    /// Create an app and print one JSON line {"app_id", "secret", "tenant"}; the secret is shown
    /// this once.
    Create(AppsCreateArgs),
    /// Print the tenant's apps as JSON lines (never their secrets).
    List(AppsListArgs),
}

/// `livegate apps create`.
#[derive(Debug, Clone, Args)]
pub struct AppsCreateArgs {
    /// The app's display name.
    #[arg(long)]
    pub name: String,
    /// The tenant's code.
    #[arg(long, default_value = crate::store::DEFAULT_CODE)]
    pub tenant: String,
    /// The configuration file.
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `livegate apps list`.
#[derive(Debug, Clone, Args)]
pub struct AppsListArgs {
    /// The tenant's code.
    #[arg(long, default_value = crate::store::DEFAULT_CODE)]
    pub tenant: String,
    /// The configuration file.
    #[command(flatten)]
    pub config: ConfigArgs,
}
