//! Just enough of the W3C WebDriver protocol for our end-to-end tests.

use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Session {
    base: String,
    agent: ureq::Agent,
}

impl Session {
    pub fn new(port: u16, capabilities: Value) -> Result<Session, String> {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(60))
            .build();
        let root = format!("http://127.0.0.1:{port}");
        let answer = call(
            &agent,
            "POST",
            &format!("{root}/session"),
            Some(json!({ "capabilities": capabilities })),
        )?;
        let id = answer["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no sessionId in {answer}"))?;
        Ok(Session {
            base: format!("{root}/session/{id}"),
            agent,
        })
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        call(&self.agent, method, &format!("{}{path}", self.base), body)
    }

    /// Waits for an element matching `css` and returns its id.
    pub fn wait_for(&self, css: &str, timeout: Duration) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.call(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            ) {
                Ok(found) => {
                    return found[ELEMENT_KEY]
                        .as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| format!("odd element {found}"))
                }
                Err(e) if Instant::now() >= deadline => {
                    return Err(format!("no element {css:?} after {timeout:?}: {e}"))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    pub fn text_of(&self, css: &str) -> Result<String, String> {
        let element = self.wait_for(css, Duration::from_secs(10))?;
        let text = self.call("GET", &format!("/element/{element}/text"), None)?;
        Ok(text.as_str().unwrap_or_default().to_owned())
    }

    pub fn execute(&self, script: &str) -> Result<Value, String> {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// Resolves after two animation frames, i.e. once the current DOM has been painted.
    pub fn wait_for_paint(&self) -> Result<(), String> {
        let script = "const done = arguments[arguments.length - 1]; \
                      requestAnimationFrame(() => requestAnimationFrame(() => done(true)));";
        self.call(
            "POST",
            "/execute/async",
            Some(json!({"script": script, "args": []})),
        )
        .map(|_| ())
    }

    pub fn screenshot(&self) -> Result<Vec<u8>, String> {
        self.wait_for_paint()?;
        let encoded = self.call("GET", "/screenshot", None)?;
        base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .map_err(|e| e.to_string())
    }

    /// The window's position and size: `{x, y, width, height}`.
    pub fn window_rect(&self) -> Result<Value, String> {
        self.call("GET", "/window/rect", None)
    }

    pub fn set_window_rect(
        &self,
        x: i64,
        y: i64,
        width: i64,
        height: i64,
    ) -> Result<Value, String> {
        self.call(
            "POST",
            "/window/rect",
            Some(json!({"x": x, "y": y, "width": width, "height": height})),
        )
    }

    pub fn navigate(&self, url: &str) -> Result<Value, String> {
        self.call("POST", "/url", Some(json!({ "url": url })))
    }

    /// Enters the iframe matching `css` (later commands act inside it).
    pub fn enter_frame(&self, css: &str) -> Result<Value, String> {
        let element = self.wait_for(css, Duration::from_secs(10))?;
        self.call(
            "POST",
            "/frame",
            Some(json!({ "id": { ELEMENT_KEY: element } })),
        )
    }

    /// Back to the top-level page.
    pub fn leave_frames(&self) -> Result<Value, String> {
        self.call("POST", "/frame", Some(json!({ "id": null })))
    }

    pub fn click(&self, css: &str) -> Result<Value, String> {
        let element = self.wait_for(css, Duration::from_secs(10))?;
        self.call("POST", &format!("/element/{element}/click"), None)
    }

    pub fn type_into(&self, css: &str, text: &str) -> Result<Value, String> {
        let element = self.wait_for(css, Duration::from_secs(10))?;
        self.call("POST", &format!("/element/{element}/clear"), None)?;
        self.call(
            "POST",
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        )
    }

    /// Types into the app window's input `[data-testid=TEST_ID]` the way a person does (the
    /// framework sees an `input` event); WebKitWebDriver's own typing is not used there.
    pub fn fill(&self, test_id: &str, text: &str) {
        let script = format!(
            "const el = document.querySelector('[data-testid={test_id}]'); el.value = {}; \
             el.dispatchEvent(new Event('input', {{bubbles: true}})); return el.value;",
            serde_json::to_string(text).unwrap()
        );
        self.wait_for(&format!("[data-testid={test_id}]"), Duration::from_secs(10))
            .unwrap();
        assert_eq!(self.execute(&script).unwrap(), json!(text));
    }

    /// Clicks the app window's `[data-testid=TEST_ID]` from the page's own script.
    pub fn press(&self, test_id: &str) {
        self.wait_for(&format!("[data-testid={test_id}]"), Duration::from_secs(10))
            .unwrap();
        self.execute(&format!(
            "document.querySelector('[data-testid={test_id}]').click()"
        ))
        .unwrap();
    }

    pub fn attribute(&self, css: &str, name: &str) -> Result<Option<String>, String> {
        let element = self.wait_for(css, Duration::from_secs(10))?;
        let value = self.call("GET", &format!("/element/{element}/attribute/{name}"), None)?;
        Ok(value.as_str().map(str::to_owned))
    }

    pub fn delete(&self) -> Result<Value, String> {
        self.call("DELETE", "", None)
    }
}

fn call(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    body: Option<Value>,
) -> Result<Value, String> {
    let request = agent.request(method, url);
    let response = match body {
        Some(body) => request.send_json(body),
        None if method == "POST" => request.send_json(json!({})),
        None => request.call(),
    };
    let value: Value = match response {
        Ok(ok) => ok.into_json().map_err(|e| e.to_string())?,
        Err(ureq::Error::Status(code, failed)) => {
            let text = failed.into_string().unwrap_or_default();
            return Err(format!("{method} {url}: HTTP {code}: {text}"));
        }
        Err(e) => return Err(format!("{method} {url}: {e}")),
    };
    Ok(value.get("value").cloned().unwrap_or(Value::Null))
}
