//! Every threshold of the quality gate and the actions, in one config object.
//!
//! The server loads it from `[engine.thresholds]`; every field has a default, unknown fields are
//! refused (a typo must not silently keep a default), and [`QualityThresholds::validate`] checks
//! the rules across fields.

use serde::{Deserialize, Serialize};

/// A threshold that is out of range or inconsistent with another one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("engine.thresholds.{field}: {reason}")]
pub struct ThresholdError {
    /// The offending field, as named in the config file.
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

/// Quality-gate and action thresholds. Times in seconds, angles in degrees, ratios in 0..=1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QualityThresholds {
    /// Smallest face width over frame width (below: TOO_FAR).
    pub min_face_ratio: f32,
    /// Largest face width over frame width (above: TOO_CLOSE).
    pub max_face_ratio: f32,
    /// Largest face-centre offset from the frame centre, as a fraction of the frame (OFF_CENTER).
    pub max_center_offset: f32,
    /// Darkest accepted mean face luma (TOO_DARK).
    pub min_brightness: f32,
    /// Brightest accepted mean face luma (TOO_BRIGHT).
    pub max_brightness: f32,
    /// Largest accepted background-minus-face luma (BACKLIT).
    pub max_backlight: f32,
    /// Least accepted normalised sharpness (BLURRY).
    pub min_sharpness: f32,
    /// Largest accepted occlusion score of any part (OCCLUDED).
    pub max_occlusion: f32,
    /// Largest accepted |yaw| when the person should look straight (LOOK_STRAIGHT).
    pub max_yaw: f32,
    /// Largest accepted |pitch| when the person should look straight (LOOK_STRAIGHT).
    pub max_pitch: f32,
    /// Largest face-centre speed, in face widths per second, while holding still (HOLD_STILL).
    pub max_still_motion: f32,
    /// Face-centre speed, in face widths per second, above which the person moves too fast (SLOWER).
    pub max_motion: f32,
    /// Least presence confidence for a face to count.
    pub min_presence: f32,
    /// Least detector score for a second face to count as another person (MULTIPLE_FACES).
    pub min_other_face_score: f32,
    /// Least width of a second face relative to the main face (smaller: a photo on a wall).
    pub min_other_face_size: f32,
    /// How long a condition must last before its prompt is raised.
    pub raise_after_s: f64,
    /// How long a condition must be gone before its prompt is cleared.
    pub clear_after_s: f64,
    /// Length of the baseline window each action learns from.
    pub baseline_s: f64,
    /// Eye openness below this fraction of the baseline counts as closed (BLINK).
    pub blink_closed_fraction: f32,
    /// Longest closure that is still a blink; longer is an eyes-closed episode.
    pub blink_max_s: f64,
    /// Mouth openness rise over the baseline that counts as open (MOUTH_OPEN).
    pub mouth_open_rise: f32,
    /// How long the mouth must stay open.
    pub mouth_open_min_s: f64,
    /// Yaw away from the baseline that counts as a turn (TURN_LEFT / TURN_RIGHT).
    pub turn_yaw_deg: f32,
    /// Pitch below the baseline that counts as head down (NOD).
    pub nod_down_deg: f32,
    /// Longest time from head down to head back up in a nod (people asked to nod often hold the
    /// down position a moment; someone who looks down to read comes back much later).
    pub nod_max_s: f64,
    /// Pitch above the baseline that counts as head raised (RAISE_HEAD).
    pub raise_head_deg: f32,
    /// How long a turn or a raised head must be held.
    pub pose_hold_s: f64,
}

impl Default for QualityThresholds {
    fn default() -> Self {
        Self {
            min_face_ratio: 0.18,
            max_face_ratio: 0.75,
            max_center_offset: 0.22,
            min_brightness: 0.22,
            max_brightness: 0.85,
            max_backlight: 0.30,
            min_sharpness: 0.08,
            max_occlusion: 0.6,
            max_yaw: 20.0,
            max_pitch: 20.0,
            max_still_motion: 0.6,
            max_motion: 2.5,
            min_presence: 0.5,
            min_other_face_score: 0.7,
            min_other_face_size: 0.4,
            raise_after_s: 0.3,
            clear_after_s: 0.3,
            baseline_s: 0.7,
            blink_closed_fraction: 0.65,
            blink_max_s: 0.6,
            mouth_open_rise: 0.25,
            mouth_open_min_s: 0.15,
            turn_yaw_deg: 18.0,
            nod_down_deg: 10.0,
            nod_max_s: 4.0,
            raise_head_deg: 12.0,
            pose_hold_s: 0.1,
        }
    }
}

fn check(ok: bool, field: &'static str, reason: &str) -> Result<(), ThresholdError> {
    if ok {
        Ok(())
    } else {
        Err(ThresholdError {
            field,
            reason: reason.to_owned(),
        })
    }
}

fn unit(v: f32) -> bool {
    v.is_finite() && (0.0..=1.0).contains(&v)
}

fn positive(v: f64) -> bool {
    v.is_finite() && v > 0.0
}

fn degrees(v: f32) -> bool {
    v.is_finite() && v > 0.0 && v < 90.0
}

impl QualityThresholds {
    /// Check every field's range and the rules across fields; the error names the field.
    pub fn validate(&self) -> Result<(), ThresholdError> {
        check(
            unit(self.min_face_ratio),
            "min_face_ratio",
            "must be in 0..=1",
        )?;
        check(
            unit(self.max_face_ratio),
            "max_face_ratio",
            "must be in 0..=1",
        )?;
        check(
            self.min_face_ratio < self.max_face_ratio,
            "max_face_ratio",
            "must be greater than min_face_ratio",
        )?;
        check(
            self.max_center_offset.is_finite() && (0.0..=0.5).contains(&self.max_center_offset),
            "max_center_offset",
            "must be in 0..=0.5",
        )?;
        check(
            unit(self.min_brightness),
            "min_brightness",
            "must be in 0..=1",
        )?;
        check(
            unit(self.max_brightness),
            "max_brightness",
            "must be in 0..=1",
        )?;
        check(
            self.min_brightness < self.max_brightness,
            "max_brightness",
            "must be greater than min_brightness",
        )?;
        check(
            unit(self.max_backlight),
            "max_backlight",
            "must be in 0..=1",
        )?;
        check(
            unit(self.min_sharpness),
            "min_sharpness",
            "must be in 0..=1",
        )?;
        check(
            unit(self.max_occlusion),
            "max_occlusion",
            "must be in 0..=1",
        )?;
        check(degrees(self.max_yaw), "max_yaw", "must be in 0..90 degrees")?;
        check(
            degrees(self.max_pitch),
            "max_pitch",
            "must be in 0..90 degrees",
        )?;
        check(
            self.max_still_motion.is_finite() && self.max_still_motion > 0.0,
            "max_still_motion",
            "must be positive",
        )?;
        check(
            self.max_motion.is_finite() && self.max_motion > self.max_still_motion,
            "max_motion",
            "must be greater than max_still_motion",
        )?;
        check(unit(self.min_presence), "min_presence", "must be in 0..=1")?;
        check(
            unit(self.min_other_face_score),
            "min_other_face_score",
            "must be in 0..=1",
        )?;
        check(
            unit(self.min_other_face_size),
            "min_other_face_size",
            "must be in 0..=1",
        )?;
        check(
            self.raise_after_s.is_finite() && self.raise_after_s >= 0.0,
            "raise_after_s",
            "must be zero or positive",
        )?;
        check(
            self.clear_after_s.is_finite() && self.clear_after_s >= 0.0,
            "clear_after_s",
            "must be zero or positive",
        )?;
        check(positive(self.baseline_s), "baseline_s", "must be positive")?;
        check(
            self.blink_closed_fraction.is_finite()
                && self.blink_closed_fraction > 0.0
                && self.blink_closed_fraction < 1.0,
            "blink_closed_fraction",
            "must be in 0..1 (exclusive)",
        )?;
        check(
            positive(self.blink_max_s),
            "blink_max_s",
            "must be positive",
        )?;
        check(
            self.mouth_open_rise.is_finite() && self.mouth_open_rise > 0.0,
            "mouth_open_rise",
            "must be positive",
        )?;
        check(
            self.mouth_open_min_s.is_finite() && self.mouth_open_min_s >= 0.0,
            "mouth_open_min_s",
            "must be zero or positive",
        )?;
        check(
            degrees(self.turn_yaw_deg),
            "turn_yaw_deg",
            "must be in 0..90 degrees",
        )?;
        check(
            degrees(self.nod_down_deg),
            "nod_down_deg",
            "must be in 0..90 degrees",
        )?;
        check(positive(self.nod_max_s), "nod_max_s", "must be positive")?;
        check(
            degrees(self.raise_head_deg),
            "raise_head_deg",
            "must be in 0..90 degrees",
        )?;
        check(
            self.pose_hold_s.is_finite() && self.pose_hold_s >= 0.0,
            "pose_hold_s",
            "must be zero or positive",
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        QualityThresholds::default().validate().unwrap();
    }

    #[test]
    fn partial_config_keeps_defaults_and_unknown_fields_are_refused() {
        let t: QualityThresholds = serde_json::from_str(r#"{"min_brightness": 0.1}"#).unwrap();
        assert_eq!(t.min_brightness, 0.1);
        assert_eq!(
            t.max_brightness,
            QualityThresholds::default().max_brightness
        );
        let err = serde_json::from_str::<QualityThresholds>(r#"{"min_brightnes": 0.1}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("min_brightnes"), "{err}");
    }

    #[test]
    fn validate_names_the_field() {
        let t = QualityThresholds {
            min_face_ratio: 0.8,
            ..Default::default()
        };
        let err = t.validate().unwrap_err();
        assert_eq!(err.field, "max_face_ratio");
        assert!(err
            .to_string()
            .starts_with("engine.thresholds.max_face_ratio"));
    }
}
