//! What the page tells the person: prompt codes, their zh-CN / en texts, their priority.

use serde::{Deserialize, Serialize};

use crate::actions::ActionKind;
use crate::session::FailReason;

/// A prompt shown to the person, by code; the page looks texts up by code and language.
///
/// Declaration order is priority order: the first failing code is the one the page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PromptCode {
    /// No face in the frame.
    NoFace,
    /// More than one face in the frame.
    MultipleFaces,
    /// The person in front of the camera is not the one who started.
    FaceChanged,
    /// The face is too small in the frame.
    TooFar,
    /// The face fills too much of the frame.
    TooClose,
    /// The face is too far from the frame's centre.
    OffCenter,
    /// The face is too dark.
    TooDark,
    /// The face is overexposed.
    TooBright,
    /// A bright light behind the person darkens the face.
    Backlit,
    /// The face is not sharp.
    Blurry,
    /// Part of the face (eyes, nose or mouth) is covered.
    Occluded,
    /// The head is turned or tilted away from the camera.
    LookStraight,
    /// The person moves too fast for the camera.
    Slower,
    /// The person should keep still.
    HoldStill,
}

/// Language of the texts shown to the person.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Lang {
    /// Simplified Chinese (the default: the bank's customers).
    #[default]
    #[serde(rename = "zh-CN")]
    ZhCn,
    /// English.
    #[serde(rename = "en")]
    En,
}

/// A part of the face, for OCCLUDED prompts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FacePart {
    /// Both eyes (glasses glare, a hand, a mask pulled up).
    Eyes,
    /// The nose.
    Nose,
    /// The mouth (a mask, a hand).
    Mouth,
}

impl FacePart {
    /// The part's name in the given language.
    pub fn name(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (FacePart::Eyes, Lang::ZhCn) => "眼睛",
            (FacePart::Nose, Lang::ZhCn) => "鼻子",
            (FacePart::Mouth, Lang::ZhCn) => "嘴巴",
            (FacePart::Eyes, Lang::En) => "eyes",
            (FacePart::Nose, Lang::En) => "nose",
            (FacePart::Mouth, Lang::En) => "mouth",
        }
    }
}

/// Whether a prompt stops the session's progress or only advises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptWeight {
    /// No step may pass while this prompt is up.
    Blocking,
    /// Shown to help; steps still pass.
    Advisory,
}

impl PromptCode {
    /// Every code, in priority order.
    pub const ALL: [PromptCode; 14] = [
        PromptCode::NoFace,
        PromptCode::MultipleFaces,
        PromptCode::FaceChanged,
        PromptCode::TooFar,
        PromptCode::TooClose,
        PromptCode::OffCenter,
        PromptCode::TooDark,
        PromptCode::TooBright,
        PromptCode::Backlit,
        PromptCode::Blurry,
        PromptCode::Occluded,
        PromptCode::LookStraight,
        PromptCode::Slower,
        PromptCode::HoldStill,
    ];

    /// The code as the page and the JSON see it (`TOO_DARK`).
    pub fn as_str(self) -> &'static str {
        match self {
            PromptCode::NoFace => "NO_FACE",
            PromptCode::MultipleFaces => "MULTIPLE_FACES",
            PromptCode::FaceChanged => "FACE_CHANGED",
            PromptCode::TooFar => "TOO_FAR",
            PromptCode::TooClose => "TOO_CLOSE",
            PromptCode::OffCenter => "OFF_CENTER",
            PromptCode::TooDark => "TOO_DARK",
            PromptCode::TooBright => "TOO_BRIGHT",
            PromptCode::Backlit => "BACKLIT",
            PromptCode::Blurry => "BLURRY",
            PromptCode::Occluded => "OCCLUDED",
            PromptCode::LookStraight => "LOOK_STRAIGHT",
            PromptCode::Slower => "SLOWER",
            PromptCode::HoldStill => "HOLD_STILL",
        }
    }

    /// Whether this prompt blocks progress (someone else is there, or nobody is).
    pub fn weight(self) -> PromptWeight {
        match self {
            PromptCode::NoFace | PromptCode::MultipleFaces | PromptCode::FaceChanged => {
                PromptWeight::Blocking
            }
            _ => PromptWeight::Advisory,
        }
    }

    /// Whether this prompt blocks progress.
    pub fn is_blocking(self) -> bool {
        self.weight() == PromptWeight::Blocking
    }

    /// The text shown to the person: short, kind, no jargon.
    pub fn text(self, lang: Lang) -> &'static str {
        match lang {
            Lang::ZhCn => match self {
                PromptCode::NoFace => "请将脸部对准取景框",
                PromptCode::MultipleFaces => "请确保只有您本人在画面中",
                PromptCode::FaceChanged => "请本人完成验证",
                PromptCode::TooFar => "请靠近一点",
                PromptCode::TooClose => "请离远一点",
                PromptCode::OffCenter => "请将脸部移到取景框中间",
                PromptCode::TooDark => "光线太暗，请到明亮的地方",
                PromptCode::TooBright => "光线太强，请避开强光",
                PromptCode::Backlit => "请不要背对光源",
                PromptCode::Blurry => "画面模糊，请保持手机稳定",
                PromptCode::Occluded => "请不要遮挡脸部",
                PromptCode::LookStraight => "请正对屏幕",
                PromptCode::Slower => "请慢一点",
                PromptCode::HoldStill => "请保持不动",
            },
            Lang::En => match self {
                PromptCode::NoFace => "Please place your face in the frame",
                PromptCode::MultipleFaces => "Please make sure only you are in the picture",
                PromptCode::FaceChanged => "Please complete the check yourself",
                PromptCode::TooFar => "Move closer",
                PromptCode::TooClose => "Move back a little",
                PromptCode::OffCenter => "Move your face to the centre of the frame",
                PromptCode::TooDark => "It is too dark, please find more light",
                PromptCode::TooBright => "The light is too strong, please avoid bright light",
                PromptCode::Backlit => "Please do not stand with a light behind you",
                PromptCode::Blurry => "The picture is blurry, please hold the phone steady",
                PromptCode::Occluded => "Please do not cover your face",
                PromptCode::LookStraight => "Please look straight at the screen",
                PromptCode::Slower => "A little slower, please",
                PromptCode::HoldStill => "Please hold still",
            },
        }
    }
}

impl std::fmt::Display for PromptCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A prompt as raised: its code and, for OCCLUDED, which part is covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Prompt {
    /// What is wrong.
    pub code: PromptCode,
    /// The covered part, for OCCLUDED only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part: Option<FacePart>,
}

impl Prompt {
    /// A prompt with no face part.
    pub fn new(code: PromptCode) -> Self {
        Self { code, part: None }
    }

    /// The full text in the given language, naming the covered part for OCCLUDED.
    pub fn text(&self, lang: Lang) -> String {
        match (self.code, self.part, lang) {
            (PromptCode::Occluded, Some(part), Lang::ZhCn) => {
                format!("请不要遮挡{}", part.name(lang))
            }
            (PromptCode::Occluded, Some(part), Lang::En) => {
                format!("Please do not cover your {}", part.name(lang))
            }
            (code, _, lang) => code.text(lang).to_owned(),
        }
    }
}

/// The instruction for a challenge step.
pub fn step_text(action: ActionKind, lang: Lang) -> &'static str {
    match lang {
        Lang::ZhCn => match action {
            ActionKind::Blink => "请眨眨眼",
            ActionKind::MouthOpen => "请张张嘴",
            ActionKind::TurnLeft => "请缓慢向左转头",
            ActionKind::TurnRight => "请缓慢向右转头",
            ActionKind::Nod => "请点点头",
            ActionKind::RaiseHead => "请缓慢抬头",
            ActionKind::EyesClosed => "请闭上眼睛",
        },
        Lang::En => match action {
            ActionKind::Blink => "Please blink",
            ActionKind::MouthOpen => "Please open your mouth",
            ActionKind::TurnLeft => "Slowly turn your head to the left",
            ActionKind::TurnRight => "Slowly turn your head to the right",
            ActionKind::Nod => "Please nod",
            ActionKind::RaiseHead => "Slowly raise your head",
            ActionKind::EyesClosed => "Please close your eyes",
        },
    }
}

/// The instruction shown while the screen flashes its colours.
pub fn flash_text(lang: Lang) -> &'static str {
    match lang {
        Lang::ZhCn => "请保持不动，脸靠近屏幕",
        Lang::En => "Hold still, with your face close to the screen",
    }
}

/// The end screen's sentence for a verdict: what happened and, on a failure, what to do.
pub fn verdict_text(passed: bool, reasons: &[FailReason], lang: Lang) -> String {
    if passed {
        return match lang {
            Lang::ZhCn => "验证通过".to_owned(),
            Lang::En => "Verification passed".to_owned(),
        };
    }
    let why = reasons.first().map(|r| match (lang, r) {
        (Lang::ZhCn, FailReason::Timeout) => "未在规定时间内完成动作",
        (Lang::ZhCn, FailReason::FaceChanged) => "检测到更换了人员",
        (Lang::ZhCn, FailReason::MultipleFaces) => "画面中有多张人脸",
        (Lang::ZhCn, FailReason::NoFace) => "未检测到人脸",
        (Lang::ZhCn, FailReason::EngineFailure) => "服务暂时无法完成检测",
        (Lang::ZhCn, FailReason::Cancelled) => "验证已取消",
        (Lang::ZhCn, FailReason::LimitExceeded) => "上传的画面超出限制",
        (Lang::En, FailReason::Timeout) => "the actions were not completed in time",
        (Lang::En, FailReason::FaceChanged) => "a different person appeared",
        (Lang::En, FailReason::MultipleFaces) => "several faces were in the picture",
        (Lang::En, FailReason::NoFace) => "no face was seen",
        (Lang::En, FailReason::EngineFailure) => "the check could not be completed",
        (Lang::En, FailReason::Cancelled) => "the check was cancelled",
        (Lang::En, FailReason::LimitExceeded) => "too much video was sent",
        // The one flash failure the person can fix: said plainly, not as an attack.
        (Lang::ZhCn, FailReason::FlashTooBright) => "光线太强，请避开强光后重试",
        (Lang::En, FailReason::FlashTooBright) => {
            "the light is too strong, please move out of direct light and try again"
        }
        // Attack cues: the page says no more than that liveness was not confirmed (naming the
        // cue would teach an attacker what to fix); the result names it for the integrator.
        (Lang::ZhCn, _) => "未能确认为真人",
        (Lang::En, _) => "liveness could not be confirmed",
    });
    match (lang, why) {
        (Lang::ZhCn, Some(why)) => format!("验证未通过：{why}"),
        (Lang::ZhCn, None) => "验证未通过".to_owned(),
        (Lang::En, Some(why)) => format!("Verification failed: {why}"),
        (Lang::En, None) => "Verification failed".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialise_as_screaming_snake_case() {
        for code in PromptCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }

    #[test]
    fn priority_puts_presence_first_and_hold_still_last() {
        let mut sorted = PromptCode::ALL;
        sorted.sort();
        assert_eq!(sorted, PromptCode::ALL);
        assert_eq!(sorted[0], PromptCode::NoFace);
        assert_eq!(sorted[1], PromptCode::MultipleFaces);
        assert_eq!(sorted[13], PromptCode::HoldStill);
    }

    #[test]
    fn only_presence_and_identity_block() {
        let blocking: Vec<_> = PromptCode::ALL
            .into_iter()
            .filter(|c| c.is_blocking())
            .collect();
        assert_eq!(
            blocking,
            vec![
                PromptCode::NoFace,
                PromptCode::MultipleFaces,
                PromptCode::FaceChanged
            ]
        );
    }

    #[test]
    fn texts_exist_in_both_languages() {
        assert_eq!(PromptCode::TooFar.text(Lang::ZhCn), "请靠近一点");
        assert_eq!(PromptCode::TooFar.text(Lang::En), "Move closer");
        for code in PromptCode::ALL {
            assert!(!code.text(Lang::ZhCn).is_empty());
            assert!(!code.text(Lang::En).is_empty());
        }
        let p = Prompt {
            code: PromptCode::Occluded,
            part: Some(FacePart::Mouth),
        };
        assert_eq!(p.text(Lang::En), "Please do not cover your mouth");
        assert_eq!(p.text(Lang::ZhCn), "请不要遮挡嘴巴");
    }

    #[test]
    fn every_step_and_verdict_has_a_text_in_both_languages() {
        use crate::actions::ActionKind;
        use crate::session::FailReason;
        let mut seen = std::collections::HashSet::new();
        for action in ActionKind::CHALLENGE {
            for lang in [Lang::ZhCn, Lang::En] {
                assert!(seen.insert(step_text(action, lang)), "{action:?} {lang:?}");
            }
        }
        assert_eq!(verdict_text(true, &[], Lang::ZhCn), "验证通过");
        let failed = verdict_text(false, &[FailReason::Timeout], Lang::En);
        assert!(failed.starts_with("Verification failed: ") && failed.contains("in time"));
        assert_eq!(verdict_text(false, &[], Lang::ZhCn), "验证未通过");
    }
}
