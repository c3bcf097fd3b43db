//! `livegate admin create | reset-password`: console administrators from the command line, for
//! the first install (there is no one yet to log in and create them) and for recovery.
//!
//! Both print one JSON line (never the password) and write an audit entry as user `cli`.

use std::sync::Arc;

use clap::{Args, Subcommand};
use serde_json::json;

use super::password;
use crate::cli::ConfigArgs;
use crate::commands::{open_migrated_store, prepare_data_dir, CommandError};
use crate::config::{self, Config, ConfigOverrides, StoreBackend};
use crate::store::{NewAdminUser, NewAuditEntry, Store, StoreError};

/// The username audit entries made from the command line carry.
pub const CLI_USERNAME: &str = "cli";

/// `livegate admin`.
#[derive(Debug, Clone, Args)]
pub struct AdminCommand {
    /// What to do.
    #[command(subcommand)]
    pub action: AdminAction,
}

/// The `livegate admin` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum AdminAction {
    /// Create an administrator and print one JSON line {"id", "username", "tenant", "roles"}.
    Create(AdminCreateArgs),
    /// Set a new password for an administrator; unlocks the account and ends its sessions.
    ResetPassword(AdminResetPasswordArgs),
}

/// `livegate admin create`.
#[derive(Debug, Clone, Args)]
pub struct AdminCreateArgs {
    /// Login name (lower-cased; a-z, 0-9, '.', '_', '@', '-').
    #[arg(long)]
    pub username: String,
    /// Password: 10 to 128 characters, not the username.
    #[arg(long)]
    pub password: String,
    /// Name shown in the console (default: the username).
    #[arg(long)]
    pub display_name: Option<String>,
    /// The tenant's code.
    #[arg(long, value_name = "CODE", default_value = crate::store::DEFAULT_CODE)]
    pub tenant: String,
    /// A role to grant (repeat for several).
    #[arg(long = "role", value_name = "CODE", default_value = "sys_admin")]
    pub roles: Vec<String>,
    /// The configuration file.
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `livegate admin reset-password`.
#[derive(Debug, Clone, Args)]
pub struct AdminResetPasswordArgs {
    /// The administrator's login name.
    #[arg(long)]
    pub username: String,
    /// The new password: 10 to 128 characters, not the username.
    #[arg(long)]
    pub password: String,
    /// The configuration file.
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// Runs `livegate admin ...`.
pub async fn run(args: AdminCommand) -> Result<(), CommandError> {
    match args.action {
        AdminAction::Create(args) => create(args).await,
        AdminAction::ResetPassword(args) => reset_password(args).await,
    }
}

async fn open(
    config_file: Option<&std::path::Path>,
) -> Result<(Config, Arc<dyn Store>), CommandError> {
    let config = config::load(config_file, &ConfigOverrides::default())?;
    crate::logging::init(&config.log);
    if config.store.backend == StoreBackend::Embedded {
        prepare_data_dir(&config)?;
    }
    let (store, _) = open_migrated_store(&config).await?;
    Ok((config, store))
}

async fn create(args: AdminCreateArgs) -> Result<(), CommandError> {
    // The input is checked before anything is opened: a bad password writes nothing.
    let username = password::normalise_username(&args.username)?;
    password::check_password("password", &username, &args.password)?;
    let (config, store) = open(args.config.config.as_deref()).await?;
    let wrap = |source| CommandError::Store {
        backend: config.store.backend,
        source,
    };
    let tenant = match store.tenant_by_code(&args.tenant).await {
        Err(StoreError::NotFound { .. }) => return Err(CommandError::UnknownTenant(args.tenant)),
        other => other.map_err(wrap)?,
    };
    let password_hash = password::hash_password(args.password)
        .await
        .map_err(|err| CommandError::Node(err.to_string()))?;
    let display_name = args
        .display_name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| username.clone());
    let user = store
        .create_admin_user(
            tenant.id,
            &NewAdminUser {
                username,
                display_name,
                password_hash,
                roles: args.roles,
            },
        )
        .await
        .map_err(wrap)?;
    store
        .append_audit(&NewAuditEntry {
            tenant_id: tenant.id,
            user_id: None,
            username: CLI_USERNAME.into(),
            action: "user.create".into(),
            target: user.id.to_string(),
            detail: json!({ "username": user.username, "roles": user.roles }),
            ip: None,
        })
        .await
        .map_err(wrap)?;
    println!(
        "{}",
        json!({ "id": user.id, "username": user.username, "tenant": tenant.code, "roles": user.roles })
    );
    Ok(())
}

async fn reset_password(args: AdminResetPasswordArgs) -> Result<(), CommandError> {
    let username = password::normalise_username(&args.username)?;
    password::check_password("password", &username, &args.password)?;
    let (config, store) = open(args.config.config.as_deref()).await?;
    let wrap = |source| CommandError::Store {
        backend: config.store.backend,
        source,
    };
    let user = match store.admin_user_by_username(&username).await {
        Err(StoreError::NotFound { .. }) => return Err(CommandError::UnknownAdmin(username)),
        other => other.map_err(wrap)?,
    };
    let password_hash = password::hash_password(args.password)
        .await
        .map_err(|err| CommandError::Node(err.to_string()))?;
    let user = store
        .set_admin_password(user.tenant_id, user.id, &password_hash, None)
        .await
        .map_err(wrap)?;
    store
        .append_audit(&NewAuditEntry {
            tenant_id: user.tenant_id,
            user_id: None,
            username: CLI_USERNAME.into(),
            action: "user.reset_password".into(),
            target: user.id.to_string(),
            detail: json!({ "username": user.username }),
            ip: None,
        })
        .await
        .map_err(wrap)?;
    println!(
        "{}",
        json!({ "id": user.id, "username": user.username, "status": user.status, "unlocked": true })
    );
    Ok(())
}
