//! The command line: `livegate serve`, `livegate migrate`, `livegate analyze`.

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
