//! `/scenes`: a tenant's scenes, their versions and their fallback rules (docs/admin-api.md,
//! docs/scenes.md).
//!
//! Rules arrive as the scene's config JSON and are checked by `SceneRules` exactly as
//! `livegate scenes set` checks a file; a broken rule is `422` with `detail.field` naming its
//! JSON path (`config.actions.count`). Secrets are shown as `"***"`; a `"***"` sent back keeps
//! the stored secret (still sealed: it is copied sealed from the same field), anything else
//! is a new secret, sealed before it is stored. Every write is a new version (the store writes
//! the version row in the same transaction) and is audited, never with a secret in it.
//!
//! ```text
//! PUT /scenes/{code} {version, name?, config?}
//!   ── stale version ─────────────────────────────── 409 CONFLICT (constraint scenes_version)
//!   ── "***" ← the stored sealed secret of that field (none stored: 422)
//!   ── open secrets ─ SceneRules::from_config ─ bad: 422 field config.<path>
//!   ── same rules and name: 200, nothing written
//!   ── seal ─ update_scene_by(expected_version) ─ audit scene.update ─ 200 SceneView
//! ```

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::permission::Permission;
use super::session::AdminSession;
use super::{required_text, Paged, TenantPageQuery, TenantQuery};
use crate::error::{ApiError, ErrorCode};
use crate::scene_secrets::{self, SECRET_FIELDS};
use crate::scenes::{check_scene_code, masked_config, FallbackRules, SceneRules, SceneRulesError};
use crate::secrets::MasterKey;
use crate::server::AppState;
use crate::sessions::SessionService;
use crate::store::{
    NewScene, Scene, SceneId, SceneStatus, SceneUpdate, SceneVersion, StoreError, TenantId,
};

/// The longest scene name.
const MAX_NAME: usize = 128;
/// What a secret field shows, and what keeps the stored secret when sent back.
const MASK: &str = "***";

/// Registers `/scenes*`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/scenes", web::get().to(list))
        .route("/scenes", web::post().to(create))
        .route("/scenes/{code}", web::get().to(show))
        .route("/scenes/{code}", web::put().to(update))
        .route(
            "/scenes/{code}/disable",
            web::post().to(set_status::<false>),
        )
        .route("/scenes/{code}/enable", web::post().to(set_status::<true>))
        .route("/scenes/{code}/versions", web::get().to(versions))
        .route("/scenes/{code}/versions/{version}", web::get().to(version));
}

/// A scene in the list.
#[derive(Debug, Clone, Serialize)]
struct SceneSummary {
    id: SceneId,
    tenant_id: TenantId,
    code: String,
    name: String,
    version: i64,
    status: SceneStatus,
    /// The liveness modes (`["action"]` when the rules leave them to the default).
    modes: Value,
    /// `builtin`, `http`, or null when the scene does not compare.
    compare_engine: Value,
    updated_at: DateTime<Utc>,
}

impl From<&Scene> for SceneSummary {
    fn from(scene: &Scene) -> Self {
        Self {
            id: scene.id,
            tenant_id: scene.tenant_id,
            code: scene.code.clone(),
            name: scene.name.clone(),
            version: scene.version,
            status: scene.status,
            modes: scene
                .config
                .get("modes")
                .cloned()
                .unwrap_or_else(|| json!(["action"])),
            compare_engine: scene.config["compare"]["engine"].clone(),
            updated_at: scene.updated_at,
        }
    }
}

/// One scene with its rules, secrets masked.
#[derive(Debug, Clone, Serialize)]
struct SceneView {
    id: SceneId,
    tenant_id: TenantId,
    code: String,
    name: String,
    version: i64,
    status: SceneStatus,
    /// The rules as written, every secret `"***"`.
    config: Value,
    /// The fallback rules in force (defaults filled in); null when the stored rules no longer
    /// read (a scene written by a build with other rules).
    fallback: Option<FallbackRules>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// A version in the versions list.
#[derive(Debug, Clone, Serialize)]
struct VersionSummary {
    version: i64,
    name: String,
    created_by: Option<String>,
    created_at: DateTime<Utc>,
}

/// One version with its rules, secrets masked.
#[derive(Debug, Clone, Serialize)]
struct VersionView {
    scene_code: String,
    version: i64,
    name: String,
    config: Value,
    created_by: Option<String>,
    created_at: DateTime<Utc>,
}

impl VersionView {
    fn new(code: &str, v: SceneVersion) -> Self {
        Self {
            scene_code: code.to_owned(),
            version: v.version,
            name: v.name,
            config: masked_config(&v.config),
            created_by: v.created_by,
            created_at: v.created_at,
        }
    }
}

/// The rules of a stored config, its secrets opened (for checking and the fallback view).
fn rules_of(
    config: &Value,
    master: &MasterKey,
    sessions: &SessionService,
) -> Result<(Value, Result<SceneRules, SceneRulesError>), ApiError> {
    let opened = scene_secrets::open(config, master)
        .map_err(|err| ApiError::internal(format!("the scene's secrets: {err}")))?;
    let rules = SceneRules::from_config(&opened, sessions.thresholds());
    Ok((opened, rules))
}

fn view(scene: Scene, master: &MasterKey, sessions: &SessionService) -> SceneView {
    // A scene that cannot be read still shows (as stored, masked), so it can be fixed.
    let fallback = rules_of(&scene.config, master, sessions)
        .ok()
        .and_then(|(_, rules)| rules.ok())
        .map(|rules| rules.fallback);
    SceneView {
        id: scene.id,
        tenant_id: scene.tenant_id,
        code: scene.code,
        name: scene.name,
        version: scene.version,
        status: scene.status,
        config: masked_config(&scene.config),
        fallback,
        created_at: scene.created_at,
        updated_at: scene.updated_at,
    }
}

/// `422` naming where in the request a rule broke: `config.actions.count`.
fn rule_error(err: SceneRulesError) -> ApiError {
    let field = if err.path.is_empty() {
        "config".to_owned()
    } else {
        format!("config.{}", err.path)
    };
    // The reason quotes only what the client sent, never a stored secret.
    ApiError::new(ErrorCode::ValidationFailed).with_detail(json!({
        "field": field,
        "path": err.path,
        "reason": err.reason,
    }))
}

/// A JSON pointer as a field name: `/callback/secret` → `config.callback.secret`.
fn pointer_field(pointer: &str) -> String {
    format!("config{}", pointer.replace('/', "."))
}

/// The config sent, with every `"***"` secret replaced by the stored (sealed) secret of the
/// same field. A `"***"` where nothing is stored, or a value that poses as a sealed one, is 422.
fn keep_stored_secrets(sent: &Value, stored: Option<&Value>) -> Result<Value, ApiError> {
    let mut config = sent.clone();
    for pointer in SECRET_FIELDS {
        let Some(Value::String(text)) = config.pointer_mut(pointer) else {
            continue;
        };
        if text == MASK {
            match stored.and_then(|s| s.pointer(pointer)) {
                Some(Value::String(kept)) => *text = kept.clone(),
                _ => {
                    return Err(super::invalid(
                        &pointer_field(pointer),
                        "\"***\" keeps the stored secret, and this scene has none here",
                    ))
                }
            }
        } else if text.starts_with("sealed:") {
            // Only the server seals; a sealed-looking value from a client is refused rather than
            // stored as if it were one of ours.
            return Err(super::invalid(
                &pointer_field(pointer),
                "not a secret value",
            ));
        }
    }
    Ok(config)
}

/// Checks a config sent by a client against the stored one: the config to store (sealed) and
/// the opened rules JSON (for the unchanged check).
fn checked_config(
    sent: &Value,
    stored: Option<&Value>,
    master: &MasterKey,
    sessions: &SessionService,
) -> Result<(Value, Value), ApiError> {
    let merged = keep_stored_secrets(sent, stored)?;
    let (opened, rules) = rules_of(&merged, master, sessions)?;
    rules.map_err(rule_error)?;
    let sealed = scene_secrets::seal(&merged, master).map_err(ApiError::internal)?;
    Ok((sealed, opened))
}

fn conflict(err: StoreError, field: &str) -> ApiError {
    match err {
        StoreError::Conflict { constraint } => ApiError::new(ErrorCode::Conflict)
            .with_detail(json!({ "field": field, "constraint": constraint })),
        other => other.into(),
    }
}

async fn list(
    session: AdminSession,
    state: web::Data<AppState>,
    query: web::Query<TenantPageQuery>,
) -> Result<HttpResponse, ApiError> {
    session.require(Permission::ScenesRead)?;
    let tenant = session.tenant_scope(query.tenant.tenant)?;
    let page = query.page.page()?;
    let scenes: Vec<SceneSummary> = state
        .store
        .list_scenes(tenant)
        .await?
        .iter()
        .map(SceneSummary::from)
        .collect();
    Ok(HttpResponse::Ok().json(Paged::slice(scenes, page)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateScene {
    code: String,
    name: Option<String>,
    #[serde(default = "empty_object")]
    config: Value,
    tenant: Option<TenantId>,
}

fn empty_object() -> Value {
    json!({})
}

async fn create(
    session: AdminSession,
    state: web::Data<AppState>,
    master: web::Data<MasterKey>,
    sessions: web::Data<SessionService>,
    body: web::Json<CreateScene>,
) -> Result<HttpResponse, ApiError> {
    session.require(Permission::ScenesWrite)?;
    let body = body.into_inner();
    let tenant = session.tenant_scope(body.tenant)?;
    check_scene_code(&body.code).map_err(|err| super::invalid("code", &err.reason))?;
    let name = match &body.name {
        Some(name) => required_text("name", name, MAX_NAME)?,
        None => body.code.clone(),
    };
    let (config, _) = checked_config(&body.config, None, &master, &sessions)?;
    let store = state.store.as_ref();
    let scene = store
        .create_scene_by(
            tenant,
            &NewScene {
                code: body.code,
                name,
                config,
            },
            Some(&session.username),
        )
        .await
        .map_err(|err| conflict(err, "code"))?;
    session
        .audit_in(
            store,
            tenant,
            "scene.create",
            &scene.code,
            json!({ "name": scene.name, "version": scene.version }),
        )
        .await?;
    Ok(HttpResponse::Created().json(view(scene, &master, &sessions)))
}

async fn show(
    session: AdminSession,
    state: web::Data<AppState>,
    master: web::Data<MasterKey>,
    sessions: web::Data<SessionService>,
    code: web::Path<String>,
    query: web::Query<TenantQuery>,
) -> Result<HttpResponse, ApiError> {
    session.require(Permission::ScenesRead)?;
    let tenant = session.tenant_scope(query.tenant)?;
    let scene = state.store.scene_by_code(tenant, &code).await?;
    Ok(HttpResponse::Ok().json(view(scene, &master, &sessions)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateScene {
    /// The version the edit was made on.
    version: i64,
    name: Option<String>,
    config: Option<Value>,
}

async fn update(
    session: AdminSession,
    state: web::Data<AppState>,
    master: web::Data<MasterKey>,
    sessions: web::Data<SessionService>,
    code: web::Path<String>,
    query: web::Query<TenantQuery>,
    body: web::Json<UpdateScene>,
) -> Result<HttpResponse, ApiError> {
    session.require(Permission::ScenesWrite)?;
    let tenant = session.tenant_scope(query.tenant)?;
    let body = body.into_inner();
    let store = state.store.as_ref();
    let current = store.scene_by_code(tenant, &code).await?;
    let stale = || {
        ApiError::new(ErrorCode::Conflict).with_detail(json!({
            "field": "version",
            "constraint": "scenes_version",
            "current_version": current.version,
        }))
    };
    if body.version != current.version {
        return Err(stale());
    }
    let name = body
        .name
        .as_deref()
        .map(|name| required_text("name", name, MAX_NAME))
        .transpose()?;
    let (config, changed) = match &body.config {
        Some(sent) => {
            let (sealed, opened) = checked_config(sent, Some(&current.config), &master, &sessions)?;
            let (before, _) = rules_of(&current.config, &master, &sessions)?;
            (Some(sealed), changed_fields(&before, &opened))
        }
        None => (None, Vec::new()),
    };
    let renamed = name.as_ref().is_some_and(|n| *n != current.name);
    if changed.is_empty() && !renamed {
        // Nothing to change: no new version, nothing to audit.
        return Ok(HttpResponse::Ok().json(view(current, &master, &sessions)));
    }
    let scene = store
        .update_scene_by(
            tenant,
            &code,
            &SceneUpdate {
                name,
                config,
                expected_version: Some(body.version),
            },
            Some(&session.username),
        )
        .await
        .map_err(|err| match err {
            StoreError::Conflict { .. } => stale(),
            other => other.into(),
        })?;
    session
        .audit_in(
            store,
            tenant,
            "scene.update",
            &scene.code,
            // Which top-level rules changed, never their values (a secret may be one).
            json!({ "version": scene.version, "renamed": renamed, "changed": changed }),
        )
        .await?;
    Ok(HttpResponse::Ok().json(view(scene, &master, &sessions)))
}

/// The top-level fields of the rules that differ (added, removed or changed), by name.
fn changed_fields(before: &Value, after: &Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let before = before.as_object().unwrap_or(&empty);
    let after = after.as_object().unwrap_or(&empty);
    let mut names: Vec<String> = before
        .keys()
        .chain(after.keys())
        .filter(|key| before.get(*key) != after.get(*key))
        .cloned()
        .collect();
    names.sort();
    names.dedup();
    names
}

/// `POST /scenes/{code}/enable` (`ACTIVE`) and `/disable`.
async fn set_status<const ACTIVE: bool>(
    session: AdminSession,
    state: web::Data<AppState>,
    master: web::Data<MasterKey>,
    sessions: web::Data<SessionService>,
    code: web::Path<String>,
    query: web::Query<TenantQuery>,
) -> Result<HttpResponse, ApiError> {
    session.require(Permission::ScenesWrite)?;
    let tenant = session.tenant_scope(query.tenant)?;
    let (status, action) = if ACTIVE {
        (SceneStatus::Active, "scene.enable")
    } else {
        (SceneStatus::Disabled, "scene.disable")
    };
    let store = state.store.as_ref();
    let scene = store.set_scene_status(tenant, &code, status).await?;
    session
        .audit_in(
            store,
            tenant,
            action,
            &scene.code,
            json!({ "version": scene.version }),
        )
        .await?;
    Ok(HttpResponse::Ok().json(view(scene, &master, &sessions)))
}

async fn versions(
    session: AdminSession,
    state: web::Data<AppState>,
    code: web::Path<String>,
    query: web::Query<TenantPageQuery>,
) -> Result<HttpResponse, ApiError> {
    session.require(Permission::ScenesRead)?;
    let tenant = session.tenant_scope(query.tenant.tenant)?;
    let page = query.page.page()?;
    let versions: Vec<VersionSummary> = state
        .store
        .scene_versions(tenant, &code)
        .await?
        .into_iter()
        .map(|v| VersionSummary {
            version: v.version,
            name: v.name,
            created_by: v.created_by,
            created_at: v.created_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(Paged::slice(versions, page)))
}

async fn version(
    session: AdminSession,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    query: web::Query<TenantQuery>,
) -> Result<HttpResponse, ApiError> {
    session.require(Permission::ScenesRead)?;
    let tenant = session.tenant_scope(query.tenant)?;
    let (code, number) = path.into_inner();
    // Not a version number: no such version (not a 400: the path names a thing).
    let number: i64 = number.parse().map_err(|_| {
        ApiError::from(StoreError::NotFound {
            entity: "scene_version",
        })
    })?;
    let found = state.store.scene_version(tenant, &code, number).await?;
    Ok(HttpResponse::Ok().json(VersionView::new(&code, found)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_masked_secret_keeps_the_stored_one_and_needs_one_stored() {
        let stored = json!({"callback": {"url": "https://b.example/", "secret": "sealed:v1:abc"}});
        let sent =
            json!({"retries": 1, "callback": {"url": "https://b.example/x", "secret": "***"}});
        let kept = keep_stored_secrets(&sent, Some(&stored)).expect("kept");
        assert_eq!(kept["callback"]["secret"], "sealed:v1:abc");
        assert_eq!(kept["callback"]["url"], "https://b.example/x");
        let new = json!({"callback": {"url": "https://b.example/", "secret": "0123456789abcdef"}});
        assert_eq!(keep_stored_secrets(&new, Some(&stored)).expect("new"), new);

        let err = keep_stored_secrets(&sent, None).expect_err("nothing stored");
        assert_eq!(err.code(), ErrorCode::ValidationFailed);
        assert_eq!(
            err.detail().expect("detail")["field"],
            "config.callback.secret"
        );
        let posing = json!({"callback": {"url": "https://b.example/", "secret": "sealed:v1:zzz"}});
        assert!(keep_stored_secrets(&posing, Some(&stored)).is_err());
    }

    #[test]
    fn rule_errors_name_the_config_path() {
        let err = rule_error(SceneRulesError {
            path: "actions.count".into(),
            reason: "must be between 1 and 6 (got 9)".into(),
        });
        assert_eq!(err.code(), ErrorCode::ValidationFailed);
        assert_eq!(
            err.detail().expect("detail")["field"],
            "config.actions.count"
        );
    }

    #[test]
    fn changed_fields_are_names_only() {
        let before = json!({"retries": 1, "callback": {"secret": "a"}, "modes": ["action"]});
        let after = json!({"retries": 2, "callback": {"secret": "b"}, "capture": {}});
        assert_eq!(
            changed_fields(&before, &after),
            vec!["callback", "capture", "modes", "retries"]
        );
        assert!(changed_fields(&before, &before).is_empty());
    }
}
