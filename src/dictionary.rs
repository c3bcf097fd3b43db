//! The data dictionary's built-in types and entries (字典类型 / 字典数据): the values records and
//! the APIs use, with zh-CN and English labels, feeding the console's drop-downs.
//!
//! [`seed_builtin`] runs at every node start: it adds the built-in types and entries a store
//! lacks and leaves the rest alone, so an operator's relabelling, reordering or disabling is
//! kept and a value added by a later build (a new reason code) appears by itself. Built-in rows
//! cannot be deleted (`store::system`).

use crate::store::system::{DictStatus, NewDictItem, NewDictType};
use crate::store::{Store, StoreError};

/// A built-in dictionary type and its entries: `(value, label_zh, label_en, enabled)`.
pub struct BuiltinType {
    /// Its code.
    pub code: &'static str,
    /// Name, zh-CN.
    pub name_zh: &'static str,
    /// Name, English.
    pub name_en: &'static str,
    /// Its entries in drop-down order.
    pub items: &'static [(&'static str, &'static str, &'static str, bool)],
}

/// Every built-in type, by code.
pub const BUILTIN: &[BuiltinType] = &[
    BuiltinType {
        code: "action",
        name_zh: "动作",
        name_en: "Action",
        items: &[
            ("blink", "眨眼", "Blink", true),
            ("mouth_open", "张嘴", "Open mouth", true),
            ("turn_left", "向左转头", "Turn left", true),
            ("turn_right", "向右转头", "Turn right", true),
            ("nod", "点头", "Nod", true),
            ("raise_head", "抬头", "Raise head", true),
        ],
    },
    BuiltinType {
        code: "callback_status",
        name_zh: "回调状态",
        name_en: "Callback status",
        items: &[
            ("pending", "待发送", "Pending", true),
            ("delivered", "已送达", "Delivered", true),
            ("failed", "发送失败", "Failed", true),
        ],
    },
    BuiltinType {
        code: "capture",
        name_zh: "采集方式",
        name_en: "Capture",
        items: &[
            ("live", "实时视频", "Real time", true),
            ("recording", "录制视频", "Recorded video", true),
        ],
    },
    BuiltinType {
        code: "job_run_status",
        name_zh: "任务执行状态",
        name_en: "Job run status",
        items: &[
            ("running", "执行中", "Running", true),
            ("ok", "成功", "Succeeded", true),
            ("failed", "失败", "Failed", true),
        ],
    },
    BuiltinType {
        code: "liveness_mode",
        name_zh: "活体检测方式",
        name_en: "Liveness mode",
        // Scenes accept only `action` today (`scenes.rs`); the others are listed disabled so
        // the console can show the fallback order they will take.
        items: &[
            ("action", "动作活体", "Action", true),
            ("silent", "静默活体", "Silent", false),
            ("colour", "炫彩活体", "Colour", false),
        ],
    },
    BuiltinType {
        code: "reason",
        name_zh: "失败原因",
        name_en: "Failure reason",
        // The reason codes of results and records: the session actor's (`FailReason`), the
        // 1:1 compare's (`sessions/reference.rs`) and the expiry sweep's.
        items: &[
            (
                "timeout",
                "未在规定时间内完成动作",
                "Actions not completed in time",
                true,
            ),
            (
                "face_changed",
                "检测到更换了人员",
                "A different person appeared",
                true,
            ),
            (
                "multiple_faces",
                "画面中有多张人脸",
                "Several faces in the picture",
                true,
            ),
            ("no_face", "未检测到人脸", "No face seen", true),
            ("engine_failure", "检测服务异常", "Engine failure", true),
            ("cancelled", "验证已取消", "Cancelled", true),
            (
                "limit_exceeded",
                "上传画面超出限制",
                "Upload limits exceeded",
                true,
            ),
            (
                "face_mismatch",
                "人脸比对不一致",
                "Face does not match the reference",
                true,
            ),
            (
                "compare_unavailable",
                "比对服务不可用",
                "Compare service unavailable",
                true,
            ),
            ("expired", "链接已过期", "Link expired", true),
        ],
    },
    BuiltinType {
        code: "record_status",
        name_zh: "记录状态",
        name_en: "Record status",
        items: &[
            ("pending", "待开始", "Pending", true),
            ("running", "进行中", "Running", true),
            ("finished", "已完成", "Finished", true),
            ("failed", "异常结束", "Failed", true),
            ("expired", "已过期", "Expired", true),
        ],
    },
    BuiltinType {
        code: "verdict",
        name_zh: "检测结论",
        name_en: "Verdict",
        items: &[
            ("pass", "通过", "Pass", true),
            ("fail", "不通过", "Fail", true),
            ("inconclusive", "无法判定", "Inconclusive", true),
        ],
    },
];

/// Adds the built-in types and entries the store lacks; returns how many rows it added.
/// Two nodes seeding at once both succeed: a row the other added first is skipped.
pub async fn seed_builtin(store: &dyn Store) -> Result<usize, StoreError> {
    let types = store.dict_types().await?;
    let mut added = 0;
    for builtin in BUILTIN {
        if !types.iter().any(|t| t.code == builtin.code) {
            let new = NewDictType {
                code: builtin.code.into(),
                name_zh: builtin.name_zh.into(),
                name_en: builtin.name_en.into(),
            };
            match store.create_dict_type(&new, true).await {
                Ok(_) => added += 1,
                Err(StoreError::Conflict { .. }) => {}
                Err(err) => return Err(err),
            }
        }
        let present = store.dict_data(builtin.code).await?;
        for (index, (value, label_zh, label_en, enabled)) in builtin.items.iter().enumerate() {
            if present.iter().any(|item| item.value == *value) {
                continue;
            }
            let new = NewDictItem {
                value: (*value).into(),
                label_zh: (*label_zh).into(),
                label_en: (*label_en).into(),
                sort: i32::try_from(index * 10).unwrap_or(i32::MAX),
                status: if *enabled {
                    DictStatus::Enabled
                } else {
                    DictStatus::Disabled
                },
            };
            match store.create_dict_item(builtin.code, &new, true).await {
                Ok(_) => added += 1,
                Err(StoreError::Conflict { .. }) => {}
                Err(err) => return Err(err),
            }
        }
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use livegate_actors::actions::ActionKind;
    use livegate_actors::session::FailReason;

    use super::*;
    use crate::store::{RecordStatus, Verdict};

    fn values(code: &str) -> Vec<&'static str> {
        BUILTIN
            .iter()
            .find(|t| t.code == code)
            .map(|t| t.items.iter().map(|i| i.0).collect())
            .unwrap_or_default()
    }

    #[test]
    fn the_dictionary_names_every_code_the_engine_and_the_store_use() {
        let reasons = values("reason");
        for reason in [
            FailReason::Timeout,
            FailReason::FaceChanged,
            FailReason::MultipleFaces,
            FailReason::NoFace,
            FailReason::EngineFailure,
            FailReason::Cancelled,
            FailReason::LimitExceeded,
        ] {
            assert!(reasons.contains(&reason.as_str()), "{}", reason.as_str());
        }
        for action in ActionKind::CHALLENGE {
            assert!(values("action").contains(&action.as_str()), "{action:?}");
        }
        for verdict in [Verdict::Pass, Verdict::Fail, Verdict::Inconclusive] {
            assert!(values("verdict").contains(&verdict.as_str()));
        }
        for status in [
            RecordStatus::Pending,
            RecordStatus::Running,
            RecordStatus::Finished,
            RecordStatus::Failed,
            RecordStatus::Expired,
        ] {
            assert!(values("record_status").contains(&status.as_str()));
        }
    }

    #[test]
    fn codes_and_values_are_unique() {
        let mut codes: Vec<&str> = BUILTIN.iter().map(|t| t.code).collect();
        codes.dedup();
        assert_eq!(codes.len(), BUILTIN.len());
        for t in BUILTIN {
            let mut v = values(t.code);
            v.sort_unstable();
            v.dedup();
            assert_eq!(v.len(), t.items.len(), "{}", t.code);
        }
    }
}
