//! A serving node: every service `livegate serve` runs, built from the configuration and the
//! store, with the routes that expose them and the background jobs that keep them.
//!
//! ```text
//! Node::start ─┬─ MasterKey, ResultSigner (+ rotation job)      /open/v1/*, /.well-known/jwks.json
//!              ├─ nonce prune job
//!              ├─ ModelPool (one worker per core)               /h5/v1/sessions/{id}/{challenge,ws}
//!              ├─ TenantManager, LocalRegistry                  /h5/ (the page)
//!              ├─ ConsoleDir                                     /admin/ (the console's files)
//!              ├─ CallbackDelivery (outbox worker)
//!              ├─ Scheduler (jobs: expiry, purge, callback retry, roll-up, backup)  /admin/api/v1/jobs
//!              └─ SessionService (+ expiry sweep)
//! ```

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use livegate_actors::actor::{PoolConfig, PoolHandle};
use livegate_actors::tenant::TenantManagerHandle;
use livegate_cluster::registry::LocalRegistry;
use livegate_models::ModelRegistry;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::callbacks::secrets::SceneConfigSecrets;
use crate::callbacks::{send::http_client, CallbackDelivery, DeliveryPolicy};
use crate::commands::CommandError;
use crate::compare_service::CompareServiceClient;
use crate::config::Config;
use crate::evidence::LocalEvidence;
use crate::h5::PageDir;
use crate::result_signing::{ResultSigner, RotationPolicy, ROTATION_CHECK_EVERY};
use crate::secrets::MasterKey;
use crate::sessions::live::LiveSession;
use crate::sessions::{SessionService, SessionServiceParts, SessionSettings};
use crate::store::Store;

/// How often expired request nonces are pruned.
const NONCE_PRUNE_EVERY: Duration = Duration::from_secs(300);

/// The services of a running node.
pub struct Node {
    master: web::Data<MasterKey>,
    signer: web::Data<ResultSigner>,
    sessions: web::Data<SessionService>,
    page: web::Data<PageDir>,
    console: web::Data<crate::console::ConsoleDir>,
    admin: web::Data<crate::admin::AdminSettings>,
    evidence: web::Data<dyn crate::evidence::EvidenceStore>,
    scheduler: web::Data<crate::jobs::Scheduler>,
    pool: PoolHandle,
    tenants: TenantManagerHandle,
    stop: watch::Sender<bool>,
    jobs: Vec<JoinHandle<()>>,
}

impl Node {
    /// Starts every service over an opened, migrated store.
    pub async fn start(config: &Config, store: Arc<dyn Store>) -> Result<Self, CommandError> {
        let (stop, stopped) = watch::channel(false);
        let until_stopped = move || {
            let mut rx = stopped.clone();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        };
        let master = MasterKey::load_or_create(config)?;
        let signer = ResultSigner::start(
            Arc::clone(&store),
            master.clone(),
            RotationPolicy::from_config(&config.signing),
        )
        .await?;
        let mut jobs = vec![
            signer.spawn_rotation(ROTATION_CHECK_EVERY),
            spawn_nonce_pruning(Arc::clone(&store)),
        ];
        let registry = ModelRegistry::open(&config.models.dir).map_err(CommandError::Models)?;
        let pool = PoolHandle::start(
            crate::models::engine_factory(registry),
            PoolConfig::default(),
        )
        .await
        .map_err(|err| CommandError::Node(format!("model pool: {err}")))?;
        let tenants = TenantManagerHandle::start(config.tenants)
            .await
            .map_err(|err| CommandError::Node(format!("tenant manager: {err}")))?;
        let policy = DeliveryPolicy::from(&config.callbacks);
        let client = http_client(policy.timeout)
            .map_err(|err| CommandError::Node(format!("callback http client: {err}")))?;
        let (callbacks, delivery) = CallbackDelivery::start(
            Arc::clone(&store),
            client,
            Arc::new(SceneConfigSecrets::new(Arc::clone(&store), master.clone())),
            policy,
            until_stopped(),
        );
        jobs.push(delivery);
        // One evidence store: sessions write frames, the console's records pages read them.
        let evidence: Arc<dyn crate::evidence::EvidenceStore> =
            Arc::new(LocalEvidence::new(config.evidence_dir()));
        let sessions = SessionService::new(SessionServiceParts {
            store: Arc::clone(&store),
            registry: Arc::new(LocalRegistry::<Arc<LiveSession>>::new()),
            tenants: tenants.clone(),
            pool: pool.clone(),
            settings: SessionSettings {
                public_url: config.public_url(),
                frame_limits: config.sessions.frame_limits(),
                thresholds: config.engine.thresholds.clone(),
                sweep_every: Duration::from_secs(config.sessions.sweep_secs),
                recordings_dir: config.data_dir.join("recordings"),
                seen_frames: (config.engine.replay_check_minutes > 0).then(|| {
                    Arc::new(livegate_actors::injection::SeenFrames::new(
                        Duration::from_secs(60 * u64::from(config.engine.replay_check_minutes)),
                        100_000,
                    ))
                }),
                trusted_camera_labels: config.engine.trusted_camera_labels.clone(),
                report_only_cues: config.engine.report_only_cues.clone(),
            },
            signer: signer.clone(),
            evidence: Arc::clone(&evidence),
            callbacks: callbacks.clone(),
            master: master.clone(),
            compare_service: CompareServiceClient::new()
                .map_err(|err| CommandError::Node(format!("compare service client: {err}")))?,
        });
        jobs.push(tokio::spawn(sessions.clone().run_sweeper(until_stopped())));
        // The dictionary's built-in rows, then the job scheduler (docs/operations.md).
        if let Err(err) = crate::dictionary::seed_builtin(store.as_ref()).await {
            tracing::warn!(error = %err, "cannot seed the data dictionary");
        }
        let scheduler = crate::jobs::Scheduler::new(crate::jobs::SchedulerParts {
            store: Arc::clone(&store),
            node: crate::jobs::node_name(),
            tasks: crate::jobs::builtin::node_tasks(config, &store, &sessions, &callbacks),
            clock: Arc::new(crate::jobs::SystemClock),
        });
        jobs.push(scheduler.clone().spawn(until_stopped()));
        Ok(Self {
            master: web::Data::new(master),
            signer: web::Data::new(signer),
            sessions: web::Data::new(sessions),
            page: web::Data::new(PageDir(config.server.h5_dir.clone())),
            console: web::Data::new(crate::console::ConsoleDir(
                config.server.console_dir.clone(),
            )),
            admin: web::Data::new(crate::admin::AdminSettings::from_config(config)),
            evidence: web::Data::from(evidence),
            scheduler: web::Data::new(scheduler),
            pool,
            tenants,
            stop,
            jobs,
        })
    }

    /// The node's model-worker pool (for `/readyz`).
    pub fn pool(&self) -> PoolHandle {
        self.pool.clone()
    }

    /// The routes of the node's services, for `server::run_with`.
    pub fn routes(&self) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
        let (master, signer, sessions, page) = (
            self.master.clone(),
            self.signer.clone(),
            self.sessions.clone(),
            self.page.clone(),
        );
        let admin = self.admin.clone();
        let evidence = self.evidence.clone();
        let scheduler = self.scheduler.clone();
        let console = self.console.clone();
        move |cfg: &mut web::ServiceConfig| {
            cfg.app_data(master.clone())
                .app_data(signer.clone())
                .app_data(sessions.clone())
                .app_data(page.clone())
                .app_data(admin.clone())
                .app_data(evidence.clone())
                .app_data(scheduler.clone());
            crate::open_api::configure(cfg);
            crate::admin::configure(cfg);
            crate::h5::configure(cfg);
            // Last: the console's catch-all under /admin/ (it never answers /admin/api/).
            cfg.app_data(console.clone());
            crate::console::configure(cfg);
        }
    }

    /// Stops the background jobs and the actors.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for job in self.jobs {
            // Jobs that wait for the stop signal end by themselves; the periodic ones are cut.
            job.abort();
        }
        self.tenants.stop().await;
        self.pool.stop().await;
    }
}

fn spawn_nonce_pruning(store: Arc<dyn Store>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(NONCE_PRUNE_EVERY);
        loop {
            tick.tick().await;
            match crate::open_api::auth::prune_expired_nonces(store.as_ref(), chrono::Utc::now())
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::debug!(pruned = n, "expired request nonces pruned"),
                Err(err) => tracing::warn!(error = %err, "cannot prune request nonces"),
            }
        }
    })
}
