//! dlib's ResNet face embedding (128 values) with its 5-point alignment: identity continuity
//! within a session ("is this still the same person?") and the optional 1:1 compare.
//!
//! Only the 5-point shape predictor is used, never the 68-point one (its training data forbids
//! commercial use).
//!
//! The ResNet serves on OpenVINO: its weights are read from dlib's own model file at startup
//! (through dlib, `native/dlib_resnet.cpp`), the same layers are written as OpenVINO IR in memory
//! and compiled. Same weights, same chip (dlib cuts it), values equal to dlib's within 1e-6, at
//! about 40 % of dlib's CPU a face (docs/decisions/0006-identity-on-openvino.md). dlib's own
//! network stays available as the reference the OpenVINO one is tested against.

use std::ffi::{c_char, c_int, c_long, c_void, CString};
use std::fmt::Write as _;
use std::path::Path;

use dlib_face_recognition::{
    FaceEncoderNetwork, FaceEncoderTrait, ImageMatrix, LandmarkPredictor, LandmarkPredictorTrait,
    Rectangle,
};
use image::RgbImage;

use crate::runtime::{InferencePrecision, ModelSession, Runtime};
use crate::{Embedding, EngineError, FaceObservation, IdentityEngine, ModelFile, ModelRegistry};

/// Faces narrower than this (in frame pixels) are not embedded: dlib's 150 px chip would be
/// mostly interpolation and the distance meaningless.
pub const MIN_FACE_SIDE: f32 = 40.0;

/// Share of the face box that must lie inside the frame for the face to be embedded.
const MIN_BOX_INSIDE: f32 = 0.8;

/// The landmark model's point count (the 5-point predictor: eye corners and nose base).
const SHAPE_POINTS: usize = 5;

/// dlib's chip side and the values of the embedding.
const CHIP_SIDE: usize = 150;
const EMBEDDING_LEN: usize = 128;

/// The per-channel means dlib's `input_rgb_image_sized` subtracts (red, green, blue) before
/// dividing by 256.
const CHIP_MEAN: [f32; 3] = [122.782, 117.001, 104.298];

/// dlib's face recognition: 5-point alignment, then the ResNet embedding.
///
/// Not `Sync` (both networks keep per-call state): one instance per worker, each network on one
/// thread (OpenVINO by the runtime's settings; dlib's by pinning OpenBLAS, which was about 29 ms
/// a face against 80 with OpenBLAS threads fighting over two cores).
pub struct DlibIdentity {
    landmarks: LandmarkPredictor,
    network: Network,
}

/// Which runtime computes the ResNet.
enum Network {
    /// dlib's own (the reference; about 14 ms of CPU a face with alignment and chip).
    Dlib(Box<FaceEncoderNetwork>),
    /// The same weights on OpenVINO, fed dlib's chip (about 5 ms a face with alignment and chip).
    OpenVino {
        session: ModelSession,
        chip: Vec<u8>,
        // The core the session was compiled by, kept for as long as the session lives.
        _runtime: Runtime,
    },
}

impl std::fmt::Debug for DlibIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DlibIdentity").finish_non_exhaustive()
    }
}

#[link(name = "openblas")]
extern "C" {
    /// OpenBLAS's own knob (dlib's BLAS is OpenBLAS: `scripts/setup` installs libopenblas-dev).
    fn openblas_set_num_threads(num_threads: std::os::raw::c_int);
}

/// `ModelMissing` for a path that is not a file.
fn require_file(path: &Path) -> Result<(), EngineError> {
    if path.is_file() {
        return Ok(());
    }
    Err(EngineError::ModelMissing {
        file: path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into(),
        ),
        dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
    })
}

impl DlibIdentity {
    /// The serving engine: the registry's 5-point shape predictor, and its
    /// `dlib_face_recognition_resnet_model_v1.dat` run on OpenVINO (f32 whatever precision the face
    /// mesh uses: a bf16 embedding would move distances near the threshold; one thread).
    pub fn open(registry: &ModelRegistry) -> Result<Self, EngineError> {
        let shape_predictor_5 = registry.path(ModelFile::DlibShapePredictor5);
        let resnet = registry.path(ModelFile::DlibFaceRecognition);
        require_file(&shape_predictor_5)?;
        require_file(&resnet)?;
        let landmarks = open_landmarks(&shape_predictor_5)?;
        let (xml, weights) = resnet_ir(&read_resnet_layers(&resnet)?)?;
        let mut runtime = Runtime::new(registry, InferencePrecision::F32)?;
        let session = runtime.compile_ir("dlib_face_recognition_resnet_v1", &xml, &weights)?;
        let input = [1, 3, CHIP_SIDE as i64, CHIP_SIDE as i64];
        if session.input_dims() != input || session.output_lens() != [EMBEDDING_LEN] {
            return Err(EngineError::Runtime(format!(
                "dlib ResNet on OpenVINO: input {:?}, outputs {:?}; expected {input:?} and [128]",
                session.input_dims(),
                session.output_lens()
            )));
        }
        Ok(Self {
            landmarks,
            network: Network::OpenVino {
                session,
                chip: vec![0; CHIP_SIDE * CHIP_SIDE * 3],
                _runtime: runtime,
            },
        })
    }

    /// The reference engine: `shape_predictor_5_face_landmarks.dat` and
    /// `dlib_face_recognition_resnet_model_v1.dat` both run by dlib, as before OpenVINO served
    /// the network. For tests and benchmarks that compare the two.
    pub fn open_dlib_network(shape_predictor_5: &Path, resnet: &Path) -> Result<Self, EngineError> {
        // The shape predictor first: a missing models folder is reported by its first file.
        require_file(shape_predictor_5)?;
        require_file(resnet)?;
        let landmarks = open_landmarks(shape_predictor_5)?;
        // SAFETY: sets OpenBLAS's global thread count; callable at any time, no pointers involved.
        unsafe { openblas_set_num_threads(1) };
        let network = FaceEncoderNetwork::open(resnet)
            .map_err(|e| EngineError::Runtime(format!("dlib face network: {e}")))?;
        Ok(Self {
            landmarks,
            network: Network::Dlib(Box::new(network)),
        })
    }
}

/// Opens the 5-point shape predictor, refusing any other (the callers checked that the file is
/// there, in the order a missing models folder is reported by).
fn open_landmarks(shape_predictor_5: &Path) -> Result<LandmarkPredictor, EngineError> {
    let landmarks = LandmarkPredictor::open(shape_predictor_5)
        .map_err(|e| EngineError::Runtime(format!("dlib shape predictor: {e}")))?;
    // The alignment below assumes 5 points; a 68-point file must never be accepted.
    let probe = RgbImage::new(32, 32);
    let parts = landmarks
        .face_landmarks(
            &to_matrix(&probe),
            &Rectangle {
                left: 4,
                top: 4,
                right: 27,
                bottom: 27,
            },
        )
        .len();
    if parts != SHAPE_POINTS {
        return Err(EngineError::Runtime(format!(
            "{} predicts {parts} points; only the 5-point shape predictor is accepted",
            shape_predictor_5.display()
        )));
    }
    Ok(landmarks)
}

/// Copy an RGB image into dlib's matrix.
fn to_matrix(image: &RgbImage) -> ImageMatrix {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let raw: &[u8] = image.as_raw();
    debug_assert!(raw.len() >= w * h * 3);
    // SAFETY: an `RgbImage` holds exactly width * height * 3 packed bytes (checked by
    // `ImageBuffer` on construction), which is what `ImageMatrix::new` reads.
    unsafe { ImageMatrix::new(w, h, raw.as_ptr()) }
}

/// The square box dlib's detector would draw for a face our detector boxed as `face`.
///
/// dlib's boxes (what its shape predictor was trained on) are square, about 0.9 of a
/// BlazeFace-style box's mean side and centred a little lower (measured on the Obama portrait:
/// 258 px square centred 5 px below a 270x300 brow-to-chin box).
fn dlib_square(face: &crate::FaceBox) -> (f32, f32, f32) {
    let side = (face.width + face.height) / 2.0 * 0.9;
    let (cx, cy) = face.center();
    (cx, cy + face.height * 0.02, side)
}

impl IdentityEngine for DlibIdentity {
    fn embed(
        &mut self,
        frame: &RgbImage,
        face: &FaceObservation,
    ) -> Result<Option<Embedding>, EngineError> {
        let b = &face.face;
        let (fw, fh) = (frame.width() as f32, frame.height() as f32);
        let finite = [b.x, b.y, b.width, b.height].iter().all(|v| v.is_finite());
        if !finite || b.width < MIN_FACE_SIDE || b.height < MIN_FACE_SIDE {
            return Ok(None);
        }
        let inside_w = (b.x + b.width).min(fw) - b.x.max(0.0);
        let inside_h = (b.y + b.height).min(fh) - b.y.max(0.0);
        if inside_w <= 0.0 || inside_h <= 0.0 || inside_w * inside_h < MIN_BOX_INSIDE * b.area() {
            return Ok(None);
        }
        // Only the face and a margin go to dlib: its chip (150 px, 25% padding) never reaches
        // further, and copying a whole frame would cost more than the landmarks.
        let (cx, cy, side) = dlib_square(b);
        let margin = side * 1.0;
        let x0 = (cx - side / 2.0 - margin).max(0.0).floor() as u32;
        let y0 = (cy - side / 2.0 - margin).max(0.0).floor() as u32;
        let x1 = ((cx + side / 2.0 + margin).ceil().max(0.0) as u32).min(frame.width());
        let y1 = ((cy + side / 2.0 + margin).ceil().max(0.0) as u32).min(frame.height());
        if x1 <= x0 || y1 <= y0 {
            return Ok(None);
        }
        let crop = image::imageops::crop_imm(frame, x0, y0, x1 - x0, y1 - y0).to_image();
        let matrix = to_matrix(&crop);
        let rect = Rectangle {
            left: (cx - side / 2.0 - x0 as f32).round() as _,
            top: (cy - side / 2.0 - y0 as f32).round() as _,
            right: (cx + side / 2.0 - x0 as f32).round() as _,
            bottom: (cy + side / 2.0 - y0 as f32).round() as _,
        };
        let landmarks = self.landmarks.face_landmarks(&matrix, &rect);
        if landmarks.len() != SHAPE_POINTS {
            return Ok(None);
        }
        let values: Vec<f32> = match &mut self.network {
            Network::Dlib(network) => {
                let encodings =
                    network.get_face_encodings(&matrix, std::slice::from_ref(&landmarks), 0);
                let Some(encoding) = encodings.first() else {
                    return Ok(None);
                };
                encoding.as_ref().iter().map(|&v| v as f32).collect()
            }
            Network::OpenVino { session, chip, .. } => {
                cut_chip(&crop, &landmarks, chip)?;
                fill_input(chip, session.input_mut()?);
                session.infer()?;
                let mut values = Vec::with_capacity(EMBEDDING_LEN);
                session.read_output(0, &mut values)?;
                values
            }
        };
        if values.len() != EMBEDDING_LEN || values.iter().any(|v| !v.is_finite()) {
            return Err(EngineError::Runtime(format!(
                "dlib face network returned {} values, expected 128 finite ones",
                values.len()
            )));
        }
        Ok(Some(Embedding(values)))
    }
}

/// The callback `livegate_dlib_resnet_layers` hands each layer to.
type LayerFn = unsafe extern "C" fn(
    ctx: *mut c_void,
    kind: c_int,
    dims: *const c_long,
    n_dims: usize,
    params: *const f32,
    n_params: usize,
);

// native/dlib_resnet.cpp, compiled by build.rs.
extern "C" {
    fn livegate_dlib_resnet_layers(
        path: *const c_char,
        ctx: *mut c_void,
        emit: LayerFn,
        error: *mut c_char,
        error_len: usize,
    ) -> c_int;
    fn livegate_dlib_face_chip(
        rgb: *const u8,
        width: c_long,
        height: c_long,
        points: *const c_long,
        n_points: usize,
        chip: *mut u8,
        error: *mut c_char,
        error_len: usize,
    ) -> c_int;
}

/// The size of the error message buffer the shim fills.
const SHIM_ERROR_LEN: usize = 512;

/// The shim's error message, up to its terminating zero.
fn shim_error(buffer: &[u8]) -> String {
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    String::from_utf8_lossy(&buffer[..end]).into_owned()
}

/// One of the ResNet's layers with parameters, as dlib holds it.
#[derive(Debug, Clone, PartialEq)]
enum ResnetLayer {
    /// `filters` x `channels` x `rows` x `cols` weights then `filters` biases; the padding is
    /// the same on every side.
    Convolution {
        filters: i64,
        rows: i64,
        cols: i64,
        stride: i64,
        padding: i64,
        params: Vec<f32>,
    },
    /// Per channel: `gammas` then `betas` (dlib's batch norm, folded: x * gamma + beta).
    Affine { channels: i64, params: Vec<f32> },
    /// inputs x `outputs` weights, row-major, no bias.
    FullyConnected { outputs: i64, params: Vec<f32> },
}

/// Receives one layer from the shim; `ctx` is the `Vec<Option<ResnetLayer>>` being filled
/// (`None` for a layer kind this code does not know, refused afterwards).
unsafe extern "C" fn push_layer(
    ctx: *mut c_void,
    kind: c_int,
    dims: *const c_long,
    n_dims: usize,
    params: *const f32,
    n_params: usize,
) {
    // SAFETY: `ctx` is the vector `read_resnet_layers` passed, alive and not aliased during the
    // call; `dims` and `params` point to `n_dims` and `n_params` values dlib owns for the call.
    let (layers, dims, params) = unsafe {
        (
            &mut *ctx.cast::<Vec<Option<ResnetLayer>>>(),
            std::slice::from_raw_parts(dims, n_dims),
            if n_params == 0 {
                &[][..]
            } else {
                std::slice::from_raw_parts(params, n_params)
            },
        )
    };
    // c_long is i64 on the 64-bit Linux targets dlib is built for here.
    let dims: Vec<i64> = dims.to_vec();
    let params = params.to_vec();
    layers.push(match (kind, dims.as_slice()) {
        (0, &[filters, rows, cols, stride, padding]) => Some(ResnetLayer::Convolution {
            filters,
            rows,
            cols,
            stride,
            padding,
            params,
        }),
        (1, &[channels]) => Some(ResnetLayer::Affine { channels, params }),
        (2, &[outputs]) => Some(ResnetLayer::FullyConnected { outputs, params }),
        _ => None,
    });
}

/// Reads the ResNet's layers from dlib's model file, input side first.
fn read_resnet_layers(resnet: &Path) -> Result<Vec<ResnetLayer>, EngineError> {
    let bad = |why: String| EngineError::Runtime(format!("{}: {why}", resnet.display()));
    let path = resnet
        .to_str()
        .and_then(|p| CString::new(p).ok())
        .ok_or_else(|| bad("path is not utf-8".into()))?;
    let mut layers: Vec<Option<ResnetLayer>> = Vec::new();
    let mut error = [0u8; SHIM_ERROR_LEN];
    // SAFETY: `path` is a zero-terminated string, `layers` outlives the call and is only
    // touched by `push_layer` during it, `error` holds `SHIM_ERROR_LEN` bytes.
    let status = unsafe {
        livegate_dlib_resnet_layers(
            path.as_ptr(),
            (&mut layers as *mut Vec<Option<ResnetLayer>>).cast(),
            push_layer,
            error.as_mut_ptr().cast(),
            error.len(),
        )
    };
    if status != 0 {
        return Err(bad(format!("dlib cannot read it: {}", shim_error(&error))));
    }
    // dlib visits from the output back to the input.
    layers.reverse();
    layers
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| bad("a layer of an unknown kind".into()))
}

/// Cuts dlib's 150 px chip (25% padding) aligned on the 5 `landmarks` of `image`.
fn cut_chip(
    image: &RgbImage,
    landmarks: &[dlib_face_recognition::Point],
    chip: &mut [u8],
) -> Result<(), EngineError> {
    let points: Vec<c_long> = landmarks.iter().flat_map(|p| [p.x(), p.y()]).collect();
    if chip.len() != CHIP_SIDE * CHIP_SIDE * 3 || landmarks.len() != SHAPE_POINTS {
        return Err(EngineError::Runtime("dlib chip: wrong buffer sizes".into()));
    }
    let mut error = [0u8; SHIM_ERROR_LEN];
    // SAFETY: `image` holds width * height * 3 packed bytes (`ImageBuffer` checks it), `points`
    // holds 2 values per landmark, `chip` the 150 * 150 * 3 bytes the shim writes, `error`
    // `SHIM_ERROR_LEN` bytes.
    let status = unsafe {
        livegate_dlib_face_chip(
            image.as_raw().as_ptr(),
            c_long::from(image.width()),
            c_long::from(image.height()),
            points.as_ptr(),
            landmarks.len(),
            chip.as_mut_ptr(),
            error.as_mut_ptr().cast(),
            error.len(),
        )
    };
    if status != 0 {
        return Err(EngineError::Runtime(format!(
            "dlib chip: {}",
            shim_error(&error)
        )));
    }
    Ok(())
}

/// dlib's input layer: packed RGB chip to planar (R, G, B) values, mean removed, over 256.
fn fill_input(chip: &[u8], input: &mut [f32]) {
    let plane = CHIP_SIDE * CHIP_SIDE;
    for (c, mean) in CHIP_MEAN.iter().enumerate() {
        let out = &mut input[c * plane..(c + 1) * plane];
        for (o, px) in out.iter_mut().zip(chip.chunks_exact(3)) {
            *o = (f32::from(px[c]) - mean) / 256.0;
        }
    }
}

/// One output of an IR layer: the layer, its port, the shape it carries.
#[derive(Debug, Clone)]
struct IrPort {
    layer: usize,
    port: usize,
    dims: Vec<i64>,
}

/// Writes an OpenVINO IR (version 11, opset1 operations) and its weights binary in memory.
#[derive(Debug, Default)]
struct IrWriter {
    layers: String,
    edges: String,
    weights: Vec<u8>,
    next_id: usize,
}

fn csv(values: &[i64]) -> String {
    values
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn dims_xml(dims: &[i64]) -> String {
    dims.iter().map(|d| format!("<dim>{d}</dim>")).collect()
}

impl IrWriter {
    /// Adds a layer of `kind` with attributes `data`, fed by `inputs`, producing one output of
    /// `precision` and `dims` (none for a Result).
    fn layer(
        &mut self,
        kind: &str,
        data: &str,
        inputs: &[&IrPort],
        output: Option<(&str, Vec<i64>)>,
    ) -> IrPort {
        let id = self.next_id;
        self.next_id += 1;
        // Writing to a String cannot fail.
        let _ = write!(
            self.layers,
            r#"<layer id="{id}" name="{kind}_{id}" type="{kind}" version="opset1">"#
        );
        if !data.is_empty() {
            let _ = write!(self.layers, "<data {data}/>");
        }
        if !inputs.is_empty() {
            self.layers.push_str("<input>");
            for (i, input) in inputs.iter().enumerate() {
                let _ = write!(
                    self.layers,
                    r#"<port id="{i}">{}</port>"#,
                    dims_xml(&input.dims)
                );
                let _ = writeln!(
                    self.edges,
                    r#"<edge from-layer="{}" from-port="{}" to-layer="{id}" to-port="{i}"/>"#,
                    input.layer, input.port
                );
            }
            self.layers.push_str("</input>");
        }
        let port = inputs.len();
        let dims = match output {
            Some((precision, dims)) => {
                let _ = write!(
                    self.layers,
                    r#"<output><port id="{port}" precision="{precision}">{}</port></output>"#,
                    dims_xml(&dims)
                );
                dims
            }
            None => Vec::new(),
        };
        self.layers.push_str("</layer>\n");
        IrPort {
            layer: id,
            port,
            dims,
        }
    }

    /// A constant whose little-endian bytes are `bytes`, aligned in the weights binary.
    fn constant(&mut self, element: &str, precision: &str, bytes: &[u8], dims: Vec<i64>) -> IrPort {
        // Aligned so the plugin can use the values in place.
        while !self.weights.len().is_multiple_of(64) {
            self.weights.push(0);
        }
        let offset = self.weights.len();
        self.weights.extend_from_slice(bytes);
        let data = format!(
            r#"element_type="{element}" shape="{}" offset="{offset}" size="{}""#,
            csv(&dims),
            bytes.len()
        );
        self.layer("Const", &data, &[], Some((precision, dims)))
    }

    fn constant_f32(&mut self, values: &[f32], dims: Vec<i64>) -> IrPort {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.constant("f32", "FP32", &bytes, dims)
    }

    fn constant_i64(&mut self, values: &[i64]) -> IrPort {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.constant("i64", "I64", &bytes, vec![values.len() as i64])
    }

    /// An f32 operation whose output has `dims`.
    fn op(&mut self, kind: &str, data: &str, inputs: &[&IrPort], dims: Vec<i64>) -> IrPort {
        self.layer(kind, data, inputs, Some(("FP32", dims)))
    }

    fn relu(&mut self, x: &IrPort) -> IrPort {
        self.op("ReLU", "", &[x], x.dims.clone())
    }

    fn add(&mut self, a: &IrPort, b: &IrPort) -> IrPort {
        self.op("Add", r#"auto_broadcast="numpy""#, &[a, b], a.dims.clone())
    }

    /// A pooling window over the two spatial axes, no padding, rounding down (dlib's pools).
    fn pool(&mut self, kind: &str, x: &IrPort, window: i64, stride: i64) -> IrPort {
        let mut dims = x.dims.clone();
        for d in &mut dims[2..] {
            *d = (*d - window) / stride + 1;
        }
        let extra = if kind == "AvgPool" {
            r#" exclude-pad="true""#
        } else {
            ""
        };
        let data = format!(
            r#"strides="{stride},{stride}" kernel="{window},{window}" pads_begin="0,0" pads_end="0,0" rounding_type="floor" auto_pad="explicit"{extra}"#
        );
        self.op(kind, &data, &[x], dims)
    }

    /// Zeros after the end of each axis up to `dims`: dlib's `add_prev` adds tensors of
    /// different shapes as if the smaller were padded so.
    fn pad_to(&mut self, x: &IrPort, dims: &[i64]) -> IrPort {
        if x.dims == dims {
            return x.clone();
        }
        let begin = self.constant_i64(&vec![0; dims.len()]);
        let end: Vec<i64> = dims.iter().zip(&x.dims).map(|(m, d)| m - d).collect();
        let end = self.constant_i64(&end);
        self.op(
            "Pad",
            r#"pad_mode="constant""#,
            &[x, &begin, &end],
            dims.to_vec(),
        )
    }

    /// The IR document.
    fn finish(self, name: &str) -> (String, Vec<u8>) {
        let xml = format!(
            "<?xml version=\"1.0\"?>\n<net name=\"{name}\" version=\"11\">\n<layers>\n{}</layers>\n<edges>\n{}</edges>\n</net>\n",
            self.layers, self.edges
        );
        (xml, self.weights)
    }
}

/// Writes dlib's face recognition ResNet (input 1x3x150x150, output 1x128) as OpenVINO IR.
///
/// The layout is the one dlib's `anet_type` declares: convolution, affine, ReLU, 3x3 max pool;
/// then residual blocks (convolution, affine, ReLU, convolution, affine, plus the block's input,
/// ReLU), where a block whose first convolution strides 2 adds its input through a 2x2 average
/// pool and zero padding; then the mean over the image and the 128-value projection.
fn resnet_ir(layers: &[ResnetLayer]) -> Result<(Vec<u8>, Vec<u8>), EngineError> {
    let bad = |why: &str| EngineError::Runtime(format!("dlib ResNet: {why}"));
    let mut ir = IrWriter::default();
    let mut layers = layers.iter().peekable();
    let side = CHIP_SIDE as i64;
    let input = ir.layer(
        "Parameter",
        &format!(r#"shape="1,3,{side},{side}" element_type="f32""#),
        &[],
        Some(("FP32", vec![1, 3, side, side])),
    );

    let convolution = |ir: &mut IrWriter, x: &IrPort, layer: Option<&ResnetLayer>| {
        let Some(ResnetLayer::Convolution {
            filters,
            rows,
            cols,
            stride,
            padding,
            params,
        }) = layer
        else {
            return Err(bad("expected a convolution"));
        };
        let channels = x.dims[1];
        let weights = (filters * channels * rows * cols) as usize;
        if params.len() != weights + *filters as usize || *stride < 1 {
            return Err(bad("a convolution's parameters do not fit its input"));
        }
        let w = ir.constant_f32(&params[..weights], vec![*filters, channels, *rows, *cols]);
        let b = ir.constant_f32(&params[weights..], vec![1, *filters, 1, 1]);
        let mut dims = vec![1, *filters, 0, 0];
        for (i, k) in [(2, rows), (3, cols)] {
            dims[i] = (x.dims[i] + 2 * padding - k) / stride + 1;
        }
        let y = ir.op(
            "Convolution",
            &format!(
                r#"strides="{stride},{stride}" dilations="1,1" pads_begin="{padding},{padding}" pads_end="{padding},{padding}" auto_pad="explicit""#
            ),
            &[x, &w],
            dims.clone(),
        );
        Ok((ir.add(&y, &b), *stride))
    };
    let affine = |ir: &mut IrWriter, x: &IrPort, layer: Option<&ResnetLayer>| {
        let Some(ResnetLayer::Affine { channels, params }) = layer else {
            return Err(bad("expected an affine layer"));
        };
        let k = *channels as usize;
        if x.dims[1] != *channels || params.len() != 2 * k {
            return Err(bad("an affine layer's parameters do not fit its input"));
        }
        let gamma = ir.constant_f32(&params[..k], vec![1, *channels, 1, 1]);
        let beta = ir.constant_f32(&params[k..], vec![1, *channels, 1, 1]);
        let y = ir.op(
            "Multiply",
            r#"auto_broadcast="numpy""#,
            &[x, &gamma],
            x.dims.clone(),
        );
        Ok(ir.add(&y, &beta))
    };

    let (x, _) = convolution(&mut ir, &input, layers.next())?;
    let x = affine(&mut ir, &x, layers.next())?;
    let x = ir.relu(&x);
    let mut x = ir.pool("MaxPool", &x, 3, 2);
    while let Some(ResnetLayer::Convolution { .. }) = layers.peek() {
        let (y, stride) = convolution(&mut ir, &x, layers.next())?;
        let y = affine(&mut ir, &y, layers.next())?;
        let y = ir.relu(&y);
        let (y, _) = convolution(&mut ir, &y, layers.next())?;
        let y = affine(&mut ir, &y, layers.next())?;
        let sum = match stride {
            1 if x.dims == y.dims => ir.add(&y, &x),
            2 => {
                let skip = ir.pool("AvgPool", &x, 2, 2);
                let dims: Vec<i64> = skip
                    .dims
                    .iter()
                    .zip(&y.dims)
                    .map(|(a, b)| *a.max(b))
                    .collect();
                let skip = ir.pad_to(&skip, &dims);
                let y = ir.pad_to(&y, &dims);
                ir.add(&skip, &y)
            }
            _ => return Err(bad("a residual block of an unexpected shape")),
        };
        x = ir.relu(&sum);
    }
    let axes = ir.constant_i64(&[2, 3]);
    let pooled = ir.op(
        "ReduceMean",
        r#"keep_dims="false""#,
        &[&x, &axes],
        x.dims[..2].to_vec(),
    );
    let Some(ResnetLayer::FullyConnected { outputs, params }) = layers.next() else {
        return Err(bad("expected the fully connected layer"));
    };
    let inputs = pooled.dims[1];
    if *outputs != EMBEDDING_LEN as i64 || params.len() as i64 != inputs * outputs {
        return Err(bad("the fully connected layer does not fit"));
    }
    let projection = ir.constant_f32(params, vec![inputs, *outputs]);
    let embedding = ir.op(
        "MatMul",
        r#"transpose_a="false" transpose_b="false""#,
        &[&pooled, &projection],
        vec![1, *outputs],
    );
    ir.layer("Result", "", &[&embedding], None);
    if layers.next().is_some() {
        return Err(bad("layers after the fully connected one"));
    }
    let (xml, weights) = ir.finish("dlib_face_recognition_resnet_v1");
    Ok((xml.into_bytes(), weights))
}
