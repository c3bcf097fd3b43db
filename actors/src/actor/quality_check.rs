//! The quality check: cheap pixel tests on a decoded frame before any model sees it.
//!
//! A frame that is uniform (camera covered, a black frame from a WebView that lost the camera)
//! cannot hold a face: it is answered "no face" at once and spares a model call. Face-level
//! quality (light, blur, size) needs the face and is judged by the quality gate afterwards.

use std::sync::Arc;

use image::RgbImage;
use ractor::{Actor, ActorProcessingErr, ActorRef};

use super::session_actor::SessionMsg;

/// Luma standard deviation (0..255) under which a frame is uniform.
const UNIFORM_LUMA_STD: f32 = 2.0;
/// Sample every n-th pixel in each direction: enough for a statistic, microseconds of work.
const STRIDE: u32 = 8;

/// What the check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameCheck {
    /// Worth analysing.
    Analyse,
    /// Uniform: no face can be there.
    Uniform,
}

/// Messages of the quality check.
pub enum QualityCheckMsg {
    /// Check one frame and answer the session with `SessionMsg::Checked`.
    Check {
        /// The frame's pipeline number in its session.
        seq: u64,
        /// The decoded frame.
        frame: Arc<RgbImage>,
        /// Who asked.
        reply: ActorRef<SessionMsg>,
    },
}

/// Judge a frame's pixels.
pub fn check_frame(frame: &RgbImage) -> FrameCheck {
    let (mut n, mut sum, mut sum2) = (0f64, 0f64, 0f64);
    for y in (0..frame.height()).step_by(STRIDE as usize) {
        for x in (0..frame.width()).step_by(STRIDE as usize) {
            let [r, g, b] = frame.get_pixel(x, y).0;
            let l = 0.299 * f64::from(r) + 0.587 * f64::from(g) + 0.114 * f64::from(b);
            n += 1.0;
            sum += l;
            sum2 += l * l;
        }
    }
    if n == 0.0 {
        return FrameCheck::Uniform;
    }
    let mean = sum / n;
    let std = (sum2 / n - mean * mean).max(0.0).sqrt();
    if (std as f32) < UNIFORM_LUMA_STD {
        FrameCheck::Uniform
    } else {
        FrameCheck::Analyse
    }
}

/// Checks a session's frames, one at a time.
pub struct QualityCheck;

#[ractor::async_trait]
impl Actor for QualityCheck {
    type Msg = QualityCheckMsg;
    type State = ();
    type Arguments = ();

    async fn pre_start(
        &self,
        _myself: ActorRef<QualityCheckMsg>,
        _: (),
    ) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<QualityCheckMsg>,
        QualityCheckMsg::Check { seq, frame, reply }: QualityCheckMsg,
        _: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        let check = check_frame(&frame);
        let _ = reply.send_message(SessionMsg::Checked { seq, frame, check });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_covered_camera_is_uniform_and_a_picture_is_not() {
        let black = RgbImage::new(64, 48);
        assert_eq!(check_frame(&black), FrameCheck::Uniform);
        let picture = RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([(x * 4) as u8, (y * 5) as u8, 90])
        });
        assert_eq!(check_frame(&picture), FrameCheck::Analyse);
    }
}
