//! Quality prompts on a real frame that the test darkens, brightens, blurs, shrinks, enlarges,
//! shifts, covers or backlights: each change raises the prompt a person would need.

mod common;

use common::{analyze, media};
use image::{imageops, Rgb, RgbImage};
use livegate_models::media::{open_video, VideoOptions};
use livegate_models::{
    AnalysisNeeds, Analyzer, AnalyzerConfig, FaceEngine, ModelRegistry, TrackState,
};

/// A frontal, well-lit frame of a real person, and the face box `livegate analyze` finds on it.
fn base_frame() -> Option<(RgbImage, [f32; 4])> {
    let clip = media("face_anti_spoofing_tranvanluyt2203/real.mp4")?;
    let opts = VideoOptions {
        fit: Some((480, 640)),
        max_frames: Some(15),
    };
    let frame = open_video(&clip, &opts)
        .expect("the clip opens")
        .last()
        .expect("the clip has frames")
        .expect("the frame decodes")
        .image;
    let registry = ModelRegistry::open(common::models_dir()).expect("the model files are in place");
    let mut engine = Analyzer::new(&registry, AnalyzerConfig::default()).expect("the engine loads");
    let needs = AnalysisNeeds {
        eyes: true,
        detect: true,
    };
    let analysis = engine
        .analyze(&frame, 0.0, &mut TrackState::default(), needs)
        .expect("analysed");
    let face = analysis.main.expect("the base frame has a face").face;
    let b = [face.x, face.y, face.width, face.height];
    Some((frame, b))
}

fn prompts_of(img: &RgbImage, dir: &std::path::Path, name: &str) -> serde_json::Value {
    let path = dir.join(format!("{name}.png"));
    img.save(&path).expect("write the test frame");
    analyze(&path, &[]).summary["prompts"].clone()
}

fn map(img: &RgbImage, f: impl Fn(u32, u32, f32) -> f32) -> RgbImage {
    RgbImage::from_fn(img.width(), img.height(), |x, y| {
        let p = img.get_pixel(x, y);
        Rgb(p.0.map(|c| f(x, y, c as f32).clamp(0.0, 255.0) as u8))
    })
}

fn inside(b: &[f32; 4], x: u32, y: u32) -> bool {
    let (x, y) = (x as f32, y as f32);
    x >= b[0] && x < b[0] + b[2] && y >= b[1] && y < b[1] + b[3]
}

const PROMPT_CODES: [&str; 8] = [
    "TOO_DARK",
    "TOO_BRIGHT",
    "BLURRY",
    "TOO_FAR",
    "TOO_CLOSE",
    "OFF_CENTER",
    "OCCLUDED",
    "BACKLIT",
];

#[test]
fn each_degradation_raises_its_prompt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some((base, b)) = base_frame() else {
        return;
    };
    let (w, h) = base.dimensions();

    let clean = prompts_of(&base, dir.path(), "clean");
    for code in PROMPT_CODES {
        assert!(
            clean.get(code).is_none(),
            "the clean frame raised {code}: {clean}"
        );
    }

    let grey = Rgb([128u8, 128, 128]);
    let mut cases: Vec<(&str, RgbImage)> = vec![
        ("TOO_DARK", map(&base, |_, _, c| c * 0.12)),
        ("TOO_BRIGHT", map(&base, |_, _, c| c * 2.0 + 90.0)),
        ("BLURRY", imageops::blur(&base, 6.0)),
        (
            "BACKLIT",
            map(
                &base,
                |x, y, c| if inside(&b, x, y) { c * 0.3 } else { 250.0 },
            ),
        ),
    ];

    // Far: the whole frame shrunk to a sixth of its width, centred on grey.
    let small = imageops::resize(&base, w / 6, h / 6, imageops::FilterType::Triangle);
    let mut far = RgbImage::from_pixel(w, h, grey);
    imageops::overlay(
        &mut far,
        &small,
        i64::from((w - w / 6) / 2),
        i64::from((h - h / 6) / 2),
    );
    cases.push(("TOO_FAR", far));

    // Close: the face box alone, blown up to the whole frame.
    let crop =
        imageops::crop_imm(&base, b[0] as u32, b[1] as u32, b[2] as u32, b[3] as u32).to_image();
    cases.push((
        "TOO_CLOSE",
        imageops::resize(&crop, w, h, imageops::FilterType::Triangle),
    ));

    // Off centre: the frame moved so the face sits at the left edge.
    let mut shifted = RgbImage::from_pixel(w, h, grey);
    imageops::overlay(
        &mut shifted,
        &base,
        -i64::from((b[0] + b[2] * 0.2) as u32),
        0,
    );
    cases.push(("OFF_CENTER", shifted));

    // Covered: a dark hand-sized patch over the mouth and chin.
    let mut covered = base.clone();
    let (mx, my) = (b[0] + b[2] * 0.15, b[1] + b[3] * 0.62);
    for y in my as u32..(b[1] + b[3]).min(h as f32) as u32 {
        for x in mx as u32..(b[0] + b[2] * 0.85) as u32 {
            covered.put_pixel(x, y, Rgb([40, 30, 30]));
        }
    }
    cases.push(("OCCLUDED", covered));

    let mut missed = Vec::new();
    for (code, img) in &cases {
        let prompts = prompts_of(img, dir.path(), code);
        if prompts.get(*code).is_none() {
            missed.push(format!("{code}: got {prompts}"));
        }
    }
    assert!(
        missed.is_empty(),
        "prompts not raised:\n{}",
        missed.join("\n")
    );
}
