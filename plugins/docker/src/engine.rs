//! The docker engine, through its API (bollard) on a unix socket.
//!
//! Each driver library has its own copy of tokio: one runtime, built on first use, runs the
//! engine requests; verbs, which the host calls on its blocking threads, wait with `block_on`.

use crate::memo::{self, Memo};
use bollard::errors::Error as BollardError;
use bollard::models::{ContainerCreateBody, ContainerInspectResponse, ContainerSummary};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, ListContainersOptions, RemoveContainerOptions,
    StopContainerOptions,
};
use bollard::{Docker, API_DEFAULT_VERSION};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// How long a listing or an image lookup answers `status` calls: one `print status` of a
/// whole service, not more.
const CACHE_TTL: Duration = Duration::from_secs(2);

/// Requests are bounded by the callers' deadlines; the client's own limit only guards
/// against a stuck engine when there is none.
const CLIENT_TIMEOUT_SECS: u64 = 3600;

pub fn block_on<F: Future>(fut: F) -> F::Output {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("docker-driver")
                .enable_all()
                .build()
                .expect("the docker driver's tokio runtime")
        })
        .block_on(fut)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineError {
    /// Nothing answers on the socket.
    Unreachable(String),
    NotFound(String),
    /// The deadline passed during `what`.
    Timeout(String),
    Api(String),
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::Unreachable(why) => write!(f, "docker daemon is not running ({why})"),
            EngineError::NotFound(msg) | EngineError::Api(msg) => f.write_str(msg),
            EngineError::Timeout(what) => write!(f, "{what} did not finish before the deadline"),
        }
    }
}

impl From<BollardError> for EngineError {
    fn from(e: BollardError) -> Self {
        match e {
            BollardError::DockerResponseServerError {
                status_code: 404,
                message,
            } => EngineError::NotFound(message),
            BollardError::DockerResponseServerError { message, .. } => EngineError::Api(message),
            BollardError::SocketNotFoundError(path) => {
                EngineError::Unreachable(format!("no socket {path}"))
            }
            BollardError::IOError { .. } | BollardError::HyperLegacyError { .. } => {
                EngineError::Unreachable(e.to_string())
            }
            other => EngineError::Api(other.to_string()),
        }
    }
}

pub type EngineResult<T> = Result<T, EngineError>;

/// Run `fut`, giving up at `deadline`.
pub async fn until<T>(
    deadline: Instant,
    what: &str,
    fut: impl Future<Output = EngineResult<T>>,
) -> EngineResult<T> {
    tokio::time::timeout_at(deadline.into(), fut)
        .await
        .unwrap_or_else(|_| Err(EngineError::Timeout(what.to_string())))
}

/// A connected engine.
#[derive(Clone)]
pub struct Engine {
    docker: Docker,
    socket: String,
}

type ClientSlot = Arc<tokio::sync::OnceCell<Docker>>;

fn lists() -> &'static Memo<Arc<Vec<ContainerSummary>>> {
    static LISTS: OnceLock<Memo<Arc<Vec<ContainerSummary>>>> = OnceLock::new();
    LISTS.get_or_init(|| Memo::new(CACHE_TTL))
}

fn image_ids() -> &'static Memo<Option<String>> {
    static IMAGES: OnceLock<Memo<Option<String>>> = OnceLock::new();
    IMAGES.get_or_init(|| Memo::new(CACHE_TTL))
}

impl Engine {
    /// The engine on `socket`, its API version negotiated once per process.
    pub async fn connect(socket: &str) -> EngineResult<Engine> {
        static CLIENTS: OnceLock<Mutex<HashMap<String, ClientSlot>>> = OnceLock::new();
        let slot = CLIENTS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(socket.to_string())
            .or_default()
            .clone();
        // A failed negotiation is not kept: the next call tries again.
        let docker = slot
            .get_or_try_init(|| async {
                Docker::connect_with_unix(socket, CLIENT_TIMEOUT_SECS, API_DEFAULT_VERSION)?
                    .negotiate_version()
                    .await
                    .map_err(EngineError::from)
            })
            .await?
            .clone();
        Ok(Engine {
            docker,
            socket: socket.to_string(),
        })
    }

    /// Every container, running or not, as listed at most [`CACHE_TTL`] ago.
    pub async fn containers_cached(&self) -> EngineResult<Arc<Vec<ContainerSummary>>> {
        lists()
            .get_or_fetch(&self.socket, || async {
                Ok(Arc::new(self.list(true).await?))
            })
            .await
    }

    /// Every container (`all`) or the running ones, now.
    pub async fn list(&self, all: bool) -> EngineResult<Vec<ContainerSummary>> {
        let opts = ListContainersOptions {
            all,
            ..Default::default()
        };
        Ok(self.docker.list_containers(Some(opts)).await?)
    }

    pub async fn inspect(&self, id: &str) -> EngineResult<Option<ContainerInspectResponse>> {
        unless_absent(self.docker.inspect_container(id, None).await)
    }

    /// The id of a local image (None: not present), fresh.
    pub async fn image_id(&self, image: &str) -> EngineResult<Option<String>> {
        Ok(unless_absent(self.docker.inspect_image(image).await)?.and_then(|i| i.id))
    }

    /// [`Engine::image_id`], answered from the cache for status calls.
    pub async fn image_id_cached(&self, image: &str) -> EngineResult<Option<String>> {
        let key = format!("{}\n{image}", self.socket);
        image_ids()
            .get_or_fetch(&key, || self.image_id(image))
            .await
    }

    /// Pull `image` (a missing tag means `latest`, not every tag).
    pub async fn pull(&self, image: &str) -> EngineResult<()> {
        let opts = CreateImageOptions {
            from_image: Some(image.to_string()),
            tag: (!has_tag_or_digest(image)).then(|| "latest".to_string()),
            ..Default::default()
        };
        let mut progress = self.docker.create_image(Some(opts), None, None);
        while let Some(step) = progress.next().await {
            step?;
        }
        memo::invalidate();
        Ok(())
    }

    pub async fn create(&self, name: &str, body: ContainerCreateBody) -> EngineResult<String> {
        let opts = CreateContainerOptions {
            name: Some(name.to_string()),
            ..Default::default()
        };
        let created = self.docker.create_container(Some(opts), body).await;
        memo::invalidate();
        Ok(created?.id)
    }

    pub async fn start(&self, id: &str) -> EngineResult<()> {
        let started = self.docker.start_container(id, None).await;
        memo::invalidate();
        Ok(started?)
    }

    /// Stop with `grace` before the engine kills the container.
    pub async fn stop(&self, id: &str, grace: Duration) -> EngineResult<()> {
        let opts = StopContainerOptions {
            t: Some(grace.as_secs().min(i32::MAX as u64) as i32),
            ..Default::default()
        };
        let stopped = self.docker.stop_container(id, Some(opts)).await;
        memo::invalidate();
        Ok(stopped?)
    }

    pub async fn remove(&self, id: &str) -> EngineResult<()> {
        let opts = RemoveContainerOptions {
            force: true,
            ..Default::default()
        };
        let removed = self.docker.remove_container(id, Some(opts)).await;
        memo::invalidate();
        Ok(removed?)
    }

    pub async fn ping(&self) -> EngineResult<()> {
        self.docker.ping().await?;
        Ok(())
    }
}

/// An engine answer, None for a 404 (no such container or image).
fn unless_absent<T>(answer: Result<T, BollardError>) -> EngineResult<Option<T>> {
    match answer.map_err(EngineError::from) {
        Ok(v) => Ok(Some(v)),
        Err(EngineError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `redis:3.0`, `host:5000/app:1`, `app@sha256:…` name a tag or digest; `redis`,
/// `host:5000/app` do not (a colon before the last `/` is a registry port).
fn has_tag_or_digest(image: &str) -> bool {
    let last = image.rsplit('/').next().unwrap_or(image);
    image.contains('@') || last.contains(':')
}

/// Whether a container summary says it runs.
pub fn is_running(c: &ContainerSummary) -> bool {
    c.state
        .is_some_and(|s| s == bollard::models::ContainerSummaryStateEnum::RUNNING)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        assert!(has_tag_or_digest("redis:3.0"));
        assert!(has_tag_or_digest("host:5000/app:1"));
        assert!(has_tag_or_digest("app@sha256:00"));
        assert!(!has_tag_or_digest("redis"));
        assert!(!has_tag_or_digest("host:5000/app"));
        assert!(!has_tag_or_digest("f66342b343ae"));
    }

    #[test]
    fn unreachable_engine() {
        let err = block_on(Engine::connect("/nonexistent/docker.sock"))
            .err()
            .unwrap();
        assert!(matches!(err, EngineError::Unreachable(_)), "{err:?}");
    }
}
