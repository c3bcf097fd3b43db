//! The `livegate` binary: parse the command line, run the command, exit.

use std::process::ExitCode;

use clap::Parser;
use livegate::cli::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match livegate::commands::execute(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("livegate: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
