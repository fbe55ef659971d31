//! A real `redis-server` on a free loopback port, with no persistence, that tests can stop and restart:
//! restarted, it has lost its data, unless it was stopped with [`RedisServer::stop_keeping_data`].

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use crate::fake::free_port;

/// A running `redis-server`.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
}

impl RedisServer {
    /// Starts `redis-server` on a free port and waits until it answers PING.
    pub async fn start() -> Self {
        let mut server = Self { child: None, port: free_port().await };
        // A file a server on the same port saved in an earlier run is not this one's data.
        server.forget_saved_data();
        server.restart().await;
        server
    }

    /// The URL hubs connect with.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Saves the data to disk, then stops the server like [`stop`](Self::stop): it comes back with it.
    pub async fn stop_keeping_data(&mut self) {
        assert_eq!(self.command("SAVE").await, "+OK\r\n", "redis-server saves its data");
        self.kill().await;
    }

    /// Stops the server (SIGKILL: clients see their connections drop, as in a crash); it comes back
    /// without its data.
    pub async fn stop(&mut self) {
        self.kill().await;
        self.forget_saved_data();
    }

    async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("kill redis-server");
        }
    }

    /// Where `SAVE` writes, and a restart reads from.
    fn saved_data(&self) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("hub-test-redis-{}.rdb", self.port))
    }

    fn forget_saved_data(&self) {
        let _ = std::fs::remove_file(self.saved_data());
    }

    /// Starts the server again on the same port.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "redis-server is already running");
        let port = self.port.to_string();
        let saved = self.saved_data();
        let dir = saved.parent().and_then(|dir| dir.to_str()).expect("a UTF-8 temporary directory");
        let file = saved.file_name().and_then(|file| file.to_str()).expect("a UTF-8 file name");
        let child = Command::new("redis-server")
            .args(["--port", &port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--dir", dir, "--dbfilename", file])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server is installed (scripts/test.sh installs it with apt)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.answers_ping().await {
            assert!(Instant::now() < deadline, "redis-server on port {port} did not answer PING");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn answers_ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)).await else { return false };
        let mut reply = [0u8; 7];
        stream.write_all(b"PING\r\n").await.is_ok()
            && stream.read_exact(&mut reply).await.is_ok()
            && &reply == b"+PONG\r\n"
    }

    /// Sends one inline command and returns the first chunk of the reply.
    pub async fn command(&self, command: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).await.expect("redis-server answers");
        stream.write_all(format!("{command}\r\n").as_bytes()).await.expect("send the command");
        let mut reply = vec![0u8; 64 * 1024];
        let n = stream.read(&mut reply).await.expect("read the reply");
        String::from_utf8_lossy(&reply[..n]).into_owned()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.forget_saved_data();
    }
}
