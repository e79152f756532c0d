//! Headless Chromium over WebDriver, for tests of what the pages do in a real browser.
//!
//! [`Browser::start`] runs `chromedriver` on a free loopback port and opens one Chromium
//! session through it; one browser runs at a time in the whole test binary. Chromium reaches
//! only loopback (every other host name fails to resolve), so a page never loads anything from
//! outside. The browser's console log is read through chromedriver's log endpoint, which keeps
//! what happened while the page loaded, Content Security Policy violations included.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex as StdMutex;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::wd::{Capabilities, TimeoutConfiguration};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tokio::sync::{Mutex, MutexGuard};

use super::process::free_port;
use super::skip;

/// Whose turn it is: one Chromium at a time, since each runs several processes and the
/// machines running the suite have few cores.
static TURN: Mutex<()> = Mutex::const_new(());

/// Chromium's switches: headless and quiet (no sandbox, which needs privileges a container
/// lacks; no updates, sync or first-run pages), no host but loopback, and a fake microphone
/// that pages may use without asking (dictation).
const SWITCHES: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
];

/// How long a wait for the page (an element, a text, a navigation) may take: a bound, never
/// a pause, and generous, because the suite runs browser and database tests side by side on
/// machines with two cores.
pub const WAIT: Duration = Duration::from_secs(20);

/// How long chromedriver may take to listen.
const DRIVER_START: Duration = Duration::from_secs(10);
/// Ports chromedriver is started on before a test gives up (see [`Driver::start`]).
const DRIVER_TRIES: usize = 5;

/// The size of the page's viewport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewport {
    /// 1280x900.
    Desktop,
    /// 390x844, as a phone: the page's `<meta name="viewport">` applies.
    Phone,
    /// 360x740, the narrowest phone a page is laid out for.
    SmallPhone,
}

impl Viewport {
    fn size(self) -> (u32, u32) {
        match self {
            Viewport::Desktop => (1280, 900),
            Viewport::Phone => (390, 844),
            Viewport::SmallPhone => (360, 740),
        }
    }
}

/// One entry of the browser's console log.
#[derive(Debug, Clone)]
pub struct LogEntry {
    /// `SEVERE`, `WARNING`, `INFO`, ...
    pub level: String,
    /// Where it came from: `console-api`, `network`, `security` (policy violations), ...
    pub source: String,
    pub message: String,
}

impl LogEntry {
    /// Whether this entry reports a Content Security Policy violation.
    pub fn is_csp_violation(&self) -> bool {
        self.message.contains("Content Security Policy")
    }
}

/// A Chromium session. Call [`Browser::close`] at the end; dropping it without (after a
/// panic) kills chromedriver and Chromium all the same.
pub struct Browser {
    client: Client,
    /// chromedriver's address and the session, for the endpoints fantoccini has no call for.
    session_url: String,
    http: reqwest::Client,
    /// Screenshots are named `{label}-{name}.png`.
    label: String,
    /// The console log read so far (chromedriver hands each entry out once).
    log: StdMutex<Vec<LogEntry>>,
    /// Kept for its drop, which stops chromedriver and Chromium.
    _driver: Driver,
    _turn: MutexGuard<'static, ()>,
}

impl Browser {
    /// Waits for its turn, then starts chromedriver and a session with `viewport`; `label`
    /// names this test's screenshots (the test's name and its database, so names never clash).
    /// `None` (after saying why) when chromium or chromedriver is not installed.
    pub async fn start(label: &str, viewport: Viewport) -> Option<Browser> {
        let (Some(chromium), Some(chromedriver)) = (
            find_program(&["chromium", "chromium-browser", "google-chrome"]),
            find_program(&["chromedriver"]),
        ) else {
            skip("browser test: chromium/chromedriver not found");
            return None;
        };
        let turn = TURN.lock().await;
        let driver = Driver::start(&chromedriver).await;
        let (width, height) = viewport.size();
        let mut args: Vec<String> = SWITCHES.iter().map(|s| s.to_string()).collect();
        args.push(format!("--window-size={width},{height}"));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
        });
        let capabilities = capabilities.as_object().cloned().expect("an object");
        let client = connect(&driver.url, capabilities).await;
        let timeouts = TimeoutConfiguration::new(Some(WAIT), Some(2 * WAIT), Some(Duration::ZERO));
        client
            .update_timeouts(timeouts)
            .await
            .expect("WebDriver timeouts set");
        let session = client
            .session_id()
            .await
            .expect("WebDriver session id")
            .expect("a WebDriver session");
        let browser = Browser {
            client,
            session_url: format!("{}/session/{session}", driver.url),
            http: reqwest::Client::new(),
            label: label.to_owned(),
            log: StdMutex::new(Vec::new()),
            _driver: driver,
            _turn: turn,
        };
        browser.resize(viewport).await;
        Some(browser)
    }

    /// Ends the session (Chromium quits), then stops chromedriver.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }

    /// Sets the viewport to exactly `viewport`'s size (the window size alone leaves the
    /// viewport smaller by what a window's frame would take).
    pub async fn resize(&self, viewport: Viewport) {
        let (width, height) = viewport.size();
        let params = json!({"width": width, "height": height, "deviceScaleFactor": 1,
                            "mobile": viewport != Viewport::Desktop});
        self.driver_call(
            "goog/cdp/execute",
            json!({"cmd": "Emulation.setDeviceMetricsOverride", "params": params}),
        )
        .await;
    }

    /// Opens `url` and waits until it has loaded.
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
    }

    pub async fn current_url(&self) -> String {
        self.client.current_url().await.expect("current URL").into()
    }

    /// The page's HTML as it is now.
    pub async fn source(&self) -> String {
        self.client.source().await.expect("page source")
    }

    /// The element `css` selects; fails the test when there is none.
    pub async fn find(&self, css: &str) -> Element {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    /// The visible text of the element `css` selects.
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("element text")
    }

    /// Types `text` into the field `css` selects, replacing what was there.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("field cleared");
        field.send_keys(text).await.expect("text typed");
    }

    /// Types `keys` (WebDriver key codes allowed, such as Tab `\u{E004}`) into whatever has
    /// the focus, as a keyboard would: the focus moves only as the keys move it.
    pub async fn keys(&self, keys: &str) {
        let focused = self
            .client
            .active_element()
            .await
            .expect("a focused element");
        focused.send_keys(keys).await.expect("keys typed");
    }

    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
    }

    /// Waits (at most [`WAIT`]) for an element `css` to appear.
    pub async fn wait_for(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css} within {WAIT:?}: {e}"))
    }

    /// Waits (at most [`WAIT`]) for an element `css` whose text contains `text`.
    pub async fn wait_for_text(&self, css: &str, text: &str) -> Element {
        let deadline = Instant::now() + WAIT;
        loop {
            let mut seen = Vec::new();
            for element in self
                .client
                .find_all(Locator::Css(css))
                .await
                .unwrap_or_default()
            {
                let shown = element.text().await.unwrap_or_default();
                if shown.contains(text) {
                    return element;
                }
                seen.push(shown);
            }
            assert!(
                Instant::now() < deadline,
                "no {css} showing {text:?} within {WAIT:?}; shown: {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (at most [`WAIT`]) for the address to contain `part`: what a form submitted from a
    /// page that looks like the next one has to wait for.
    pub async fn wait_for_url(&self, part: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let url = self.current_url().await;
            if url.contains(part) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the address has no {part:?} within {WAIT:?}: {url}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs `script` (a function body: `return ...` gives the result) with `args`.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed ({e}): {script}"))
    }

    /// Fails if the page is wider than `width` or the viewport (sideways scrolling), naming
    /// elements that stick out, or if a link of the console's sections is out of view (one
    /// would have to scroll the bar sideways to find it).
    pub async fn assert_fits(&self, width: f64) {
        let measured = self
            .execute(
                "const out = e => e.getBoundingClientRect().right > window.innerWidth + 0.5;
                 const wide = [...document.querySelectorAll('body *')]
                   .filter(out)
                   .slice(0, 8)
                   .map(e => e.tagName + '.' + e.className);
                 const sections = [...document.querySelectorAll('.nav-item')]
                   .filter(out)
                   .map(e => e.textContent.trim());
                 return [document.documentElement.scrollWidth, window.innerWidth, wide,
                         sections];",
                vec![],
            )
            .await;
        let page_width = measured[0].as_f64().unwrap_or(f64::NAN);
        let viewport = measured[1].as_f64().unwrap_or(f64::NAN);
        assert!(
            page_width <= width && viewport <= width,
            "page is {page_width}px wide in a {viewport}px viewport: {}",
            measured[2]
        );
        assert_eq!(
            measured[3],
            json!([]),
            "console sections out of view in a {viewport}px viewport"
        );
    }

    /// Saves what the viewport shows as `target/screenshots/{label}-{name}.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot taken");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        let path = dir.join(format!("{}-{name}.png", self.label));
        std::fs::write(&path, png).expect("screenshot saved");
        path
    }

    /// Everything the browser's console logged so far in this session.
    pub async fn console_log(&self) -> Vec<LogEntry> {
        let fresh = self.driver_call("se/log", json!({"type": "browser"})).await;
        let fresh = fresh.as_array().cloned().unwrap_or_default();
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.extend(fresh.iter().map(|entry| LogEntry {
            level: entry["level"].as_str().unwrap_or_default().to_owned(),
            source: entry["source"].as_str().unwrap_or_default().to_owned(),
            message: entry["message"].as_str().unwrap_or_default().to_owned(),
        }));
        log.clone()
    }

    /// The Content Security Policy violations reported so far in this session.
    pub async fn csp_violations(&self) -> Vec<LogEntry> {
        let log = self.console_log().await;
        log.into_iter().filter(LogEntry::is_csp_violation).collect()
    }

    /// Fails the test if the page broke its Content Security Policy anywhere so far.
    pub async fn assert_no_csp_violations(&self) {
        let violations = self.csp_violations().await;
        assert!(violations.is_empty(), "CSP violations: {violations:#?}");
    }

    /// POSTs `body` to a chromedriver endpoint of this session; the answer's `value`.
    async fn driver_call(&self, path: &str, body: Value) -> Value {
        let url = format!("{}/{path}", self.session_url);
        let response = self
            .http
            .post(&url)
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("chromedriver {path}: {e}"));
        let status = response.status();
        let answer: Value = response.json().await.expect("chromedriver answers JSON");
        assert!(status.is_success(), "chromedriver {path}: {answer}");
        answer["value"].clone()
    }
}

/// Opens a WebDriver session at `url`.
async fn connect(url: &str, capabilities: Capabilities) -> Client {
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("no WebDriver session from chromedriver: {e}"))
}

/// `target/screenshots`, under `CARGO_TARGET_DIR` when it is set.
fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("screenshots")
}

/// The first of `names` found on `PATH`.
fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|file| file.is_file())
    })
}

/// A running chromedriver, in a process group of its own that Chromium's processes join.
/// Dropping it kills the whole group, so no browser outlives its test even when the session
/// was not closed, and reaps every process of the browser: chromedriver reaps only Chromium's
/// main process, and the helpers that outlive it are handed to this process (see
/// [`adopt_orphans`]), since the system's first process may be slow to reap them.
struct Driver {
    url: String,
    child: Child,
}

impl Driver {
    /// Starts chromedriver on a port that was free a moment before, and again on another
    /// one when a server of another test took that port in between: only an answer that
    /// comes from chromedriver counts.
    async fn start(program: &std::path::Path) -> Driver {
        adopt_orphans();
        for _ in 0..DRIVER_TRIES {
            let port = free_port();
            let mut command = Command::new(program);
            command
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            #[cfg(unix)]
            std::os::unix::process::CommandExt::process_group(&mut command, 0);
            let child = command
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
            let mut driver = Driver {
                url: format!("http://127.0.0.1:{port}"),
                child,
            };
            if driver.ready().await {
                return driver;
            }
        }
        panic!("chromedriver found no port of its own in {DRIVER_TRIES} tries");
    }

    /// Waits until chromedriver answers on its port: `false` if it exited (its port was
    /// taken) or something else answers there.
    async fn ready(&mut self) -> bool {
        let deadline = Instant::now() + DRIVER_START;
        let status = format!("{}/status", self.url);
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok(answer) = reqwest::get(&status).await {
                let body = answer.text().await.unwrap_or_default();
                return body.contains("ChromeDriver");
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen within {DRIVER_START:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Ok(group) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: a plain system call that signals the process group this driver created
            // (the group's id is chromedriver's); no memory is passed.
            unsafe { libc::kill(-group, libc::SIGKILL) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        reap_orphans();
    }
}

/// Makes this process the one Chromium's orphaned helpers are handed to, so that
/// [`reap_orphans`] can reap them.
fn adopt_orphans() {
    #[cfg(target_os = "linux")]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        // SAFETY: sets a flag of this process; no memory is passed.
        ONCE.call_once(|| unsafe {
            libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        });
    }
}

/// Kills and reaps the Chromium processes this process adopted (one browser runs at a time,
/// so they are all this browser's), waiting at most 5 s for them to go.
fn reap_orphans() {
    #[cfg(target_os = "linux")]
    {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = chromium_children();
            if left.is_empty() || Instant::now() > deadline {
                return;
            }
            for pid in left {
                // SAFETY: plain system calls on a child of this process; a null status pointer
                // is allowed.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG);
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The children of this process, running or not yet reaped, that Chromium started
/// (`chromium`, `chrome_crashpad_handler`, ...).
#[cfg(target_os = "linux")]
fn chromium_children() -> Vec<libc::pid_t> {
    let me = std::process::id().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let pid: libc::pid_t = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // `pid (comm) state ppid ...`; the name may itself hold spaces or parentheses.
            let (name, rest) = stat.split_once(" (")?.1.rsplit_once(") ")?;
            let ppid = rest.split(' ').nth(1)?;
            (ppid == me && name.starts_with("chrom")).then_some(pid)
        })
        .collect()
}
