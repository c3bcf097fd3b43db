//! `/system/properties` and `/dict/...`: system properties and the data dictionary.
//!
//! Both are system-wide (`store::system`): reading properties takes `system:read`; reading the
//! dictionary only a session (every page's drop-downs use it); every change takes
//! `system:write` and a user of the top tenant (a bank's administrator must not change what
//! every tenant sees: `403`, `detail.reason = "system_wide"`). Every change is audited with the
//! old and the new value; properties hold no secret.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::permission::Permission;
use super::session::AdminSession;
use super::{invalid, required_text, PageQuery, Paged};
use crate::error::{ApiError, ErrorCode};
use crate::properties::{definition, PropertyDef, PropertyKind, SystemProperties, PROPERTIES};
use crate::server::AppState;
use crate::store::system::{DictItemUpdate, DictStatus, NewDictItem, NewDictType};
use crate::store::{Store, StoreError};

/// The longest dictionary type code or entry value.
const MAX_CODE: usize = 64;
/// The longest label or name.
const MAX_LABEL: usize = 64;
/// Sort positions allowed.
const SORT_RANGE: std::ops::RangeInclusive<i32> = -100_000..=100_000;

/// Registers `/system/properties` and `/dict/...`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/system/properties", web::get().to(list_properties))
        .route("/system/properties/{key}", web::put().to(set_property))
        .route("/dict/types", web::get().to(list_types))
        .route("/dict/types", web::post().to(create_type))
        .route("/dict/types/{type}/data", web::get().to(list_items))
        .route("/dict/types/{type}/data", web::post().to(create_item))
        .route("/dict/types/{type}/data/{id}", web::put().to(update_item))
        .route(
            "/dict/types/{type}/data/{id}",
            web::delete().to(delete_item),
        );
}

/// `Ok` when the user may change system-wide settings: `permission` and a user of a top tenant
/// (one with no parent).
pub async fn require_system_wide(
    session: &AdminSession,
    store: &dyn Store,
    permission: Permission,
) -> Result<(), ApiError> {
    session.require(permission)?;
    let tenant = store.tenant(session.tenant).await?;
    if tenant.parent_id.is_some() {
        return Err(ApiError::new(ErrorCode::Forbidden).with_detail(json!({
            "permission": permission.as_str(),
            "reason": "system_wide",
        })));
    }
    Ok(())
}

/// A property as the console shows it: the definition, the effective value, who set it.
#[derive(Debug, Serialize)]
struct PropertyView {
    key: &'static str,
    kind: PropertyKind,
    value: Value,
    default: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    min: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max: Option<i64>,
    #[serde(skip_serializing_if = "no_values")]
    allowed: &'static [&'static str],
    #[serde(skip_serializing_if = "Option::is_none")]
    max_chars: Option<usize>,
    name_zh: &'static str,
    name_en: &'static str,
    description_zh: &'static str,
    description_en: &'static str,
    /// `None` while the default is in force.
    updated_by: Option<String>,
    updated_at: Option<DateTime<Utc>>,
}

fn no_values(list: &&'static [&'static str]) -> bool {
    list.is_empty()
}

fn view(def: &'static PropertyDef, props: &SystemProperties) -> PropertyView {
    let stored = props.stored(def.key);
    PropertyView {
        key: def.key,
        kind: def.kind,
        value: props.value(def.key),
        default: def.default.to_json(),
        min: def.min,
        max: def.max,
        allowed: def.allowed,
        max_chars: (def.kind == PropertyKind::String).then_some(def.max_chars),
        name_zh: def.name_zh,
        name_en: def.name_en,
        description_zh: def.description_zh,
        description_en: def.description_en,
        updated_by: stored.map(|s| s.updated_by.clone()),
        updated_at: stored.map(|s| s.updated_at),
    }
}

async fn list_properties(
    session: AdminSession,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    session.require(Permission::SystemRead)?;
    let page = query.into_inner().page()?;
    let props = SystemProperties::load(state.store.as_ref()).await?;
    let all: Vec<PropertyView> = PROPERTIES.iter().map(|def| view(def, &props)).collect();
    Ok(HttpResponse::Ok().json(Paged::slice(all, page)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetProperty {
    value: Value,
}

async fn set_property(
    session: AdminSession,
    state: web::Data<AppState>,
    key: web::Path<String>,
    body: web::Json<SetProperty>,
) -> Result<HttpResponse, ApiError> {
    let store = state.store.as_ref();
    require_system_wide(&session, store, Permission::SystemWrite).await?;
    let def = definition(&key).ok_or_else(|| {
        ApiError::new(ErrorCode::NotFound).with_detail(json!({ "entity": "property" }))
    })?;
    let value = def
        .validate(&body.value)
        .map_err(|err| invalid("value", &err.reason))?;
    let before = SystemProperties::load(store).await?.value(def.key);
    store
        .set_system_property(def.key, &value, &session.username)
        .await?;
    session
        .audit(
            store,
            "property.update",
            def.key,
            json!({ "old": before, "new": value }),
        )
        .await?;
    let props = SystemProperties::load(store).await?;
    Ok(HttpResponse::Ok().json(view(def, &props)))
}

async fn list_types(
    _session: AdminSession,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.into_inner().page()?;
    let types = state.store.dict_types().await?;
    Ok(HttpResponse::Ok().json(Paged::slice(types, page)))
}

/// A code or value: 1 to 64 of `a-z A-Z 0-9 _ - . :` (what records and the APIs carry).
fn check_code(field: &str, text: &str) -> Result<String, ApiError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_CODE {
        return Err(invalid(
            field,
            &format!("must be 1 to {MAX_CODE} characters"),
        ));
    }
    if !text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
    {
        return Err(invalid(
            field,
            "may hold only letters, digits, '_', '-', '.' and ':'",
        ));
    }
    Ok(text.to_owned())
}

fn check_label(field: &str, text: &str) -> Result<String, ApiError> {
    let text = required_text(field, text, MAX_LABEL)?;
    if text.chars().any(char::is_control) {
        return Err(invalid(field, "must not hold control characters"));
    }
    Ok(text)
}

fn check_sort(sort: i32) -> Result<i32, ApiError> {
    if SORT_RANGE.contains(&sort) {
        Ok(sort)
    } else {
        Err(invalid(
            "sort",
            &format!(
                "must be between {} and {}",
                SORT_RANGE.start(),
                SORT_RANGE.end()
            ),
        ))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateType {
    code: String,
    name_zh: String,
    name_en: String,
}

async fn create_type(
    session: AdminSession,
    state: web::Data<AppState>,
    body: web::Json<CreateType>,
) -> Result<HttpResponse, ApiError> {
    let store = state.store.as_ref();
    require_system_wide(&session, store, Permission::SystemWrite).await?;
    let new = NewDictType {
        code: check_code("code", &body.code)?,
        name_zh: check_label("name_zh", &body.name_zh)?,
        name_en: check_label("name_en", &body.name_en)?,
    };
    let created = store.create_dict_type(&new, false).await?;
    session
        .audit(
            store,
            "dict_type.create",
            &created.code,
            json!({ "name_zh": created.name_zh, "name_en": created.name_en }),
        )
        .await?;
    Ok(HttpResponse::Created().json(created))
}

#[derive(Deserialize)]
struct ItemsQuery {
    /// Only entries with this status (`enabled` for a drop-down).
    status: Option<DictStatus>,
    #[serde(flatten)]
    page: PageQuery,
}

async fn list_items(
    _session: AdminSession,
    state: web::Data<AppState>,
    type_code: web::Path<String>,
    query: web::Query<ItemsQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let page = query.page.page()?;
    let items: Vec<_> = state
        .store
        .dict_data(&type_code)
        .await?
        .into_iter()
        .filter(|item| query.status.is_none_or(|s| item.status == s))
        .collect();
    Ok(HttpResponse::Ok().json(Paged::slice(items, page)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateItem {
    value: String,
    label_zh: String,
    label_en: String,
    #[serde(default)]
    sort: i32,
    #[serde(default = "enabled")]
    status: DictStatus,
}

fn enabled() -> DictStatus {
    DictStatus::Enabled
}

async fn create_item(
    session: AdminSession,
    state: web::Data<AppState>,
    type_code: web::Path<String>,
    body: web::Json<CreateItem>,
) -> Result<HttpResponse, ApiError> {
    let store = state.store.as_ref();
    require_system_wide(&session, store, Permission::SystemWrite).await?;
    let body = body.into_inner();
    let new = NewDictItem {
        value: check_code("value", &body.value)?,
        label_zh: check_label("label_zh", &body.label_zh)?,
        label_en: check_label("label_en", &body.label_en)?,
        sort: check_sort(body.sort)?,
        status: body.status,
    };
    let item = store.create_dict_item(&type_code, &new, false).await?;
    session
        .audit(
            store,
            "dict_item.create",
            format!("{}/{}", item.type_code, item.value),
            json!({ "id": item.id, "label_zh": item.label_zh, "label_en": item.label_en,
                    "sort": item.sort, "status": item.status }),
        )
        .await?;
    Ok(HttpResponse::Created().json(item))
}

/// A change to an entry; its value never changes (records hold it), so `value` is refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateItem {
    label_zh: Option<String>,
    label_en: Option<String>,
    sort: Option<i32>,
    status: Option<DictStatus>,
}

async fn update_item(
    session: AdminSession,
    state: web::Data<AppState>,
    path: web::Path<(String, Uuid)>,
    body: web::Json<UpdateItem>,
) -> Result<HttpResponse, ApiError> {
    let store = state.store.as_ref();
    require_system_wide(&session, store, Permission::SystemWrite).await?;
    let (type_code, id) = path.into_inner();
    let body = body.into_inner();
    let update = DictItemUpdate {
        label_zh: body
            .label_zh
            .map(|l| check_label("label_zh", &l))
            .transpose()?,
        label_en: body
            .label_en
            .map(|l| check_label("label_en", &l))
            .transpose()?,
        sort: body.sort.map(check_sort).transpose()?,
        status: body.status,
    };
    let before = item_of(store, &type_code, id).await?;
    let after = store.update_dict_item(&type_code, id, &update).await?;
    session
        .audit(
            store,
            "dict_item.update",
            format!("{}/{}", after.type_code, after.value),
            json!({
                "old": { "label_zh": before.label_zh, "label_en": before.label_en,
                         "sort": before.sort, "status": before.status },
                "new": { "label_zh": after.label_zh, "label_en": after.label_en,
                         "sort": after.sort, "status": after.status },
            }),
        )
        .await?;
    Ok(HttpResponse::Ok().json(after))
}

async fn item_of(
    store: &dyn Store,
    type_code: &str,
    id: Uuid,
) -> Result<crate::store::system::DictItem, ApiError> {
    store
        .dict_data(type_code)
        .await?
        .into_iter()
        .find(|item| item.id == id)
        .ok_or_else(|| {
            ApiError::from(StoreError::NotFound {
                entity: "dict_item",
            })
        })
}

async fn delete_item(
    session: AdminSession,
    state: web::Data<AppState>,
    path: web::Path<(String, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let store = state.store.as_ref();
    require_system_wide(&session, store, Permission::SystemWrite).await?;
    let (type_code, id) = path.into_inner();
    let deleted = store.delete_dict_item(&type_code, id).await?;
    session
        .audit(
            store,
            "dict_item.delete",
            format!("{}/{}", deleted.type_code, deleted.value),
            json!({ "id": deleted.id, "label_zh": deleted.label_zh, "label_en": deleted.label_en }),
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
