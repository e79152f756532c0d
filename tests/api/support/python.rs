//! The Python MCP test server (`tests/mcp/mcp_test_server.py`, on the official MCP Python SDK),
//! started as a child process.

use super::process::free_port;
use super::skip;

/// A Python program of the tests (a server), started on a free loopback port with the Python
/// in `CHATKIT_TEST_PYTHON`; killed when dropped or by [`PythonChild::kill`].
pub struct PythonChild {
    pub port: u16,
    child: std::process::Child,
}

impl Drop for PythonChild {
    fn drop(&mut self) {
        self.kill();
    }
}

impl PythonChild {
    /// Starts Python with the arguments `args` gives for the port, when it can import
    /// `module`; `None` (after saying `missing`) when it cannot.
    pub fn start(
        module: &str,
        missing: &str,
        args: impl FnOnce(u16) -> Vec<String>,
    ) -> Option<Self> {
        let python = std::env::var("CHATKIT_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let importable = std::process::Command::new(&python)
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !importable {
            skip(missing);
            return None;
        }
        let port = free_port();
        let child = std::process::Command::new(&python)
            .args(args(port))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{python} starts: {e}"));
        Some(PythonChild { port, child })
    }

    /// Stops the program at once and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Python MCP test server, started on a free loopback port; killed when dropped.
pub struct PythonMcp {
    pub url: String,
    _child: PythonChild,
}

impl PythonMcp {
    /// `None` (after saying why) when Python or its `mcp` package is missing.
    pub async fn start() -> Option<PythonMcp> {
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/mcp_test_server.py");
        let child = PythonChild::start(
            "mcp",
            "Python MCP test server: the `mcp` package is missing (pip install mcp==2.3.0 and set CHATKIT_TEST_PYTHON)",
            |port| {
                vec![
                    script.display().to_string(),
                    "--port".into(),
                    port.to_string(),
                ]
            },
        )?;
        let port = child.port;
        let server = PythonMcp {
            url: format!("http://127.0.0.1:{port}/mcp"),
            _child: child,
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the Python MCP test server did not start"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Some(server)
    }
}
