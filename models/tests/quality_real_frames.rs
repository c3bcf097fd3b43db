//! Face quality measures on real photos, altered the way bad captures are.
//!
//! The mesh model's output is not used here: a synthetic 468-point mesh is built by placing the
//! points `quality::measure` reads (eye corners and lids, nose tip, mouth corners and inner lips,
//! forehead top, chin, face sides) where they are on the photo, found once by eye; every other
//! point sits at the face centre.

use std::path::PathBuf;

use image::{Rgb, RgbImage};
use livegate_models::{quality, FaceBox, FaceQuality};

fn media_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("LIVEGATE_TEST_MEDIA")?);
    dir.join("face_recognition/obama.jpg")
        .is_file()
        .then_some(dir)
}

/// Obama's official portrait (910x1137) with its face box and key points, found by eye.
struct Portrait {
    frame: RgbImage,
    face: FaceBox,
    mesh: Vec<[f32; 3]>,
}

fn portrait() -> Option<Portrait> {
    let Some(dir) = media_dir() else {
        eprintln!("skipped: LIVEGATE_TEST_MEDIA is unset or lacks face_recognition/obama.jpg");
        return None;
    };
    let frame = image::open(dir.join("face_recognition/obama.jpg"))
        .expect("decode obama.jpg")
        .to_rgb8();
    let face = FaceBox {
        x: 360.0,
        y: 110.0,
        width: 270.0,
        height: 300.0,
        score: 1.0,
    };
    let mut mesh = vec![[495.0, 260.0, 0.0]; 468];
    let points: [(usize, f32, f32); 16] = [
        (33, 410.0, 216.0),
        (133, 462.0, 216.0),
        (159, 436.0, 207.0),
        (145, 436.0, 224.0),
        (263, 572.0, 214.0),
        (362, 522.0, 214.0),
        (386, 547.0, 205.0),
        (374, 547.0, 222.0),
        (4, 492.0, 282.0),
        (61, 445.0, 325.0),
        (291, 552.0, 322.0),
        (13, 497.0, 322.0),
        (14, 497.0, 336.0),
        (10, 490.0, 115.0),
        (152, 495.0, 408.0),
        (234, 352.0, 250.0),
    ];
    for (i, x, y) in points {
        mesh[i] = [x, y, 0.0];
    }
    mesh[454] = [636.0, 250.0, 0.0];
    Some(Portrait { frame, face, mesh })
}

fn measure(p: &Portrait, frame: &RgbImage) -> FaceQuality {
    quality::measure(frame, &p.face, &p.mesh)
}

fn map_pixels(img: &RgbImage, f: impl Fn(u32, u32, [u8; 3]) -> [u8; 3]) -> RgbImage {
    let mut out = img.clone();
    for (x, y, px) in out.enumerate_pixels_mut() {
        *px = Rgb(f(x, y, px.0));
    }
    out
}

fn scale(px: [u8; 3], k: f32) -> [u8; 3] {
    px.map(|v| (f32::from(v) * k).round().clamp(0.0, 255.0) as u8)
}

fn fill(img: &mut RgbImage, x0: u32, y0: u32, x1: u32, y1: u32, colour: [u8; 3]) {
    for y in y0..y1 {
        for x in x0..x1 {
            img.put_pixel(x, y, Rgb(colour));
        }
    }
}

/// Mean colour of a rectangle (the test's stand-in for "skin-coloured").
fn mean_colour(img: &RgbImage, x0: u32, y0: u32, x1: u32, y1: u32) -> [u8; 3] {
    let mut sum = [0u64; 3];
    let mut n = 0u64;
    for y in y0..y1 {
        for x in x0..x1 {
            for (s, v) in sum.iter_mut().zip(img.get_pixel(x, y).0) {
                *s += u64::from(v);
            }
            n += 1;
        }
    }
    sum.map(|s| (s / n.max(1)) as u8)
}

/// Paste `img` on a grey canvas of `w` x `h` at (`dx`, `dy`).
fn on_canvas(img: &RgbImage, w: u32, h: u32, dx: u32, dy: u32) -> RgbImage {
    let mut canvas = RgbImage::from_pixel(w, h, Rgb([128, 128, 128]));
    image::imageops::replace(&mut canvas, img, i64::from(dx), i64::from(dy));
    canvas
}

#[test]
fn an_untouched_portrait_reads_well_lit_sharp_and_unoccluded() {
    let Some(p) = portrait() else { return };
    let q = measure(&p, &p.frame);
    assert!((0.4..0.8).contains(&q.brightness), "{q:?}");
    assert!(q.contrast > 0.08, "{q:?}");
    assert!(q.sharpness > 0.8, "{q:?}");
    assert!(q.clipped < 0.05, "{q:?}");
    // Lit face before red curtains and a window: the face is the brighter one.
    assert!(q.backlight < 0.0, "{q:?}");
    assert!((q.size_ratio - 270.0 / 910.0).abs() < 1e-4, "{q:?}");
    let o = q.occlusion;
    assert!(o.eyes < 0.3 && o.nose < 0.3 && o.mouth < 0.3, "{o:?}");
}

#[test]
fn without_a_mesh_the_box_places_the_parts() {
    let Some(dir) = media_dir() else {
        eprintln!("skipped: LIVEGATE_TEST_MEDIA is unset");
        return;
    };
    let path = dir.join("dlib/Tom_Cruise_avp_2014_4.jpg");
    if !path.is_file() {
        eprintln!("skipped: {} is missing", path.display());
        return;
    }
    let frame = image::open(path).expect("decode").to_rgb8();
    // Found by eye: forehead to chin, ear to ear.
    let face = FaceBox {
        x: 95.0,
        y: 170.0,
        width: 405.0,
        height: 550.0,
        score: 1.0,
    };
    let q = quality::measure(&frame, &face, &[]);
    assert!(q.sharpness > 0.7, "{q:?}");
    let o = q.occlusion;
    assert!(o.eyes < 0.3 && o.nose < 0.3 && o.mouth < 0.3, "{o:?}");
}

#[test]
fn darkening_lowers_brightness_and_brightening_clips() {
    let Some(p) = portrait() else { return };
    let base = measure(&p, &p.frame);
    let dark = measure(&p, &map_pixels(&p.frame, |_, _, px| scale(px, 0.25)));
    assert!(dark.brightness < 0.2, "{dark:?}");
    assert!(dark.contrast < base.contrast / 2.0, "{dark:?}");
    // Occlusion is judged relative to the face's own light and texture, so dimming is not a cover.
    assert!(
        dark.occlusion.mouth < 0.5 && dark.occlusion.eyes < 0.5,
        "{dark:?}"
    );
    let bright = measure(&p, &map_pixels(&p.frame, |_, _, px| scale(px, 2.5)));
    assert!(bright.brightness > 0.85, "{bright:?}");
    assert!(bright.clipped > 0.5, "{bright:?}");
}

#[test]
fn gaussian_blur_lowers_sharpness_a_lot() {
    let Some(p) = portrait() else { return };
    let base = measure(&p, &p.frame);
    let blurred = measure(&p, &image::imageops::blur(&p.frame, 3.0));
    assert!(blurred.sharpness < 0.4, "{blurred:?}");
    assert!(
        base.sharpness - blurred.sharpness > 0.5,
        "{base:?} {blurred:?}"
    );
    // Blur is not occlusion: texture is compared with the face's own.
    let o = blurred.occlusion;
    assert!(o.eyes < 0.5 && o.nose < 0.5 && o.mouth < 0.5, "{o:?}");
}

#[test]
fn a_bright_background_behind_a_dark_face_reads_as_backlight() {
    let Some(p) = portrait() else { return };
    let base = measure(&p, &p.frame);
    let (x0, y0) = (p.face.x as u32, p.face.y as u32);
    let (x1, y1) = (x0 + p.face.width as u32, y0 + p.face.height as u32);
    let backlit = map_pixels(&p.frame, |x, y, px| {
        if (x0..x1).contains(&x) && (y0..y1).contains(&y) {
            scale(px, 0.4)
        } else {
            scale(px, 3.0)
        }
    });
    let q = measure(&p, &backlit);
    assert!(q.backlight > 0.3, "{q:?}");
    assert!(q.backlight > base.backlight + 0.3, "{base:?} {q:?}");
}

#[test]
fn a_skin_coloured_or_black_patch_over_the_mouth_reads_as_covered() {
    let Some(p) = portrait() else { return };
    // A hand-sized cover from under the nose to the chin, coloured like his cheek.
    let skin = mean_colour(&p.frame, 415, 255, 455, 290);
    for colour in [skin, [12, 12, 12]] {
        let mut covered = p.frame.clone();
        fill(&mut covered, 415, 300, 580, 370, colour);
        let o = measure(&p, &covered).occlusion;
        assert!(o.mouth > 0.7, "cover {colour:?}: {o:?}");
        assert!(o.eyes < 0.3, "cover {colour:?}: {o:?}");
    }
}

#[test]
fn dark_glasses_cover_the_eyes_and_a_mask_the_nose_and_mouth() {
    let Some(p) = portrait() else { return };
    let mut glasses = p.frame.clone();
    fill(&mut glasses, 395, 195, 480, 235, [15, 15, 20]);
    fill(&mut glasses, 505, 195, 590, 235, [15, 15, 20]);
    let o = measure(&p, &glasses).occlusion;
    assert!(o.eyes > 0.7 && o.mouth < 0.3, "{o:?}");

    let mut mask = p.frame.clone();
    fill(&mut mask, 380, 250, 615, 410, [170, 200, 220]);
    let o = measure(&p, &mask).occlusion;
    assert!(o.nose > 0.7 && o.mouth > 0.7 && o.eyes < 0.3, "{o:?}");
}

#[test]
fn a_smaller_face_lowers_size_ratio_and_shifting_moves_the_centre() {
    let Some(p) = portrait() else { return };
    let base = measure(&p, &p.frame);
    let (w, h) = p.frame.dimensions();
    // The same pixels on a canvas twice as wide: the face is half as large a share of the frame.
    let wide = on_canvas(&p.frame, w * 2, h, 0, 0);
    let q = measure(&p, &wide);
    assert!((q.size_ratio - base.size_ratio / 2.0).abs() < 1e-4, "{q:?}");
    assert!(q.center_offset[0] < base.center_offset[0] - 0.2, "{q:?}");
    // Shifted right by 400 px on a wider canvas: the centre moves right.
    let shifted = on_canvas(&p.frame, w * 2, h, 400, 0);
    let moved = FaceBox {
        x: p.face.x + 400.0,
        ..p.face
    };
    let mesh: Vec<[f32; 3]> = p.mesh.iter().map(|m| [m[0] + 400.0, m[1], m[2]]).collect();
    let r = quality::measure(&shifted, &moved, &mesh);
    assert!(r.center_offset[0] > q.center_offset[0] + 0.2, "{q:?} {r:?}");
    assert!((r.center_offset[1] - q.center_offset[1]).abs() < 1e-4);
    // The same face, measured in its new place, keeps its light and parts.
    assert!(
        (r.brightness - base.brightness).abs() < 0.01,
        "{base:?} {r:?}"
    );
}

#[test]
fn a_box_outside_the_frame_gives_the_default() {
    let frame = RgbImage::new(64, 48);
    let face = FaceBox {
        x: 100.0,
        y: 10.0,
        width: 20.0,
        height: 20.0,
        score: 1.0,
    };
    assert_eq!(quality::measure(&frame, &face, &[]), FaceQuality::default());
    let tiny = RgbImage::new(1, 1);
    let all = FaceBox {
        x: 0.0,
        y: 0.0,
        width: 1.5,
        height: 1.5,
        score: 1.0,
    };
    let _ = quality::measure(&tiny, &all, &[]);
}

#[test]
fn measuring_a_480x640_frame_is_cheap() {
    let Some(p) = portrait() else { return };
    // The portrait scaled to 480 wide, the face about 40% of the frame as on a phone.
    let frame = image::imageops::resize(&p.frame, 480, 600, image::imageops::FilterType::Triangle);
    let frame = on_canvas(&frame, 480, 640, 0, 20);
    let k = 480.0 / 910.0;
    let face = FaceBox {
        x: p.face.x * k,
        y: p.face.y * 600.0 / 1137.0 + 20.0,
        width: p.face.width * k,
        height: p.face.height * 600.0 / 1137.0,
        score: 1.0,
    };
    let mesh: Vec<[f32; 3]> = p
        .mesh
        .iter()
        .map(|m| [m[0] * k, m[1] * 600.0 / 1137.0 + 20.0, 0.0])
        .collect();
    let runs = 200;
    let start = std::time::Instant::now();
    for _ in 0..runs {
        std::hint::black_box(quality::measure(&frame, &face, &mesh));
    }
    let ms = start.elapsed().as_secs_f64() * 1e3 / f64::from(runs);
    eprintln!("quality::measure on 480x640: {ms:.3} ms per frame");
    // Budget 0.3 ms; the bound leaves room for a busy shared test machine.
    assert!(ms < 0.6, "{ms} ms");
}
