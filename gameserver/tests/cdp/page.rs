//! One browser tab: navigate, evaluate script, press keys, capture, collect errors.

use super::connection::{Connection, Event};
use super::CdpError;
use base64::Engine;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Page {
    conn: Arc<Connection>,
    session: String,
}

/// What a keyboard key is called in `Input.dispatchKeyEvent`.
struct Key {
    key: &'static str,
    code: &'static str,
    key_code: u32,
}

const KEYS: &[Key] = &[
    Key {
        key: "ArrowUp",
        code: "ArrowUp",
        key_code: 38,
    },
    Key {
        key: "ArrowLeft",
        code: "ArrowLeft",
        key_code: 37,
    },
    Key {
        key: "ArrowRight",
        code: "ArrowRight",
        key_code: 39,
    },
    Key {
        key: " ",
        code: "Space",
        key_code: 32,
    },
    Key {
        key: "Enter",
        code: "Enter",
        key_code: 13,
    },
    Key {
        key: "m",
        code: "KeyM",
        key_code: 77,
    },
];

impl Page {
    /// Opens a new tab of the browser at `browser_ws_url` with a `width` x `height` viewport.
    pub async fn open(browser_ws_url: &str, width: u32, height: u32) -> Result<Page, CdpError> {
        Self::open_in(browser_ws_url, width, height, false).await
    }

    /// As `open`, in a context of its own (as another person's browser: no
    /// cookies or storage shared with the other tabs).
    pub async fn open_isolated(
        browser_ws_url: &str,
        width: u32,
        height: u32,
    ) -> Result<Page, CdpError> {
        Self::open_in(browser_ws_url, width, height, true).await
    }

    async fn open_in(
        browser_ws_url: &str,
        width: u32,
        height: u32,
        isolated: bool,
    ) -> Result<Page, CdpError> {
        let conn = Arc::new(Connection::open(browser_ws_url).await?);
        let mut params = json!({ "url": "about:blank" });
        if isolated {
            let method = "Target.createBrowserContext";
            let context = conn.call(None, method, json!({})).await?;
            params["browserContextId"] = json!(str_field(&context, "browserContextId", method)?);
        }
        let target = conn.call(None, "Target.createTarget", params).await?;
        let target_id = str_field(&target, "targetId", "Target.createTarget")?;
        let attached = conn
            .call(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target_id, "flatten": true }),
            )
            .await?;
        let session = str_field(&attached, "sessionId", "Target.attachToTarget")?;
        let page = Page { conn, session };
        for domain in ["Runtime.enable", "Log.enable", "Page.enable"] {
            page.call(domain, json!({})).await?;
        }
        page.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        )
        .await?;
        Ok(page)
    }

    pub async fn call(&self, method: &str, params: Value) -> Result<Value, CdpError> {
        self.conn.call(Some(&self.session), method, params).await
    }

    pub async fn navigate(&self, url: &str) -> Result<(), CdpError> {
        let reply = self.call("Page.navigate", json!({ "url": url })).await?;
        if let Some(err) = reply.get("errorText").and_then(Value::as_str) {
            return Err(CdpError::Command {
                method: format!("Page.navigate {url}"),
                message: err.to_string(),
            });
        }
        Ok(())
    }

    /// Evaluates `expression` in the page and returns its value (promises awaited).
    pub async fn eval(&self, expression: &str) -> Result<Value, CdpError> {
        let reply = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await?;
        if let Some(details) = reply.get("exceptionDetails") {
            let message = details
                .pointer("/exception/description")
                .and_then(Value::as_str)
                .or_else(|| details.get("text").and_then(Value::as_str))
                .unwrap_or("unknown exception");
            return Err(CdpError::Script {
                expression: expression.to_string(),
                message: message.to_string(),
            });
        }
        Ok(reply
            .pointer("/result/value")
            .cloned()
            .unwrap_or(Value::Null))
    }

    /// Polls `expression` until it yields something other than null/false/undefined and
    /// returns it; a script error counts as "not yet" (the page may still be loading).
    /// Panics naming `what` and the last value seen when `limit` passes.
    pub async fn wait_for(&self, what: &str, expression: &str, limit: Duration) -> Value {
        let start = Instant::now();
        let mut last = String::from("(nothing yet)");
        loop {
            match self.eval(expression).await {
                Ok(Value::Null) | Ok(Value::Bool(false)) => {}
                Ok(value) => return value,
                Err(e) => last = e.to_string(),
            }
            if start.elapsed() > limit {
                let state = self
                    .eval("window.spaaace ? window.spaaace.state() : null")
                    .await
                    .map(|v| v.to_string())
                    .unwrap_or_else(|e| e.to_string());
                panic!("timed out after {limit:?} waiting for {what}; last error: {last}; client state: {state}");
            }
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
    }

    /// Waits until the Spaaace client's debug state (`window.spaaace.state()`)
    /// satisfies `condition`, a JavaScript expression over `s`, and returns it.
    pub async fn wait_for_state(&self, what: &str, condition: &str, limit: Duration) -> Value {
        let expression = format!(
            "(() => {{ const s = window.spaaace && window.spaaace.state(); return s && ({condition}) ? s : null; }})()"
        );
        self.wait_for(what, &expression, limit).await
    }

    /// Sends a key press or release ("keyDown" / "keyUp") as the keyboard would.
    pub async fn key(&self, kind: &str, key: &str) -> Result<(), CdpError> {
        let k = KEYS
            .iter()
            .find(|k| k.key == key || k.code == key)
            .ok_or_else(|| CdpError::Command {
                method: "Input.dispatchKeyEvent".into(),
                message: format!("the driver does not know key {key:?}"),
            })?;
        self.call(
            "Input.dispatchKeyEvent",
            json!({
                "type": kind,
                "key": k.key,
                "code": k.code,
                "windowsVirtualKeyCode": k.key_code,
                "nativeVirtualKeyCode": k.key_code,
            }),
        )
        .await?;
        Ok(())
    }

    /// Sends a touch event ("touchStart", "touchEnd", ...) with fingers at `points`.
    pub async fn touch(&self, kind: &str, points: &[(f64, f64)]) -> Result<(), CdpError> {
        let points: Vec<Value> = points
            .iter()
            .map(|(x, y)| json!({ "x": x, "y": y }))
            .collect();
        self.call(
            "Input.dispatchTouchEvent",
            json!({ "type": kind, "touchPoints": points }),
        )
        .await?;
        Ok(())
    }

    /// A left click at (x, y) in CSS pixels, as the mouse would: a user gesture.
    pub async fn click(&self, x: f64, y: f64) -> Result<(), CdpError> {
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            )
            .await?;
        }
        Ok(())
    }

    /// Clicks the middle of the element `selector` matches.
    pub async fn click_on(&self, selector: &str) -> Result<(), CdpError> {
        let quoted = serde_json::to_string(selector).unwrap_or_default();
        let at = self
            .eval(&format!(
                "(() => {{ const el = document.querySelector({quoted}); if (!el || el.hidden) return null;
                  const r = el.getBoundingClientRect(); return {{ x: r.x + r.width / 2, y: r.y + r.height / 2 }}; }})()"
            ))
            .await?;
        let (Some(x), Some(y)) = (at["x"].as_f64(), at["y"].as_f64()) else {
            return Err(CdpError::Command {
                method: "Input.dispatchMouseEvent".into(),
                message: format!("no visible element matches {selector}"),
            });
        };
        self.click(x, y).await
    }

    /// Types `text` into the focused element, as an input method would.
    pub async fn insert_text(&self, text: &str) -> Result<(), CdpError> {
        self.call("Input.insertText", json!({ "text": text }))
            .await?;
        Ok(())
    }

    /// Lets the page at `origin` write and read the clipboard without asking,
    /// and treats it as focused (headless has no window focus; the clipboard needs it).
    pub async fn allow_clipboard(&self, origin: &str) -> Result<(), CdpError> {
        self.conn
            .call(
                None,
                "Browser.grantPermissions",
                json!({ "origin": origin, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"] }),
            )
            .await?;
        self.call(
            "Emulation.setFocusEmulationEnabled",
            json!({ "enabled": true }),
        )
        .await?;
        Ok(())
    }

    pub async fn screenshot(&self, path: &Path) -> Result<(), CdpError> {
        self.capture(path, json!({ "format": "png" })).await
    }

    /// A screenshot of the element `selector` matches, with `margin` CSS pixels around it.
    pub async fn screenshot_of(
        &self,
        selector: &str,
        margin: f64,
        path: &Path,
    ) -> Result<(), CdpError> {
        let quoted = serde_json::to_string(selector).unwrap_or_default();
        let clip = self
            .eval(&format!(
                "(() => {{ const r = document.querySelector({quoted}).getBoundingClientRect();
                  return {{ x: r.x - {margin}, y: r.y - {margin}, width: r.width + 2 * {margin},
                    height: r.height + 2 * {margin}, scale: 1 }}; }})()"
            ))
            .await?;
        self.capture(path, json!({ "format": "png", "clip": clip }))
            .await
    }

    async fn capture(&self, path: &Path, params: Value) -> Result<(), CdpError> {
        let method = "Page.captureScreenshot";
        let reply = self.call(method, params).await?;
        let data = str_field(&reply, "data", method)?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| CdpError::BadReply {
                method: method.into(),
                reply: format!("data is not base64: {e}"),
            })?;
        std::fs::write(path, png).map_err(|source| CdpError::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Errors the page reported: uncaught exceptions, console.error, and browser log
    /// entries of level error (failed loads, CSP, WebSocket failures).
    pub fn errors(&self) -> Vec<String> {
        self.conn
            .events(&self.session)
            .iter()
            .filter_map(error_text)
            .collect()
    }
}

fn error_text(e: &Event) -> Option<String> {
    let p = &e.params;
    match e.method.as_str() {
        "Runtime.exceptionThrown" => Some(format!(
            "exception: {}",
            p.pointer("/exceptionDetails/exception/description")
                .or_else(|| p.pointer("/exceptionDetails/text"))
                .map(Value::to_string)
                .unwrap_or_else(|| p.to_string())
        )),
        "Runtime.consoleAPICalled" if p.get("type").and_then(Value::as_str) == Some("error") => {
            Some(format!(
                "console.error: {}",
                p.get("args").map(Value::to_string).unwrap_or_default()
            ))
        }
        "Log.entryAdded" if p.pointer("/entry/level").and_then(Value::as_str) == Some("error") => {
            Some(format!(
                "log: {} ({})",
                p.pointer("/entry/text")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
                p.pointer("/entry/url")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            ))
        }
        _ => None,
    }
}

fn str_field(reply: &Value, field: &str, method: &str) -> Result<String, CdpError> {
    reply
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| CdpError::BadReply {
            method: method.to_string(),
            reply: reply.to_string(),
        })
}
