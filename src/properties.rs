//! System properties: typed settings an operator changes at run time from the console.
//!
//! What each property is (its kind, bounds, default and description) is defined here, in
//! [`PROPERTIES`]; the store keeps only the values an operator set (`store::system`). A key
//! without a stored value, or whose stored value no longer fits its definition (a later build
//! narrowed it), has its default. Properties are system-wide and never hold a secret: secrets
//! belong in the configuration or sealed under the master key.
//!
//! ```text
//! PUT /admin/api/v1/system/properties/{key} ─ definition(key) ─ validate ─ store.set_system_property
//! readers ─ SystemProperties::load(store) ─ .int(key) / .duration(key) / .bool(key) / .text(key)
//! ```

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::store::system::StoredProperty;
use crate::store::{Store, StoreError};

/// The type of a property's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PropertyKind {
    /// A whole number (JSON number).
    Int,
    /// `true` or `false`.
    Bool,
    /// Text (JSON string).
    String,
    /// A whole number of seconds (JSON number).
    DurationS,
}

/// A property's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertyDefault {
    /// For `Int` and `DurationS`.
    Int(i64),
    /// For `Bool`.
    Bool(bool),
    /// For `String`.
    Text(&'static str),
}

impl PropertyDefault {
    /// As JSON.
    pub fn to_json(self) -> Value {
        match self {
            PropertyDefault::Int(n) => Value::from(n),
            PropertyDefault::Bool(b) => Value::Bool(b),
            PropertyDefault::Text(s) => Value::from(s),
        }
    }
}

/// What a property is: the code's definition, against which every value is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PropertyDef {
    /// Its key, `area.name` (`admin.session_idle_timeout_s`).
    pub key: &'static str,
    /// The type of its value.
    pub kind: PropertyKind,
    /// Smallest value (`Int`, `DurationS`).
    pub min: Option<i64>,
    /// Largest value (`Int`, `DurationS`).
    pub max: Option<i64>,
    /// The only values allowed (`String`), empty when any text up to `max_chars` is.
    pub allowed: &'static [&'static str],
    /// Longest text, in characters (`String`).
    pub max_chars: usize,
    /// Its value when none is set.
    pub default: PropertyDefault,
    /// Short name, zh-CN.
    pub name_zh: &'static str,
    /// Short name, English.
    pub name_en: &'static str,
    /// What it does, zh-CN.
    pub description_zh: &'static str,
    /// What it does, English (and who reads it).
    pub description_en: &'static str,
}

const fn int(
    key: &'static str,
    kind: PropertyKind,
    (min, max, default): (i64, i64, i64),
    names: (&'static str, &'static str),
    descriptions: (&'static str, &'static str),
) -> PropertyDef {
    PropertyDef {
        key,
        kind,
        min: Some(min),
        max: Some(max),
        allowed: &[],
        max_chars: 0,
        default: PropertyDefault::Int(default),
        name_zh: names.0,
        name_en: names.1,
        description_zh: descriptions.0,
        description_en: descriptions.1,
    }
}

/// Every property this build knows, by key.
pub const PROPERTIES: &[PropertyDef] = &[
    int(
        "admin.login_lock_duration_s",
        PropertyKind::DurationS,
        (60, 86_400, 900),
        ("登录锁定时长", "Login lock duration"),
        (
            "连续登录失败达到阈值后，账号被锁定的时长（秒）",
            "How long an account stays locked after too many failed logins (seconds)",
        ),
    ),
    int(
        "admin.login_lock_threshold",
        PropertyKind::Int,
        (3, 20, 5),
        ("登录失败锁定阈值", "Login lock threshold"),
        (
            "15 分钟内连续登录失败多少次后锁定账号",
            "Failed logins within 15 minutes that lock the account",
        ),
    ),
    int(
        "admin.session_absolute_timeout_s",
        PropertyKind::DurationS,
        (3_600, 604_800, 86_400),
        ("管理台会话最长时长", "Console session absolute timeout"),
        (
            "管理台登录会话从登录起最长有效时长（秒）",
            "Longest a console session lasts from login, active or not (seconds)",
        ),
    ),
    int(
        "admin.session_idle_timeout_s",
        PropertyKind::DurationS,
        (300, 86_400, 28_800),
        ("管理台会话空闲超时", "Console session idle timeout"),
        (
            "管理台会话无操作多久后失效（秒）",
            "Idle time after which a console session ends (seconds)",
        ),
    ),
    PropertyDef {
        key: "console.default_language",
        kind: PropertyKind::String,
        min: None,
        max: None,
        allowed: &["zh-CN", "en"],
        max_chars: 8,
        default: PropertyDefault::Text("zh-CN"),
        name_zh: "管理台默认语言",
        name_en: "Console default language",
        description_zh: "用户未选择语言时管理台使用的语言",
        description_en: "The console's language until a user picks one",
    },
    PropertyDef {
        key: "console.evidence_watermark",
        kind: PropertyKind::Bool,
        min: None,
        max: None,
        allowed: &[],
        max_chars: 0,
        default: PropertyDefault::Bool(true),
        name_zh: "证据图片水印",
        name_en: "Evidence watermark",
        description_zh: "查看证据图片时叠加当前用户名水印",
        description_en: "Overlay the viewer's username on evidence images in the console",
    },
    PropertyDef {
        key: "console.site_title",
        kind: PropertyKind::String,
        min: None,
        max: None,
        allowed: &[],
        max_chars: 64,
        default: PropertyDefault::Text("Livegate 活体检测平台"),
        name_zh: "管理台标题",
        name_en: "Console title",
        description_zh: "管理台页面标题与登录页显示的名称",
        description_en: "The name shown in the console's title bar and login page",
    },
    int(
        "evidence.default_retention_days",
        PropertyKind::Int,
        (1, 3_650, 180),
        ("默认证据保留天数", "Default evidence retention"),
        (
            "新建场景时证据图片的默认保留天数",
            "Days a new scene keeps evidence frames unless it says otherwise",
        ),
    ),
    int(
        "jobs.backup_keep",
        PropertyKind::Int,
        (1, 365, 7),
        ("保留备份份数", "Backups kept"),
        (
            "备份任务保留的最近备份文件数，更早的自动删除",
            "How many of the newest backup files the backup job keeps; older ones are deleted",
        ),
    ),
    int(
        "jobs.cron_utc_offset_min",
        PropertyKind::Int,
        (-720, 840, 480),
        ("定时任务时区偏移", "Job schedule time zone"),
        (
            "解释 cron 表达式所用时区相对 UTC 的偏移（分钟，北京时间为 480）",
            "Offset from UTC, in minutes, of the zone cron expressions are read in (480: China)",
        ),
    ),
    int(
        "jobs.runs_keep",
        PropertyKind::Int,
        (10, 10_000, 200),
        ("保留执行记录条数", "Runs kept per job"),
        (
            "每个定时任务保留的最近执行记录条数",
            "How many of its newest runs each job keeps in its history",
        ),
    ),
    int(
        "records.export_max_rows",
        PropertyKind::Int,
        (1_000, 1_000_000, 100_000),
        ("记录导出行数上限", "Records export row cap"),
        (
            "一次导出识别记录的最大行数",
            "The most rows one records export may hold",
        ),
    ),
    int(
        "stats.rollup_retention_days",
        PropertyKind::Int,
        (7, 3_650, 400),
        ("统计汇总保留天数", "Statistics roll-up retention"),
        (
            "调用统计汇总数据保留的天数",
            "Days the statistics roll-ups are kept",
        ),
    ),
];

/// The definition of a key.
pub fn definition(key: &str) -> Option<&'static PropertyDef> {
    PROPERTIES.iter().find(|def| def.key == key)
}

/// Why a value does not fit its definition; `reason` quotes only the value's shape and the
/// definition's bounds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct PropertyError {
    /// What is wrong, in English.
    pub reason: String,
}

fn refuse(reason: impl Into<String>) -> PropertyError {
    PropertyError {
        reason: reason.into(),
    }
}

impl PropertyDef {
    /// Checks `value` against the definition; returns it as it is to be stored.
    pub fn validate(&self, value: &Value) -> Result<Value, PropertyError> {
        match self.kind {
            PropertyKind::Int | PropertyKind::DurationS => {
                let n = value
                    .as_i64()
                    .ok_or_else(|| refuse("must be a whole number"))?;
                if let Some(min) = self.min.filter(|min| n < *min) {
                    return Err(refuse(format!("must be at least {min} (got {n})")));
                }
                if let Some(max) = self.max.filter(|max| n > *max) {
                    return Err(refuse(format!("must be at most {max} (got {n})")));
                }
                Ok(Value::from(n))
            }
            PropertyKind::Bool => value
                .as_bool()
                .map(Value::Bool)
                .ok_or_else(|| refuse("must be true or false")),
            PropertyKind::String => {
                let text = value.as_str().ok_or_else(|| refuse("must be a string"))?;
                if !self.allowed.is_empty() && !self.allowed.contains(&text) {
                    return Err(refuse(format!("must be one of {:?}", self.allowed)));
                }
                let chars = text.chars().count();
                if chars > self.max_chars {
                    return Err(refuse(format!(
                        "must be at most {} characters (got {chars})",
                        self.max_chars
                    )));
                }
                if text.trim().is_empty() {
                    return Err(refuse("must not be empty"));
                }
                if text.chars().any(char::is_control) {
                    return Err(refuse("must not hold control characters"));
                }
                Ok(Value::from(text))
            }
        }
    }
}

/// The effective value of every property: what an operator set where it fits its definition,
/// else the default.
#[derive(Debug, Clone, Default)]
pub struct SystemProperties {
    set: HashMap<&'static str, StoredProperty>,
}

impl SystemProperties {
    /// Reads the stored values (one query).
    pub async fn load(store: &dyn Store) -> Result<Self, StoreError> {
        Ok(Self::from_stored(store.system_properties().await?))
    }

    /// Builds from stored rows; rows of unknown keys, or that no longer fit, are left out.
    pub fn from_stored(rows: Vec<StoredProperty>) -> Self {
        let mut set = HashMap::new();
        for row in rows {
            let Some(def) = definition(&row.key) else {
                continue;
            };
            if def.validate(&row.value).is_err() {
                tracing::warn!(
                    key = def.key,
                    "stored property no longer fits, default used"
                );
                continue;
            }
            set.insert(def.key, row);
        }
        Self { set }
    }

    /// The value an operator set, if it is in force.
    pub fn stored(&self, key: &str) -> Option<&StoredProperty> {
        self.set.get(key)
    }

    /// The effective value of a known key (`Null` for an unknown one).
    pub fn value(&self, key: &str) -> Value {
        match (self.set.get(key), definition(key)) {
            (Some(row), _) => row.value.clone(),
            (None, Some(def)) => def.default.to_json(),
            (None, None) => Value::Null,
        }
    }

    /// An `Int` or `DurationS` property (0 for an unknown key or another kind).
    pub fn int(&self, key: &str) -> i64 {
        self.value(key).as_i64().unwrap_or(0)
    }

    /// A `DurationS` property.
    pub fn duration(&self, key: &str) -> Duration {
        Duration::from_secs(u64::try_from(self.int(key)).unwrap_or(0))
    }

    /// A `Bool` property (`false` for an unknown key).
    pub fn bool(&self, key: &str) -> bool {
        self.value(key).as_bool().unwrap_or(false)
    }

    /// A `String` property (empty for an unknown key).
    pub fn text(&self, key: &str) -> String {
        self.value(key).as_str().unwrap_or_default().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;

    use super::*;

    #[test]
    fn keys_are_unique_sorted_and_every_default_fits_its_definition() {
        let keys: Vec<&str> = PROPERTIES.iter().map(|d| d.key).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(keys, sorted);
        for def in PROPERTIES {
            assert_eq!(
                def.validate(&def.default.to_json()),
                Ok(def.default.to_json()),
                "{}",
                def.key
            );
        }
    }

    #[test]
    fn values_are_checked_against_kind_bounds_and_allowed_values() {
        let idle = definition("admin.session_idle_timeout_s").expect("defined");
        assert_eq!(idle.validate(&json!(600)), Ok(json!(600)));
        assert_eq!(
            idle.validate(&json!(10)).expect_err("too small").reason,
            "must be at least 300 (got 10)"
        );
        assert!(idle.validate(&json!("600")).is_err());
        assert!(idle.validate(&json!(600.5)).is_err());
        let language = definition("console.default_language").expect("defined");
        assert!(language.validate(&json!("en")).is_ok());
        assert!(language.validate(&json!("fr")).is_err());
        let title = definition("console.site_title").expect("defined");
        assert!(title.validate(&json!("农信活体检测")).is_ok());
        assert!(title.validate(&json!("x".repeat(65))).is_err());
        assert!(title.validate(&json!("  ")).is_err());
        assert!(title.validate(&json!("a\u{7}b")).is_err());
        let watermark = definition("console.evidence_watermark").expect("defined");
        assert!(watermark.validate(&json!(1)).is_err());
        assert_eq!(watermark.validate(&json!(false)), Ok(json!(false)));
    }

    #[test]
    fn a_stored_value_that_no_longer_fits_gives_way_to_the_default() {
        let row = |key: &str, value: Value| StoredProperty {
            key: key.into(),
            value,
            updated_by: "admin".into(),
            updated_at: Utc::now(),
        };
        let props = SystemProperties::from_stored(vec![
            row("jobs.backup_keep", json!(3)),
            row("records.export_max_rows", json!(5)),
            row("retired.key", json!(1)),
        ]);
        assert_eq!(props.int("jobs.backup_keep"), 3);
        assert_eq!(props.int("records.export_max_rows"), 100_000);
        assert_eq!(
            props.duration("admin.session_idle_timeout_s"),
            Duration::from_secs(28_800)
        );
        assert!(props.bool("console.evidence_watermark"));
        assert_eq!(props.text("console.default_language"), "zh-CN");
        assert_eq!(props.value("retired.key"), Value::Null);
    }
}
