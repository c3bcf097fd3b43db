//! Decoding images (with EXIF orientation) and videos (FFmpeg) into RGB frames.
//!
//! Everything here reads untrusted input: sizes are checked from headers before pixels are
//! allocated, and garbage, truncated or empty input is an error, never a panic or a hang.

use std::io::{Cursor, Read};
use std::path::Path;
use std::sync::Once;

use ffmpeg_next as ffmpeg;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};

use crate::EngineError;

/// Limits checked before any pixel buffer is allocated.
#[derive(Debug, Clone, Copy)]
pub struct MediaLimits {
    /// Longest accepted side in pixels.
    pub max_side: u32,
    /// Shortest accepted side in pixels.
    pub min_side: u32,
}

impl Default for MediaLimits {
    fn default() -> Self {
        Self {
            max_side: 4096,
            min_side: 16,
        }
    }
}

impl MediaLimits {
    /// `Err(FrameSize)` unless both sides are within the limits.
    pub fn check(&self, width: u32, height: u32) -> Result<(), EngineError> {
        let ok = |side: u32| (self.min_side..=self.max_side).contains(&side);
        if ok(width) && ok(height) {
            Ok(())
        } else {
            Err(EngineError::FrameSize {
                width,
                height,
                min: self.min_side,
                max: self.max_side,
            })
        }
    }
}

/// Decode a JPEG or PNG image, turned upright by its EXIF orientation.
///
/// The size in the header is checked against `limits` before any pixel is decoded.
pub fn decode_image(bytes: &[u8], limits: &MediaLimits) -> Result<RgbImage, EngineError> {
    let bad = |e: image::ImageError| EngineError::BadImage(e.to_string());
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| EngineError::BadImage(e.to_string()))?;
    match reader.format() {
        Some(ImageFormat::Jpeg | ImageFormat::Png) => {}
        Some(other) => {
            return Err(EngineError::BadImage(format!(
                "{other:?} is not accepted (jpeg or png only)"
            )))
        }
        None => {
            return Err(EngineError::BadImage(format!(
                "unknown format ({} bytes, no jpeg or png signature)",
                bytes.len()
            )))
        }
    }
    // The reader's default allocation limit would refuse a huge header with a generic message;
    // our own check below names the size and the accepted range instead.
    reader.no_limits();
    let mut decoder = reader.into_decoder().map_err(bad)?;
    let (width, height) = decoder.dimensions();
    limits.check(width, height)?;
    let mut decode_limits = Limits::default();
    decode_limits.max_image_width = Some(limits.max_side);
    decode_limits.max_image_height = Some(limits.max_side);
    // 16-bit RGBA is the widest pixel the decoders produce, plus slack for their own buffers.
    decode_limits.max_alloc = Some(u64::from(width) * u64::from(height) * 8 + (1 << 24));
    decoder.set_limits(decode_limits).map_err(bad)?;
    // A broken EXIF block must not lose an otherwise good image: treat it as upright.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(bad)?;
    image.apply_orientation(orientation);
    Ok(image.into_rgb8())
}

/// How a video is turned into frames.
#[derive(Debug, Clone, Copy, Default)]
pub struct VideoOptions {
    /// Scale each frame down (never up) so it fits inside (width, height), keeping its aspect.
    pub fit: Option<(u32, u32)>,
    /// Stop after this many frames.
    pub max_frames: Option<usize>,
}

/// One decoded video frame.
#[derive(Debug, Clone)]
pub struct VideoFrame {
    /// Seconds from the first frame, from the presentation timestamps.
    pub t: f64,
    /// The upright RGB picture.
    pub image: RgbImage,
}

/// The largest video side accepted at all; larger streams are refused at open.
const MAX_VIDEO_SIDE: u32 = 8192;

/// Corrupt packets tolerated in a row before the stream is declared undecodable.
const MAX_CONSECUTIVE_PACKET_ERRORS: u32 = 64;

/// Clockwise quarter turns that make a phone video upright (from its display matrix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QuarterTurns {
    None,
    Cw90,
    Cw180,
    Cw270,
}

impl QuarterTurns {
    fn swaps_sides(self) -> bool {
        matches!(self, Self::Cw90 | Self::Cw270)
    }
}

/// The converters for one input geometry; rebuilt if the stream changes size mid-way.
///
/// Resizing runs in planar YUV, then an unscaled YUV to RGB pass: swscale's resizing straight
/// into packed RGB24 takes a slow generic path (about 3 ms more per 480x854 frame).
struct FrameScaler {
    resize: Option<(ffmpeg::software::scaling::Context, ffmpeg::frame::Video)>,
    to_rgb: ffmpeg::software::scaling::Context,
    input: (ffmpeg::format::Pixel, u32, u32),
}

/// A video opened for decoding: an iterator over its frames.
///
/// Ends after the last frame; a stream that yields no frame at all, or breaks beyond repair,
/// ends with one `BadVideo` error.
pub struct VideoReader {
    input: ffmpeg::format::context::Input,
    decoder: ffmpeg::decoder::Video,
    stream_index: usize,
    time_base: f64,
    frame_period: f64,
    turns: QuarterTurns,
    options: VideoOptions,
    scaler: Option<FrameScaler>,
    decoded: ffmpeg::frame::Video,
    first_ts: Option<i64>,
    last_t: Option<f64>,
    frames_out: usize,
    eof_sent: bool,
    finished: bool,
}

impl std::fmt::Debug for VideoReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VideoReader")
            .field("stream_index", &self.stream_index)
            .field("turns", &self.turns)
            .field("options", &self.options)
            .field("frames_out", &self.frames_out)
            .finish_non_exhaustive()
    }
}

static FFMPEG_INIT: Once = Once::new();

fn init_ffmpeg() {
    FFMPEG_INIT.call_once(|| {
        // Registration cannot fail on FFmpeg >= 4 (a no-op); the result carries nothing to act on.
        let _ = ffmpeg::init();
        ffmpeg::util::log::set_level(ffmpeg::util::log::Level::Error);
    });
}

/// Open a video file (mp4, mov, webm, mpg, ...) for single-threaded decoding.
pub fn open_video(path: &Path, options: &VideoOptions) -> Result<VideoReader, EngineError> {
    init_ffmpeg();
    let bad = |what: &str, e: ffmpeg::Error| {
        EngineError::BadVideo(format!("{}: {what}: {e}", path.display()))
    };
    if let Err(source) = std::fs::metadata(path) {
        return Err(EngineError::Io {
            path: path.to_path_buf(),
            source,
        });
    }
    let input = ffmpeg::format::input(path).map_err(|e| bad("cannot open container", e))?;
    let stream = input
        .streams()
        .best(ffmpeg::media::Type::Video)
        .ok_or_else(|| EngineError::BadVideo(format!("{}: no video stream", path.display())))?;
    let stream_index = stream.index();
    let time_base = f64::from(stream.time_base());
    let rate = stream.avg_frame_rate();
    let rate = if rate.numerator() > 0 && rate.denominator() > 0 {
        f64::from(rate)
    } else {
        f64::from(stream.rate())
    };
    let frame_period = if rate.is_finite() && rate > 0.0 {
        1.0 / rate
    } else {
        1.0 / 25.0
    };
    let turns = stream_turns(&stream);
    let mut context = ffmpeg::codec::context::Context::from_parameters(stream.parameters())
        .map_err(|e| bad("unsupported codec parameters", e))?;
    // One core per worker: the pool parallelises across sessions, not inside a frame.
    context.set_threading(ffmpeg::codec::threading::Config::count(1));
    let decoder = context
        .decoder()
        .video()
        .map_err(|e| bad("no decoder for the video codec", e))?;
    let (width, height) = (decoder.width(), decoder.height());
    if width > MAX_VIDEO_SIDE || height > MAX_VIDEO_SIDE {
        return Err(EngineError::FrameSize {
            width,
            height,
            min: 1,
            max: MAX_VIDEO_SIDE,
        });
    }
    Ok(VideoReader {
        input,
        decoder,
        stream_index,
        time_base,
        frame_period,
        turns,
        options: *options,
        scaler: None,
        decoded: ffmpeg::frame::Video::empty(),
        first_ts: None,
        last_t: None,
        frames_out: 0,
        eof_sent: false,
        finished: false,
    })
}

/// The rotation a phone recorded in the stream's display matrix, as clockwise quarter turns.
fn stream_turns(stream: &ffmpeg::format::stream::Stream) -> QuarterTurns {
    for side in stream.side_data() {
        if side.kind() != ffmpeg::codec::packet::side_data::Type::DisplayMatrix {
            continue;
        }
        let data = side.data();
        if data.len() < 9 * 4 {
            continue;
        }
        let mut matrix = [0i32; 9];
        for (value, bytes) in matrix.iter_mut().zip(data.chunks_exact(4)) {
            *value = i32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        // SAFETY: `matrix` is the 3x3 int32 display matrix av_display_rotation_get reads.
        let ccw = unsafe { ffmpeg::ffi::av_display_rotation_get(matrix.as_ptr()) };
        if !ccw.is_finite() {
            continue;
        }
        // FFmpeg's convention: the picture must be turned clockwise by minus this angle.
        let cw = (-ccw).rem_euclid(360.0);
        return match ((cw / 90.0).round() as i32) % 4 {
            1 => QuarterTurns::Cw90,
            2 => QuarterTurns::Cw180,
            3 => QuarterTurns::Cw270,
            _ => QuarterTurns::None,
        };
    }
    QuarterTurns::None
}

impl VideoReader {
    /// Scaled size (before rotation) of a `width` x `height` stream frame under `fit`.
    fn output_size(&self, width: u32, height: u32) -> (u32, u32) {
        let Some((fit_w, fit_h)) = self.options.fit else {
            return (width, height);
        };
        let (shown_w, shown_h) = if self.turns.swaps_sides() {
            (height, width)
        } else {
            (width, height)
        };
        let scale = (f64::from(fit_w) / f64::from(shown_w.max(1)))
            .min(f64::from(fit_h) / f64::from(shown_h.max(1)))
            .min(1.0);
        let scaled = |side: u32| ((f64::from(side) * scale).round() as u32).max(1);
        (scaled(width), scaled(height))
    }

    /// Convert the decoder's current frame into an upright RGB image.
    fn convert(&mut self) -> Result<RgbImage, EngineError> {
        let bad = |e: ffmpeg::Error| EngineError::BadVideo(format!("scaling a frame: {e}"));
        let (format, width, height) = (
            self.decoded.format(),
            self.decoded.width(),
            self.decoded.height(),
        );
        if width == 0 || height == 0 || width > MAX_VIDEO_SIDE || height > MAX_VIDEO_SIDE {
            return Err(EngineError::FrameSize {
                width,
                height,
                min: 1,
                max: MAX_VIDEO_SIDE,
            });
        }
        let (out_w, out_h) = self.output_size(width, height);
        let stale = self
            .scaler
            .as_ref()
            .is_none_or(|s| s.input != (format, width, height));
        if stale {
            use ffmpeg::software::scaling::{Context, Flags};
            let planar = ffmpeg::format::Pixel::YUV420P;
            let resize = if (out_w, out_h) != (width, height) {
                let context =
                    Context::get(format, width, height, planar, out_w, out_h, Flags::BILINEAR)
                        .map_err(bad)?;
                Some((context, ffmpeg::frame::Video::empty()))
            } else {
                None
            };
            let rgb_from = if resize.is_some() { planar } else { format };
            let to_rgb = Context::get(
                rgb_from,
                out_w,
                out_h,
                ffmpeg::format::Pixel::RGB24,
                out_w,
                out_h,
                Flags::BILINEAR,
            )
            .map_err(bad)?;
            self.scaler = Some(FrameScaler {
                resize,
                to_rgb,
                input: (format, width, height),
            });
        }
        let Some(scaler) = self.scaler.as_mut() else {
            return Err(EngineError::BadVideo("no scaler".into()));
        };
        let mut rgb = ffmpeg::frame::Video::empty();
        match scaler.resize.as_mut() {
            Some((context, resized)) => {
                context.run(&self.decoded, resized).map_err(bad)?;
                scaler.to_rgb.run(resized, &mut rgb).map_err(bad)?;
            }
            None => scaler.to_rgb.run(&self.decoded, &mut rgb).map_err(bad)?,
        }
        let (w, h) = (rgb.width() as usize, rgb.height() as usize);
        let stride = rgb.stride(0);
        let data = rgb.data(0);
        let mut pixels = Vec::with_capacity(w * h * 3);
        for row in 0..h {
            let start = row * stride;
            let Some(line) = data.get(start..start + w * 3) else {
                return Err(EngineError::BadVideo(
                    "scaled frame shorter than its size".into(),
                ));
            };
            pixels.extend_from_slice(line);
        }
        let image = RgbImage::from_raw(w as u32, h as u32, pixels)
            .ok_or_else(|| EngineError::BadVideo("scaled frame size mismatch".into()))?;
        Ok(match self.turns {
            QuarterTurns::None => image,
            QuarterTurns::Cw90 => image::imageops::rotate90(&image),
            QuarterTurns::Cw180 => image::imageops::rotate180(&image),
            QuarterTurns::Cw270 => image::imageops::rotate270(&image),
        })
    }

    /// Seconds from the first frame, kept strictly increasing even where timestamps are broken.
    fn frame_time(&mut self) -> f64 {
        let ts = self.decoded.timestamp().or_else(|| self.decoded.pts());
        let from_pts = ts.map(|ts| {
            let first = *self.first_ts.get_or_insert(ts);
            (ts - first) as f64 * self.time_base
        });
        let t = match (from_pts, self.last_t) {
            (Some(t), Some(last)) if t > last => t,
            (_, Some(last)) => last + self.frame_period,
            (Some(t), None) => t.max(0.0),
            (None, None) => 0.0,
        };
        self.last_t = Some(t);
        t
    }

    /// Feed the decoder the next packet of our stream (or the end of stream).
    fn feed(&mut self) -> Result<(), EngineError> {
        let mut errors = 0;
        loop {
            let mut packet = ffmpeg::Packet::empty();
            match packet.read(&mut self.input) {
                Ok(()) => {}
                // A read error past the first frames is a truncated file: decode what arrived.
                Err(_) => {
                    self.eof_sent = true;
                    // Flushing a decoder cannot meaningfully fail; frames still come out.
                    let _ = self.decoder.send_eof();
                    return Ok(());
                }
            }
            if packet.stream() != self.stream_index {
                continue;
            }
            match self.decoder.send_packet(&packet) {
                Ok(()) => return Ok(()),
                Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::util::error::EAGAIN => {
                    return Ok(())
                }
                Err(e) => {
                    errors += 1;
                    if errors >= MAX_CONSECUTIVE_PACKET_ERRORS {
                        return Err(EngineError::BadVideo(format!(
                            "{errors} corrupt packets in a row: {e}"
                        )));
                    }
                }
            }
        }
    }

    /// The next decoded frame, `Ok(None)` at the end of the stream.
    fn next_frame(&mut self) -> Result<Option<VideoFrame>, EngineError> {
        loop {
            match self.decoder.receive_frame(&mut self.decoded) {
                Ok(()) => {
                    let t = self.frame_time();
                    let image = self.convert()?;
                    return Ok(Some(VideoFrame { t, image }));
                }
                Err(ffmpeg::Error::Eof) => return Ok(None),
                Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::util::error::EAGAIN => {
                    if self.eof_sent {
                        return Ok(None);
                    }
                    self.feed()?;
                }
                // A frame the decoder could not reconstruct: skip it, like players do.
                Err(ffmpeg::Error::InvalidData) => {
                    if self.eof_sent {
                        return Ok(None);
                    }
                    self.feed()?;
                }
                Err(e) => return Err(EngineError::BadVideo(format!("decoding: {e}"))),
            }
        }
    }
}

impl Iterator for VideoReader {
    type Item = Result<VideoFrame, EngineError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        if self
            .options
            .max_frames
            .is_some_and(|max| self.frames_out >= max)
        {
            self.finished = true;
            return None;
        }
        match self.next_frame() {
            Ok(Some(frame)) => {
                self.frames_out += 1;
                Some(Ok(frame))
            }
            Ok(None) => {
                self.finished = true;
                (self.frames_out == 0)
                    .then(|| Err(EngineError::BadVideo("no decodable video frame".into())))
            }
            Err(e) => {
                self.finished = true;
                Some(Err(e))
            }
        }
    }
}

/// A decoded still image or an opened video.
// Made once per input file and matched at once: boxing the reader would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Media {
    /// A JPEG or PNG, upright.
    Image(RgbImage),
    /// Anything else FFmpeg can demux and decode.
    Video(VideoReader),
}

/// Open an image or a video, choosing by the file's content (magic bytes), not its extension.
pub fn open_media(
    path: &Path,
    options: &VideoOptions,
    limits: &MediaLimits,
) -> Result<Media, EngineError> {
    let io_error = |source| EngineError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io_error)?;
    let mut head = [0u8; 8];
    let mut filled = 0;
    while filled < head.len() {
        match file.read(&mut head[filled..]).map_err(io_error)? {
            0 => break,
            n => filled += n,
        }
    }
    let head = &head[..filled];
    let is_image = head.starts_with(&[0xFF, 0xD8, 0xFF]) || head.starts_with(b"\x89PNG\r\n\x1a\n");
    if !is_image {
        return open_video(path, options).map(Media::Video);
    }
    // Images larger than any accepted one are refused before reading them whole.
    let max_bytes = u64::from(limits.max_side) * u64::from(limits.max_side) * 4 + (1 << 20);
    let size = file.metadata().map_err(io_error)?.len();
    if size > max_bytes {
        return Err(EngineError::BadImage(format!(
            "{}: {size} bytes is more than any accepted image needs",
            path.display()
        )));
    }
    let bytes = std::fs::read(path).map_err(io_error)?;
    decode_image(&bytes, limits).map(Media::Image)
}
