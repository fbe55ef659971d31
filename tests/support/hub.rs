//! A hub served in-process on `127.0.0.1:0`, with a known publish token.

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The token every [`TestHub`] accepts.
pub const TOKEN: &str = "test-publish-token";

/// Hub logs go through the test harness, so they show only for failing tests.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().with_ansi(false).try_init();
}

/// A running hub; stopped when dropped.
pub struct TestHub {
    pub url: String,
    pub port: u16,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), hub::HubError>>>,
}

impl TestHub {
    /// A hub with the default settings.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// A hub with the default settings as changed by `adjust`.
    pub async fn start_with(adjust: impl FnOnce(&mut hub::Config)) -> Self {
        init_logging();
        let mut config = hub::Config::with_token("127.0.0.1:0".parse().unwrap(), TOKEN);
        adjust(&mut config);
        let server = hub::Server::bind(config).await.expect("the hub binds a free port");
        let port = server.local_addr().port();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        Self { url: format!("http://127.0.0.1:{port}"), port, stop: Some(stop), task: Some(task) }
    }

    /// Shuts the hub down gracefully and waits until it has stopped.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("the hub task does not panic").expect("the hub stops cleanly");
        }
    }
}

impl Drop for TestHub {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A hub that starts listening only after a delay, to exercise retries; stopped when dropped.
pub struct LateHub {
    pub url: String,
    task: JoinHandle<()>,
}

impl LateHub {
    /// Reserves a free port now and starts a hub on it after `delay`.
    pub async fn start_after(delay: std::time::Duration) -> Self {
        let port = crate::fake::free_port().await;
        let task = tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let config = hub::Config::with_token(([127, 0, 0, 1], port).into(), TOKEN);
            let server = hub::Server::bind(config).await.expect("the late hub binds its port");
            let _ = server.run(std::future::pending()).await;
        });
        Self { url: format!("http://127.0.0.1:{port}"), task }
    }
}

impl Drop for LateHub {
    fn drop(&mut self) {
        self.task.abort();
    }
}
