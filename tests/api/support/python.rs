//! The Python MCP test server (`tests/mcp/mcp_test_server.py`, on the official MCP Python SDK),
//! started as a child process.

use super::skip;

/// The Python MCP test server, started on a free loopback port; killed when dropped.
pub struct PythonMcp {
    pub url: String,
    child: std::process::Child,
}

impl Drop for PythonMcp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl PythonMcp {
    /// `None` (after saying why) when Python or its `mcp` package is missing.
    pub async fn start() -> Option<PythonMcp> {
        let python = std::env::var("CHATKIT_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/mcp_test_server.py");
        let has_mcp = std::process::Command::new(&python)
            .args(["-c", "import mcp"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !has_mcp {
            skip(
                "Python MCP test server: the `mcp` package is missing (pip install mcp==2.3.0 and set CHATKIT_TEST_PYTHON)",
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(&python)
            .arg(&script)
            .args(["--port", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the Python MCP test server starts");
        let server = PythonMcp {
            url: format!("http://127.0.0.1:{port}/mcp"),
            child,
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
