//! A photo with the eyes cut out: a print of a person's own frame, held as a plane and moved,
//! with that person's live eyes blinking behind the holes (each frame's eye regions of the live
//! clip composited into the photo's eye holes before the photo is warped).

use std::path::Path;

use image::{imageops, RgbImage};
use livegate_actors::actions::ActionKind;
use livegate_models::mesh::index;
use livegate_models::{
    AnalysisNeeds, Analyzer, AnalyzerConfig, FaceEngine, FaceObservation, ModelRegistry, TrackState,
};

use super::stage::{paper, paste_through_hole, plane_homography, room, warp, PlanePose, Rect};
use super::{load_clip, media_file, staged, AttacksError, Pick, Presentation, Species};

/// Live clips whose person blinks (the eyes behind the photo).
pub const CLIPS: &[&str] = &[
    "Blink-Detector_repeating/video.mp4",
    "LivePortrait/d14.mp4",
    "LivePortrait/d9.mp4",
    "Closed_eyes_detector/me.mp4",
    "LivePortrait/d18.mp4",
];

/// The two eyes' boxes (image-left first), from the mesh's eye corners.
fn eye_boxes(face: &FaceObservation) -> Option<[Rect; 2]> {
    let p = |i: usize| face.mesh.get(i).map(|m| (f64::from(m[0]), f64::from(m[1])));
    let eye = |a: usize, b: usize| -> Option<Rect> {
        let (pa, pb) = (p(a)?, p(b)?);
        let w = (pb.0 - pa.0).abs() * 1.6;
        let h = w * 0.75;
        let (cx, cy) = ((pa.0 + pb.0) / 2.0, (pa.1 + pb.1) / 2.0);
        (w > 4.0).then_some(Rect {
            x: cx - w / 2.0,
            y: cy - h / 2.0,
            w,
            h,
        })
    };
    Some([
        eye(index::IMAGE_LEFT_EYE_OUTER, index::IMAGE_LEFT_EYE_INNER)?,
        eye(index::IMAGE_RIGHT_EYE_INNER, index::IMAGE_RIGHT_EYE_OUTER)?,
    ])
}

/// The cut-out-eyes presentations (the action session asks for the blink the eyes give).
pub fn stage(
    media: &Path,
    registry: &ModelRegistry,
    pick: &mut Pick,
) -> Result<Vec<Presentation>, AttacksError> {
    let mut engine = Analyzer::new(registry, AnalyzerConfig::default())?;
    let mut out = Vec::new();
    for rel in CLIPS {
        if !pick.wants(rel) {
            continue;
        }
        let Some(path) = media_file(media, rel) else {
            continue;
        };
        let clip = load_clip(&path, super::print::SECONDS)?;
        let mut track = TrackState::default();
        let mut eyes: Vec<Option<[Rect; 2]>> = Vec::with_capacity(clip.len());
        let mut photo: Option<(RgbImage, [Rect; 2])> = None;
        for (k, (t, frame)) in clip.iter().enumerate() {
            let needs = AnalysisNeeds {
                eyes: false,
                detect: k % 15 == 0,
            };
            let analysis = engine.analyze(frame, *t, &mut track, needs)?;
            let boxes = analysis.main.as_ref().and_then(eye_boxes);
            if photo.is_none() {
                if let (Some(face), Some(b)) = (analysis.main.as_ref(), boxes) {
                    // The photo: this first frame with a face, cropped to the head.
                    let f = face.face;
                    let side = f64::from(f.width.max(f.height)) * 1.7;
                    let cx = f64::from(f.x + f.width / 2.0);
                    let cy = f64::from(f.y + f.height / 2.0);
                    let x0 = (cx - side / 2.0).max(0.0);
                    let y0 = (cy - side / 2.0).max(0.0);
                    let w = side.min(f64::from(frame.width()) - x0);
                    let h = side.min(f64::from(frame.height()) - y0);
                    let crop = imageops::crop_imm(frame, x0 as u32, y0 as u32, w as u32, h as u32)
                        .to_image();
                    let shift = |r: Rect| Rect {
                        x: r.x - x0,
                        y: r.y - y0,
                        ..r
                    };
                    photo = Some((crop, [shift(b[0]), shift(b[1])]));
                }
            }
            eyes.push(boxes);
        }
        let Some((photo, holes)) = photo else {
            eprintln!("no face in {rel}, not counted");
            continue;
        };
        let background = room();
        let frames = staged(
            super::print::SECONDS.min(clip.len() as f64 / super::FPS),
            |k, t| {
                let mut composite = photo.clone();
                if let (Some((_, live)), Some(Some(boxes))) = (clip.get(k), eyes.get(k)) {
                    for i in 0..2 {
                        paste_through_hole(&mut composite, holes[i], live, boxes[i]);
                    }
                }
                let printed = paper(&composite, 0.25);
                let h = plane_homography(printed.dimensions(), 300.0, PlanePose::hand(t, 20.0));
                Ok(warp(&printed, &h, &background))
            },
        )?;
        out.push(Presentation {
            species: Species::CutoutEyes,
            name: (*rel).to_owned(),
            frames,
            challenge: vec![ActionKind::Blink],
            recorded_under: None,
            flash: Species::CutoutEyes.flash_staging(),
        });
    }
    Ok(out)
}
