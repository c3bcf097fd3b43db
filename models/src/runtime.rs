//! The OpenVINO runtime that runs MediaPipe's TFLite graphs (read directly, no conversion).
//!
//! The library comes from the models folder (`var/models/openvino/`, put there by
//! `scripts/fetch-models`), never from `LD_LIBRARY_PATH`, so the runtime that serves is the one
//! the hashes and the measurements were made with.

use std::path::Path;
use std::sync::Mutex;

use openvino::{CompiledModel, Core, DeviceType, ElementType, InferRequest, RwPropertyKey, Tensor};

use crate::registry::{ModelFile, ModelRegistry};
use crate::EngineError;

/// The arithmetic the CPU plugin computes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InferencePrecision {
    /// Full precision: landmarks equal the reference runtime's.
    #[default]
    F32,
    /// Faster on CPUs with bf16 units; landmarks drift up to 0.5 px of the mesh crop.
    Bf16,
}

/// The environment variable that picks the precision of every analyzer built with
/// `AnalyzerConfig::default()` (the server's workers, `livegate analyze`): `f32` or `bf16`.
pub const PRECISION_ENV: &str = "LIVEGATE_INFERENCE_PRECISION";

impl InferencePrecision {
    /// The precision named by [`PRECISION_ENV`]; f32 when it is unset. A value that is neither
    /// `f32` nor `bf16` is refused (it would otherwise silently measure the wrong thing).
    pub fn from_env() -> Result<Self, EngineError> {
        match std::env::var(PRECISION_ENV) {
            Err(std::env::VarError::NotPresent) => Ok(InferencePrecision::F32),
            Ok(v) if v.eq_ignore_ascii_case("f32") => Ok(InferencePrecision::F32),
            Ok(v) if v.eq_ignore_ascii_case("bf16") => Ok(InferencePrecision::Bf16),
            Ok(_) | Err(std::env::VarError::NotUnicode(_)) => Err(EngineError::Runtime(format!(
                "{PRECISION_ENV} must be f32 or bf16"
            ))),
        }
    }

    fn as_hint(self) -> &'static str {
        match self {
            InferencePrecision::F32 => "f32",
            InferencePrecision::Bf16 => "bf16",
        }
    }
}

/// The library path the process loaded; OpenVINO can be loaded once per process only.
static LOADED_LIBRARY: Mutex<Option<std::path::PathBuf>> = Mutex::new(None);

fn runtime_error(context: &str, err: impl std::fmt::Display) -> EngineError {
    EngineError::Runtime(format!("{context}: {err}"))
}

/// Loads `libopenvino_c.so` from `dir` once for the whole process.
fn load_library(dir: &Path) -> Result<(), EngineError> {
    let mut loaded = LOADED_LIBRARY
        .lock()
        .map_err(|_| EngineError::Runtime("openvino loader lock poisoned".into()))?;
    if loaded.is_some() {
        return Ok(());
    }
    let library = dir.join("libopenvino_c.so");
    if !library.exists() {
        return Err(EngineError::ModelMissing {
            file: "openvino/libopenvino_c.so".into(),
            dir: dir.to_owned(),
        });
    }
    openvino_sys::library::load_from(&library)
        .map_err(|e| runtime_error(&format!("cannot load {}", library.display()), e))?;
    *loaded = Some(library);
    Ok(())
}

/// One OpenVINO core configured for single-threaded, latency-bound CPU inference.
pub struct Runtime {
    core: Core,
}

impl Runtime {
    /// Loads the runtime from the registry's folder and configures its CPU device.
    pub fn new(
        registry: &ModelRegistry,
        precision: InferencePrecision,
    ) -> Result<Runtime, EngineError> {
        load_library(&registry.openvino_dir())?;
        let mut core = Core::new().map_err(|e| runtime_error("cannot create core", e))?;
        // One thread per model: the pool of workers gives the parallelism, and a shared machine
        // punishes models that spin up threads of their own. The stream, latency and pinning
        // hints were measured against threads and precision alone: no difference beyond noise on
        // one core, so they stay to keep the plugin from choosing for itself.
        let properties = [
            (RwPropertyKey::InferenceNumThreads, "1"),
            (RwPropertyKey::NumStreams, "1"),
            (RwPropertyKey::HintPerformanceMode, "LATENCY"),
            (RwPropertyKey::HintEnableCpuPinning, "NO"),
            (RwPropertyKey::HintInferencePrecision, precision.as_hint()),
        ];
        for (key, value) in properties {
            core.set_property(&DeviceType::CPU, &key, value)
                .map_err(|e| runtime_error(&format!("cannot set {}={value}", key.as_ref()), e))?;
        }
        Ok(Runtime { core })
    }

    /// Reads and compiles one TFLite model for the CPU.
    pub fn compile(
        &mut self,
        registry: &ModelRegistry,
        model: ModelFile,
    ) -> Result<ModelSession, EngineError> {
        self.compile_batched(registry, model, 1)
    }

    /// Reads one TFLite model, sets its NHWC input's batch to `batch` and compiles it.
    pub fn compile_batched(
        &mut self,
        registry: &ModelRegistry,
        model: ModelFile,
        batch: i64,
    ) -> Result<ModelSession, EngineError> {
        let path = registry.path(model);
        let name = model.file_name();
        let path_str = path
            .to_str()
            .ok_or_else(|| EngineError::Runtime(format!("{name}: path is not utf-8")))?;
        let mut read = self
            .core
            .read_model_from_file(path_str, "")
            .map_err(|e| runtime_error(&format!("cannot read {name}"), e))?;
        if batch != 1 {
            let input = read
                .get_input_by_index(0)
                .and_then(|n| n.get_shape())
                .map_err(|e| runtime_error(&format!("{name}: input shape"), e))?;
            let mut dims = input.get_dimensions().to_vec();
            if let Some(first) = dims.first_mut() {
                *first = batch;
            }
            let shape = openvino::PartialShape::new_static(dims.len() as i64, &dims)
                .map_err(|e| runtime_error(&format!("{name}: batch shape"), e))?;
            read.reshape_single_input(&shape)
                .map_err(|e| runtime_error(&format!("{name}: cannot batch {batch}"), e))?;
        }
        let mut compiled = self
            .core
            .compile_model(&read, DeviceType::CPU)
            .map_err(|e| runtime_error(&format!("cannot compile {name}"), e))?;
        ModelSession::new(name, &mut compiled).map(|mut s| {
            s.compiled = Some(compiled);
            s
        })
    }

    /// Compiles a model given in memory as OpenVINO IR: `xml` the network, `weights` the binary
    /// its constants point into (byte offsets). For networks built at startup from another
    /// framework's weights, so no converted file has to be shipped.
    pub fn compile_ir(
        &mut self,
        name: &'static str,
        xml: &[u8],
        weights: &[u8],
    ) -> Result<ModelSession, EngineError> {
        let err =
            |what: &str, e: openvino::InferenceError| runtime_error(&format!("{name}: {what}"), e);
        let len = i64::try_from(weights.len())
            .map_err(|_| EngineError::Runtime(format!("{name}: weights too large")))?;
        let shape = openvino::Shape::new(&[len]).map_err(|e| err("weights shape", e))?;
        let mut tensor = Tensor::new(ElementType::U8, &shape).map_err(|e| err("weights", e))?;
        tensor
            .get_raw_data_mut()
            .map_err(|e| err("weights data", e))?
            .copy_from_slice(weights);
        let read = self
            .core
            .read_model_from_buffer(xml, Some(&tensor))
            .map_err(|e| err("cannot read the IR", e))?;
        let mut compiled = self
            .core
            .compile_model(&read, DeviceType::CPU)
            .map_err(|e| err("cannot compile", e))?;
        ModelSession::new(name, &mut compiled).map(|mut s| {
            s.compiled = Some(compiled);
            // The constants may point into this buffer rather than copy it.
            s.weights = Some(tensor);
            s
        })
    }
}

/// One compiled model with its inference request and a reusable f32 input tensor.
pub struct ModelSession {
    name: &'static str,
    request: InferRequest,
    input: Tensor,
    input_dims: Vec<i64>,
    outputs: Vec<OutputSlot>,
    // Kept alive (and dropped last) for as long as the request runs against it.
    compiled: Option<CompiledModel>,
    // An in-memory model's weights (`Runtime::compile_ir`), outliving the compiled model.
    weights: Option<Tensor>,
}

/// One output of a model, by its index in the compiled model and its element count.
struct OutputSlot {
    name: String,
    len: usize,
}

impl ModelSession {
    fn new(name: &'static str, compiled: &mut CompiledModel) -> Result<ModelSession, EngineError> {
        let err =
            |what: &str, e: openvino::InferenceError| runtime_error(&format!("{name}: {what}"), e);
        let input_node = compiled.get_input().map_err(|e| err("no input", e))?;
        let shape = input_node.get_shape().map_err(|e| err("input shape", e))?;
        let input_dims = shape.get_dimensions().to_vec();
        let input = Tensor::new(ElementType::F32, &shape).map_err(|e| err("input tensor", e))?;
        let n_out = compiled
            .get_output_size()
            .map_err(|e| err("output count", e))?;
        let mut outputs = Vec::with_capacity(n_out);
        for i in 0..n_out {
            let node = compiled
                .get_output_by_index(i)
                .map_err(|e| err("output", e))?;
            let dims = node.get_shape().map_err(|e| err("output shape", e))?;
            let len = dims
                .get_dimensions()
                .iter()
                .map(|d| usize::try_from(*d).unwrap_or(0))
                .product();
            outputs.push(OutputSlot {
                name: node.get_name().unwrap_or_default(),
                len,
            });
        }
        let mut request = compiled
            .create_infer_request()
            .map_err(|e| err("cannot create request", e))?;
        request
            .set_input_tensor(&input)
            .map_err(|e| err("cannot bind input", e))?;
        Ok(ModelSession {
            name,
            request,
            input,
            input_dims,
            outputs,
            compiled: None,
            weights: None,
        })
    }

    /// The model's input shape (NHWC for MediaPipe's graphs).
    pub fn input_dims(&self) -> &[i64] {
        &self.input_dims
    }

    /// Element counts of the outputs, in the compiled model's order.
    pub fn output_lens(&self) -> Vec<usize> {
        self.outputs.iter().map(|o| o.len).collect()
    }

    /// Output names, in the compiled model's order.
    pub fn output_names(&self) -> Vec<&str> {
        self.outputs.iter().map(|o| o.name.as_str()).collect()
    }

    /// The index of the output with `len` elements (MediaPipe's outputs differ in size).
    pub fn output_index_by_len(&self, len: usize) -> Result<usize, EngineError> {
        self.outputs
            .iter()
            .position(|o| o.len == len)
            .ok_or_else(|| {
                EngineError::Runtime(format!(
                    "{}: no output with {len} values (outputs: {:?})",
                    self.name,
                    self.output_lens()
                ))
            })
    }

    /// The input tensor's values, to be filled before [`ModelSession::infer`].
    pub fn input_mut(&mut self) -> Result<&mut [f32], EngineError> {
        let name = self.name;
        self.input
            .get_data_mut::<f32>()
            .map_err(|e| runtime_error(&format!("{name}: input data"), e))
    }

    /// Runs the model on the current input.
    pub fn infer(&mut self) -> Result<(), EngineError> {
        let name = self.name;
        self.request
            .infer()
            .map_err(|e| runtime_error(&format!("{name}: inference failed"), e))
    }

    /// Copies output `index` of the last inference into `out` (resized to fit).
    pub fn read_output(&self, index: usize, out: &mut Vec<f32>) -> Result<(), EngineError> {
        let name = self.name;
        let tensor = self
            .request
            .get_output_tensor_by_index(index)
            .map_err(|e| runtime_error(&format!("{name}: output {index}"), e))?;
        let data = tensor
            .get_data::<f32>()
            .map_err(|e| runtime_error(&format!("{name}: output {index} data"), e))?;
        out.clear();
        out.extend_from_slice(data);
        Ok(())
    }
}

impl std::fmt::Debug for ModelSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelSession")
            .field("name", &self.name)
            .field("input_dims", &self.input_dims)
            .field("outputs", &self.output_lens())
            .finish()
    }
}

/// Checks a shape has the expected NHWC square size; MediaPipe graphs are fixed-size.
pub(crate) fn expect_square_input(session: &ModelSession, side: i64) -> Result<(), EngineError> {
    let dims = session.input_dims();
    if dims.len() == 4 && dims[1..] == [side, side, 3] {
        Ok(())
    } else {
        Err(EngineError::Runtime(format!(
            "{}: input shape {dims:?}, expected [batch, {side}, {side}, 3]",
            session.name
        )))
    }
}
