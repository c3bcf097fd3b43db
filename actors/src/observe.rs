//! Watching a recording from start to end with one engine pair (the `livegate analyze` command).

use std::time::Instant;

use image::RgbImage;
use livegate_models::{EngineError, FaceEngine, IdentityEngine, TrackState};

use crate::session::{ObserveLogic, ObservedEvent, Summary};
use crate::thresholds::QualityThresholds;

/// Analyse every frame of a recording in order, calling `on_event` for each action seen and each
/// prompt raised, and return the summary. `ms_per_frame` is the wall time of the engine calls
/// (analysis and sampled embeddings) per frame, decoding excluded.
pub fn observe_frames<I>(
    face: &mut dyn FaceEngine,
    identity: &mut dyn IdentityEngine,
    frames: I,
    thresholds: &QualityThresholds,
    mut on_event: impl FnMut(&ObservedEvent),
) -> Result<Summary, EngineError>
where
    I: IntoIterator<Item = Result<(f64, RgbImage), EngineError>>,
{
    let mut logic = ObserveLogic::new(thresholds);
    let mut track = TrackState::default();
    let mut engine_s = 0.0;
    for frame in frames {
        let (t, image) = frame?;
        let started = Instant::now();
        let analysis = face.analyze(&image, t, &mut track, logic.needs())?;
        for e in logic.on_frame(&analysis) {
            on_event(&e);
        }
        if logic.wants_embedding(&analysis) {
            let embedding = match &analysis.main {
                Some(main) => identity.embed(&image, main)?,
                None => None,
            };
            for e in logic.on_embedding(t, embedding) {
                on_event(&e);
            }
        }
        engine_s += started.elapsed().as_secs_f64();
    }
    let mut summary = logic.summary();
    if summary.frames > 0 {
        summary.ms_per_frame = engine_s * 1000.0 / summary.frames as f64;
    }
    Ok(summary)
}

/// Analyse one still image (detector forced, eyes refined): its faces and the prompts it would
/// raise, judged on the single frame.
pub fn observe_still(
    face: &mut dyn FaceEngine,
    image: &RgbImage,
    thresholds: &QualityThresholds,
    mut on_event: impl FnMut(&ObservedEvent),
) -> Result<Summary, EngineError> {
    let mut logic = ObserveLogic::new(thresholds);
    let mut needs = logic.needs();
    needs.detect = true;
    let started = Instant::now();
    let analysis = face.analyze(image, 0.0, &mut TrackState::default(), needs)?;
    let engine_ms = started.elapsed().as_secs_f64() * 1000.0;
    for e in logic.on_still(&analysis) {
        on_event(&e);
    }
    let mut summary = logic.summary();
    summary.ms_per_frame = engine_ms;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::ActionKind;
    use crate::synthetic::{face_frame, with_eyes};
    use livegate_models::{AnalysisNeeds, Embedding, FaceObservation, FrameAnalysis};

    struct Blinker;

    impl FaceEngine for Blinker {
        fn analyze(
            &mut self,
            _: &RgbImage,
            t: f64,
            _: &mut TrackState,
            needs: AnalysisNeeds,
        ) -> Result<FrameAnalysis, EngineError> {
            assert!(needs.eyes, "observe mode always refines the eyes");
            let mut f = face_frame(t);
            if let Some(m) = f.main.as_mut() {
                if (1.0..1.2).contains(&t) || (2.0..2.2).contains(&t) {
                    *m = with_eyes(m.clone(), 0.1);
                }
            }
            Ok(f)
        }
    }

    struct SamePerson;

    impl IdentityEngine for SamePerson {
        fn embed(
            &mut self,
            _: &RgbImage,
            _: &FaceObservation,
        ) -> Result<Option<Embedding>, EngineError> {
            Ok(Some(Embedding(vec![0.0; 128])))
        }
    }

    #[test]
    fn a_recording_is_summarised_with_one_line_per_event() {
        let frames = (0..45).map(|i| Ok((i as f64 / 15.0, RgbImage::new(4, 4))));
        let mut lines = Vec::new();
        let summary = observe_frames(
            &mut Blinker,
            &mut SamePerson,
            frames,
            &QualityThresholds::default(),
            |e| lines.push(e.clone()),
        )
        .unwrap();
        assert_eq!(summary.frames, 45);
        assert_eq!(summary.blink, 2);
        assert_eq!(
            lines,
            vec![
                ObservedEvent::Action {
                    t: 1.0,
                    kind: ActionKind::Blink
                },
                ObservedEvent::Action {
                    t: 2.0,
                    kind: ActionKind::Blink
                }
            ]
        );
        assert!(summary.prompts.is_empty());
    }

    #[test]
    fn a_broken_recording_is_an_error() {
        let frames = vec![Err(EngineError::BadVideo("truncated".into()))];
        let err = observe_frames(
            &mut Blinker,
            &mut SamePerson,
            frames,
            &QualityThresholds::default(),
            |_| {},
        )
        .unwrap_err();
        assert!(err.to_string().contains("truncated"));
    }
}
