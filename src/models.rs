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
