//! The engine's models as the server sees them: checked at start, loaded once in the
//! background, reported by `/readyz`.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use livegate_models::{Analyzer, AnalyzerConfig, EngineError, ModelRegistry};

use crate::server::ReadinessCheck;

/// `/readyz`'s `models` check: ready once every model compiled and ran on the runtime.
#[derive(Debug, Clone, Default)]
pub struct ModelsReadiness {
    loaded: Arc<OnceLock<Result<(), String>>>,
}

impl ModelsReadiness {
    /// Check the model files now (a missing or changed file stops the start), then compile the
    /// models on a blocking thread; the check turns ready when they load.
    pub fn start(dir: &Path) -> Result<Self, EngineError> {
        let registry = ModelRegistry::open(dir)?;
        let readiness = Self::default();
        let loaded = Arc::clone(&readiness.loaded);
        tokio::task::spawn_blocking(move || {
            let result = Analyzer::new(&registry, AnalyzerConfig::default())
                .map(drop)
                .map_err(|e| {
                    tracing::error!(error = %e, "models failed to load");
                    e.to_string()
                });
            if result.is_ok() {
                tracing::info!(dir = %registry.dir().display(), "models loaded");
            }
            let _ = loaded.set(result);
        });
        Ok(readiness)
    }
}

#[async_trait]
impl ReadinessCheck for ModelsReadiness {
    fn name(&self) -> &str {
        "models"
    }

    async fn check(&self) -> Result<(), String> {
        match self.loaded.get() {
            None => Err("loading".into()),
            Some(result) => result.clone(),
        }
    }
}

/// The engines a model worker runs: the face engine and the identity engine, each worker its own
/// (the runtimes are not shared across threads).
pub fn engine_factory(registry: ModelRegistry) -> livegate_actors::actor::EngineFactory {
    std::sync::Arc::new(move || {
        let face = Analyzer::new(&registry, AnalyzerConfig::default())?;
        let identity = livegate_models::embedding::DlibIdentity::open(
            &registry.path(livegate_models::ModelFile::DlibShapePredictor5),
            &registry.path(livegate_models::ModelFile::DlibFaceRecognition),
        )?;
        let face: Box<dyn livegate_models::FaceEngine> = Box::new(face);
        let identity: Box<dyn livegate_models::IdentityEngine> = Box::new(identity);
        Ok((face, identity))
    })
}
