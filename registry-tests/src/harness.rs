//! A real registry for tests: Debian's `docker-registry` (CNCF distribution 2.8.2) started in
//! the foreground on a free loopback port, with a config file this module writes and storage in
//! a temporary directory, stopped by pid when dropped.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use oci_certify_core::fault::{Blame, Fault};
use thiserror::Error;

/// Where Debian installs the registry.
pub const DOCKER_REGISTRY: &str = "/usr/bin/docker-registry";

/// How the registry is configured.
#[derive(Debug, Clone, Copy)]
pub struct RegistryConfig {
    /// `storage.delete.enabled`.
    pub delete_enabled: bool,
}

/// Why the registry could not be started.
#[derive(Debug, Error)]
pub enum HarnessError {
    /// The binary is missing.
    #[error("{0} is missing: install the docker-registry package (`cargo xtask setup`)")]
    Missing(String),
    /// I/O on the config, storage or process.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// The registry did not answer `/v2/` in time, or exited.
    #[error("docker-registry did not become ready: {0}")]
    NotReady(String),
}

impl Blame for HarnessError {
    fn fault(&self) -> Fault {
        Fault::Environment
    }
}

/// A running registry; stopped (by pid) and its storage removed on drop.
pub struct LocalRegistry {
    child: Child,
    port: u16,
    dir: PathBuf,
    /// How it was configured.
    pub config: RegistryConfig,
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> HarnessError {
    let what = what.into();
    move |source| HarnessError::Io { what, source }
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> Result<u16, HarnessError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(io("binding a free port"))?;
    Ok(l.local_addr().map_err(io("reading the port"))?.port())
}

fn config_yaml(storage: &Path, port: u16, cfg: RegistryConfig) -> String {
    format!(
        "version: 0.1\n\
         log:\n  level: error\n  accesslog:\n    disabled: true\n\
         storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: {delete}\n  \
         maintenance:\n    uploadpurging:\n      enabled: false\n\
         http:\n  addr: 127.0.0.1:{port}\n  secret: oci-certify-test-secret\n",
        storage = storage.display(),
        delete = cfg.delete_enabled,
    )
}

impl LocalRegistry {
    /// Starts a registry and waits until `GET /v2/` answers (bounded polling with backoff).
    pub fn start(config: RegistryConfig) -> Result<LocalRegistry, HarnessError> {
        if !Path::new(DOCKER_REGISTRY).exists() {
            return Err(HarnessError::Missing(DOCKER_REGISTRY.into()));
        }
        let dir = std::env::temp_dir().join(format!(
            "oci-certify-registry-{}-{}",
            std::process::id(),
            unique()
        ));
        std::fs::create_dir_all(dir.join("storage")).map_err(io("creating the storage dir"))?;
        // A port can be taken between probing and binding: try a few.
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port()?;
            let conf = dir.join("config.yml");
            let mut f = std::fs::File::create(&conf).map_err(io("writing the config"))?;
            f.write_all(config_yaml(&dir.join("storage"), port, config).as_bytes())
                .map_err(io("writing the config"))?;
            // The registry logs every 4xx at level error: into a file, never an unread pipe
            // (a full pipe blocks the registry mid-request).
            let log = std::fs::File::create(dir.join("registry.log"))
                .map_err(io("creating the log file"))?;
            let child = Command::new(DOCKER_REGISTRY)
                .arg("serve")
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .map_err(io("starting docker-registry"))?;
            let mut reg = LocalRegistry {
                child,
                port,
                dir: dir.clone(),
                config,
            };
            match reg.wait_ready(Duration::from_secs(20)) {
                Ok(()) => return Ok(reg),
                Err(e) => {
                    last = e;
                    reg.stop();
                    // Keep the directory for the next attempt.
                    std::mem::forget(reg);
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        Err(HarnessError::NotReady(last))
    }

    fn wait_ready(&mut self, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        let mut delay = Duration::from_millis(5);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let err =
                    std::fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default();
                return Err(format!("exited with {status}: {}", err.trim()));
            }
            if probe(self.port) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("no answer on port {} within {within:?}", self.port));
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(200));
        }
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The registry's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stop(&mut self) {
        // Child::kill signals exactly this pid (SIGKILL); then reap it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    t ^ (N.fetch_add(1, Ordering::Relaxed) << 48)
}

/// A plain blocking `GET /v2/` over a raw socket: is something answering HTTP there?
fn probe(port: u16) -> bool {
    use std::io::Read;
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 16];
    matches!(s.read(&mut buf), Ok(n) if n >= 12 && buf.starts_with(b"HTTP/1.1 200"))
}
