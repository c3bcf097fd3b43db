//! The engine's models as the server sees them: their files checked at start, loaded by the
//! model-worker pool, reported by `/readyz`.

use std::path::Path;

use async_trait::async_trait;
use livegate_actors::actor::PoolHandle;
use livegate_models::{Analyzer, AnalyzerConfig, EngineError, ModelRegistry};

use crate::server::ReadinessCheck;

/// Checks the model files (present, SHA-256 as pinned): a missing or changed file stops the
/// start, naming it, before anything is created.
pub fn check_model_files(dir: &Path) -> Result<(), EngineError> {
    ModelRegistry::open(dir).map(drop)
}

/// `/readyz`'s `models` check: ready while the model-worker pool has workers with their
/// engines loaded (the pool's own, not a throwaway copy compiled for the check).
#[derive(Clone)]
pub struct ModelsReadiness {
    pool: PoolHandle,
}

impl ModelsReadiness {
    /// The check over the node's pool.
    pub fn new(pool: PoolHandle) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl ReadinessCheck for ModelsReadiness {
    fn name(&self) -> &str {
        "models"
    }

    async fn check(&self) -> Result<(), String> {
        match self.pool.stats().await {
            Ok(stats) if stats.workers > 0 => Ok(()),
            Ok(_) => Err("no model worker has its engines loaded".into()),
            Err(err) => Err(err.to_string()),
        }
    }
}

/// The engines a model worker runs: the face engine and the identity engine, each worker its own
/// (the runtimes are not shared across threads).
pub fn engine_factory(registry: ModelRegistry) -> livegate_actors::actor::EngineFactory {
    std::sync::Arc::new(move || {
        let face = Analyzer::new(&registry, AnalyzerConfig::from_env()?)?;
        let identity = livegate_models::embedding::DlibIdentity::open(&registry)?;
        let face: Box<dyn livegate_models::FaceEngine> = Box::new(face);
        let identity: Box<dyn livegate_models::IdentityEngine> = Box::new(identity);
        Ok((face, identity))
    })
}
