//! Scriptable mock model APIs for driving the real `claude` and `codex` CLIs
//! offline: an Anthropic Messages API and an OpenAI Responses API, served over
//! plain HTTP/1.1 on `127.0.0.1` with a port chosen by the OS.
//!
//! It takes in a script (`Vec<Step>`, one step per model request, in order)
//! and hands back every request it saw, so tests can assert on what a CLI
//! sent. It never talks to anything but its own loopback listener, and it
//! shuts down (closing every connection, stalled or not) when dropped.
//!
//! ```ignore
//! let mock = MockServer::anthropic(vec![
//!     Step::tool(ToolCall::claude_write("{{cwd}}/hello.txt", "hi\n")).with_text("Writing."),
//!     Step::text("Done.").usage(Usage::new(1000, 20)),
//! ]);
//! // ANTHROPIC_BASE_URL = mock.url()
//! // codex: base_url = format!("{}/v1", mock.url())
//! assert_eq!(mock.model_requests().len(), 2);
//! ```
//!
//! Script semantics: each model request (`POST /v1/messages`,
//! `POST /v1/responses`) takes the next step. When the script has run out the
//! last step is repeated, except a tool call, which would make the CLI loop
//! forever: after a final tool call the answer is [`DEFAULT_TEXT`]. So
//! `vec![Step::tool(call)]` is "call the tool, then answer a final text on the
//! next request". Every other request (count_tokens, model listings, HEAD
//! probes, telemetry) is answered without touching the script.
//!
//! Strings in steps may contain `{{cwd}}`, replaced by the working directory
//! the CLI reported in the request (Claude's "Primary working directory:",
//! Codex's `<cwd>`), because Claude's Write tool needs an absolute path.

#![allow(dead_code)] // each test binary uses a different part of it

#[path = "mock_api/anthropic.rs"]
mod anthropic;
#[path = "mock_api/http.rs"]
mod http;
#[path = "mock_api/openai.rs"]
mod openai;

use std::io::BufReader;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The answer once the script has run out after a tool call, or when the
/// script is empty.
pub const DEFAULT_TEXT: &str = "OK from mock";

/// Which wire protocol a [`MockServer`] speaks.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Api {
    /// Anthropic Messages API (`POST /v1/messages`, SSE or JSON), for Claude Code.
    Anthropic,
    /// OpenAI Responses API (`POST /v1/responses`, SSE or JSON), for Codex.
    OpenAi,
}

/// Token counts a step reports. They are sent verbatim in each API's own
/// fields: Anthropic `input_tokens`, `output_tokens`,
/// `cache_read_input_tokens`, `cache_creation_input_tokens`; OpenAI
/// `input_tokens`, `output_tokens`, `input_tokens_details.cached_tokens`,
/// `input_tokens_details.cache_write_tokens`. (For OpenAI, `input_tokens`
/// conventionally includes the cached tokens; for Anthropic it does not.)
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Usage {
    pub cache_creation: u64,
    pub cache_read: u64,
    pub input: u64,
    pub output: u64,
}

impl Usage {
    pub const fn new(input: u64, output: u64) -> Usage {
        Usage {
            cache_creation: 0,
            cache_read: 0,
            input,
            output,
        }
    }

    pub const fn with_cache(self, cache_read: u64, cache_creation: u64) -> Usage {
        Usage {
            cache_creation,
            cache_read,
            ..self
        }
    }
}

impl Default for Usage {
    /// Small fixed numbers, so runs are reproducible.
    fn default() -> Usage {
        Usage::new(100, 10)
    }
}

/// One tool call the mock model makes.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolCall {
    pub input: ToolInput,
    pub name: String,
}

/// The arguments of a [`ToolCall`].
#[derive(Clone, Debug, PartialEq)]
pub enum ToolInput {
    /// Free text, sent as an OpenAI `custom_tool_call` (Codex's `apply_patch`
    /// on models that offer it). On the Anthropic API it becomes
    /// `{"input": text}`.
    Freeform(String),
    /// A JSON object: an Anthropic `tool_use` input or OpenAI `function_call`
    /// arguments.
    Json(Value),
}

impl ToolCall {
    pub fn new(name: impl Into<String>, input: Value) -> ToolCall {
        ToolCall {
            input: ToolInput::Json(input),
            name: name.into(),
        }
    }

    /// Claude Code's `Write` tool. `path` must be absolute (`{{cwd}}/x` works).
    /// Not available under `claude --bare`; use [`ToolCall::claude_bash`] there.
    pub fn claude_write(path: impl Into<String>, content: impl Into<String>) -> ToolCall {
        ToolCall::new(
            "Write",
            json!({"file_path": path.into(), "content": content.into()}),
        )
    }

    /// Claude Code's `Bash` tool, run in the session's working directory.
    /// Claude refuses `sleep N; …` chains; use another slow command.
    pub fn claude_bash(command: impl Into<String>) -> ToolCall {
        ToolCall::new(
            "Bash",
            json!({"command": command.into(), "description": "mock tool call"}),
        )
    }

    /// Codex's shell tool (`exec_command`, run with `bash -lc` in the cwd).
    pub fn codex_exec(cmd: impl Into<String>) -> ToolCall {
        ToolCall::new("exec_command", json!({"cmd": cmd.into()}))
    }

    /// Codex's freeform `apply_patch` tool. Codex only offers it for models
    /// whose metadata it knows (e.g. `gpt-5.5`); for an unknown model such as
    /// `mock-model` the call fails with "unsupported call: apply_patch".
    pub fn codex_apply_patch(patch: impl Into<String>) -> ToolCall {
        ToolCall {
            input: ToolInput::Freeform(patch.into()),
            name: "apply_patch".into(),
        }
    }
}

/// A patch in Codex's `apply_patch` format that creates `path` (relative to
/// the cwd) with `content`.
pub fn add_file_patch(path: &str, content: &str) -> String {
    let mut patch = format!("*** Begin Patch\n*** Add File: {path}\n");
    for line in content.lines() {
        patch.push('+');
        patch.push_str(line);
        patch.push('\n');
    }
    patch.push_str("*** End Patch\n");
    patch
}

/// What the mock does for one model request.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    delay: Duration,
    kind: StepKind,
    usage: Usage,
}

#[derive(Clone, Debug, PartialEq)]
enum StepKind {
    /// Close the connection after the first stream event (Claude then
    /// retries, then falls back to a non-streaming request).
    Disconnect,
    Error {
        message: Option<String>,
        retry_after: Option<u64>,
        status: u16,
    },
    /// A 429 saying a usage window is exhausted, the way each API says it:
    /// it resets `reset_in` after the request.
    UsageLimit {
        reset_in: Duration,
        window: String,
    },
    /// Send the headers and the first events, then nothing, holding the
    /// connection open until the server is dropped.
    Stall,
    Text(String),
    Tools {
        calls: Vec<ToolCall>,
        text: Option<String>,
    },
}

impl Step {
    fn new(kind: StepKind) -> Step {
        Step {
            delay: Duration::ZERO,
            kind,
            usage: Usage::default(),
        }
    }

    /// A plain text answer that ends the turn.
    pub fn text(text: impl Into<String>) -> Step {
        Step::new(StepKind::Text(text.into()))
    }

    /// One tool call (stop reason `tool_use`); the CLI runs it and sends the
    /// result in the next request, which takes the next step.
    pub fn tool(call: ToolCall) -> Step {
        Step::tools(vec![call])
    }

    /// Several tool calls in one answer.
    pub fn tools(calls: Vec<ToolCall>) -> Step {
        assert!(!calls.is_empty(), "Step::tools needs at least one call");
        Step::new(StepKind::Tools { calls, text: None })
    }

    /// An HTTP error with the API's JSON error body. Claude retries 401, 429,
    /// 5xx and 529 (set `CLAUDE_CODE_MAX_RETRIES=0`); Codex retries per
    /// `request_max_retries`.
    pub fn error(status: u16) -> Step {
        Step::new(StepKind::Error {
            message: None,
            retry_after: None,
            status,
        })
    }

    /// A usage limit that resets `reset_in` after the request, in each API's
    /// own form. Anthropic: a 429 with the `anthropic-ratelimit-unified-*`
    /// headers (`status: rejected`, `reset` in epoch seconds,
    /// `representative-claim: <window>`), which Claude Code reads only when
    /// logged in to a subscription (see `claude_subscription` in
    /// real_cli.rs); OpenAI: a 429 whose body's error is
    /// `{"type":"usage_limit_reached","resets_at":<epoch s>}`, which Codex
    /// reads with an API key too. `window`: `five_hour`, `seven_day`, …
    pub fn usage_limit(reset_in: Duration, window: &str) -> Step {
        Step::new(StepKind::UsageLimit {
            reset_in,
            window: window.to_owned(),
        })
    }

    /// Headers and the first events, then silence on an open connection.
    pub fn stall() -> Step {
        Step::new(StepKind::Stall)
    }

    /// Headers and the first event, then the connection is closed.
    pub fn disconnect() -> Step {
        Step::new(StepKind::Disconnect)
    }

    /// Text sent before the tool call(s) in the same answer.
    pub fn with_text(mut self, text: impl Into<String>) -> Step {
        match &mut self.kind {
            StepKind::Tools { text: t, .. } => *t = Some(text.into()),
            other => panic!("with_text applies to tool steps, not {other:?}"),
        }
        self
    }

    /// The `error.message` of an error step.
    pub fn message(mut self, message: impl Into<String>) -> Step {
        match &mut self.kind {
            StepKind::Error { message: m, .. } => *m = Some(message.into()),
            other => panic!("message applies to error steps, not {other:?}"),
        }
        self
    }

    /// A `retry-after` header (seconds) on an error step.
    pub fn retry_after(mut self, secs: u64) -> Step {
        match &mut self.kind {
            StepKind::Error { retry_after, .. } => *retry_after = Some(secs),
            other => panic!("retry_after applies to error steps, not {other:?}"),
        }
        self
    }

    /// Wait this long before answering (before the status line).
    pub fn delay(mut self, delay: Duration) -> Step {
        self.delay = delay;
        self
    }

    /// The token usage this answer reports.
    pub fn usage(mut self, usage: Usage) -> Step {
        self.usage = usage;
        self
    }

    fn is_tool_call(&self) -> bool {
        matches!(self.kind, StepKind::Tools { .. })
    }

    fn describe(&self) -> String {
        match &self.kind {
            StepKind::Disconnect => "disconnect".into(),
            StepKind::Error { status, .. } => format!("error {status}"),
            StepKind::UsageLimit { window, .. } => format!("usage limit {window}"),
            StepKind::Stall => "stall".into(),
            StepKind::Text(text) => format!("text {text:?}"),
            StepKind::Tools { calls, .. } => {
                let names: Vec<&str> = calls.iter().map(|c| c.name.as_str()).collect();
                format!("tool {}", names.join(","))
            }
        }
    }

    /// A copy with `{{cwd}}` replaced in every string.
    fn resolve(&self, cwd: Option<&str>) -> Step {
        let Some(cwd) = cwd else {
            return self.clone();
        };
        let fix = |s: &str| s.replace("{{cwd}}", cwd);
        let mut step = self.clone();
        match &mut step.kind {
            StepKind::Text(text) => *text = fix(text),
            StepKind::Tools { calls, text } => {
                if let Some(text) = text {
                    *text = fix(text);
                }
                for call in calls {
                    match &mut call.input {
                        ToolInput::Freeform(s) => *s = fix(s),
                        ToolInput::Json(v) => replace_strings(v, &fix),
                    }
                }
            }
            StepKind::Error { message, .. } => {
                if let Some(m) = message {
                    *m = fix(m);
                }
            }
            StepKind::Disconnect | StepKind::Stall | StepKind::UsageLimit { .. } => {}
        }
        step
    }
}

fn replace_strings(value: &mut Value, fix: &dyn Fn(&str) -> String) {
    match value {
        Value::String(s) => *s = fix(s),
        Value::Array(items) => items.iter_mut().for_each(|v| replace_strings(v, fix)),
        Value::Object(map) => map.values_mut().for_each(|v| replace_strings(v, fix)),
        _ => {}
    }
}

/// One request the mock received.
#[derive(Clone, Debug)]
pub struct Request {
    /// The body parsed as JSON, if it was JSON (and not compressed).
    pub body: Option<Value>,
    /// Header names are lowercase, in the order received.
    pub headers: Vec<(String, String)>,
    pub method: String,
    /// The request target, query included (`/v1/messages?beta=true`).
    pub path: String,
    /// What the mock answered, e.g. `step 0: tool Write`, `count_tokens`.
    pub reply: String,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The path without the query string.
    pub fn route(&self) -> &str {
        self.path.split('?').next().unwrap_or("")
    }

    /// A model turn: `POST /v1/messages` or `POST …/responses`.
    pub fn is_model_turn(&self) -> bool {
        self.method == "POST"
            && (self.route() == "/v1/messages" || self.route().ends_with("/responses"))
    }

    /// The JSON body; panics if there is none.
    pub fn json(&self) -> &Value {
        self.body
            .as_ref()
            .unwrap_or_else(|| panic!("request {} {} has no JSON body", self.method, self.path))
    }

    /// `messages` (Anthropic) or `input` (OpenAI) items, empty if absent.
    pub fn items(&self) -> &[Value] {
        let body = self.body.as_ref();
        body.and_then(|b| b.get("messages").or_else(|| b.get("input")))
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }

    /// Every string in the body joined by newlines, for `contains` checks.
    pub fn all_text(&self) -> String {
        self.body.as_ref().map(strings_of).unwrap_or_default()
    }

    /// The `type` of every content block (Anthropic `messages`) or input
    /// item (OpenAI `input`), in order.
    pub fn block_types(&self) -> Vec<String> {
        let mut types = Vec::new();
        for item in self.items() {
            match item.get("content") {
                Some(Value::Array(blocks)) if item.get("type").is_none_or(|t| t == "message") => {
                    for b in blocks {
                        types.push(b["type"].as_str().unwrap_or("?").to_string());
                    }
                }
                _ => types.push(item["type"].as_str().unwrap_or("?").to_string()),
            }
        }
        types
    }
}

/// Every string in a JSON value, each followed by a newline.
pub fn strings_of(value: &Value) -> String {
    let mut out = String::new();
    collect_strings(value, &mut out);
    out
}

fn collect_strings(value: &Value, out: &mut String) {
    match value {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

struct Script {
    next: usize,
    steps: Vec<Step>,
}

impl Script {
    /// The step for the next model request and a description of it.
    fn take(&mut self) -> (Step, String) {
        if let Some(step) = self.steps.get(self.next) {
            let i = self.next;
            self.next += 1;
            return (step.clone(), format!("step {i}: {}", step.describe()));
        }
        match self.steps.last() {
            Some(last) if !last.is_tool_call() => (
                last.clone(),
                format!(
                    "step {} (repeated): {}",
                    self.steps.len() - 1,
                    last.describe()
                ),
            ),
            _ => (Step::text(DEFAULT_TEXT), "default text".into()),
        }
    }
}

/// State shared by the accept loop and the connection threads.
struct Shared {
    api: Api,
    /// Unique ids for messages, tool calls and responses.
    ids: AtomicU64,
    requests: Mutex<Vec<Request>>,
    script: Mutex<Script>,
    shutdown: Mutex<bool>,
    shutdown_cv: Condvar,
    streams: Mutex<Vec<TcpStream>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking connection thread must not hide the requests from the test.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What one model request gets: whether it asked to stream, the model it
/// named, and its scripted step as a [`Reply`].
struct Turn {
    stream: bool,
    model: String,
    reply: Reply,
    usage: Usage,
}

/// A scripted step as both APIs answer it.
enum Reply {
    /// The API's JSON error: the step's message (None: the API's default)
    /// and a `retry-after` header in `headers` when the step set one.
    Error {
        headers: Vec<(&'static str, String)>,
        message: Option<String>,
        status: u16,
    },
    /// A usage limit: its reset in epoch seconds and its window.
    Limit { reset_at: u64, window: String },
    /// The first event(s), then the connection is closed, or with `stall`
    /// held open until the server shuts down (see [`Shared::cut_json`] for a
    /// request that does not stream).
    Cut { stall: bool },
    /// Text, tool calls, or both.
    Answer {
        calls: Vec<ToolCall>,
        text: Option<String>,
    },
}

impl From<StepKind> for Reply {
    fn from(kind: StepKind) -> Reply {
        match kind {
            StepKind::Error {
                message,
                retry_after,
                status,
            } => Reply::Error {
                headers: retry_after
                    .map(|secs| ("retry-after", secs.to_string()))
                    .into_iter()
                    .collect(),
                message,
                status,
            },
            StepKind::UsageLimit { reset_in, window } => Reply::Limit {
                reset_at: (std::time::SystemTime::now() + reset_in)
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
                window,
            },
            StepKind::Disconnect => Reply::Cut { stall: false },
            StepKind::Stall => Reply::Cut { stall: true },
            StepKind::Text(text) => Reply::Answer {
                calls: Vec::new(),
                text: Some(text),
            },
            StepKind::Tools { calls, text } => Reply::Answer { calls, text },
        }
    }
}

impl Shared {
    /// Takes the next scripted step for a model request, records it and
    /// waits out its delay; None when the server shut down meanwhile.
    fn take_turn(
        &self,
        req: &http::RawRequest,
        default_model: &str,
        find_cwd: fn(&Value) -> Option<String>,
    ) -> Option<Turn> {
        let body = req.json().unwrap_or_else(|| json!({}));
        let stream = body.get("stream").and_then(Value::as_bool) == Some(true);
        let model = (body.get("model").and_then(Value::as_str))
            .unwrap_or(default_model)
            .to_string();
        let (step, desc) = lock(&self.script).take();
        let step = step.resolve(find_cwd(&body).as_deref());
        let mode = if stream { "sse" } else { "json" };
        self.record(req, format!("{desc} ({mode})"));
        if !step.delay.is_zero() && !self.sleep(step.delay) {
            return None;
        }
        let Step { kind, usage, .. } = step;
        Some(Turn {
            stream,
            model,
            reply: kind.into(),
            usage,
        })
    }

    /// A cut step on a request that does not stream: a stall sends the
    /// headers and half of `partial`, then holds the connection until
    /// shutdown; a disconnect sends nothing. Either way the connection closes.
    fn cut_json(
        &self,
        out: &mut TcpStream,
        stall: bool,
        partial: &Value,
    ) -> std::io::Result<http::Next> {
        if stall {
            http::write_json_partial(out, partial)?;
            self.wait_for_shutdown();
        }
        Ok(http::Next::Close)
    }

    fn is_shut_down(&self) -> bool {
        *lock(&self.shutdown)
    }

    /// Sleep for `d` or until shutdown; false if the server shut down.
    fn sleep(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        let mut down = lock(&self.shutdown);
        while !*down {
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            down = self
                .shutdown_cv
                .wait_timeout(down, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        false
    }

    /// Block until the server shuts down.
    fn wait_for_shutdown(&self) {
        let mut down = lock(&self.shutdown);
        while !*down {
            down = self
                .shutdown_cv
                .wait(down)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    fn next_id(&self, prefix: &str) -> String {
        let n = self.ids.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}_mock_{n:016x}")
    }

    fn record(&self, req: &http::RawRequest, reply: impl Into<String>) {
        lock(&self.requests).push(Request {
            body: req.json(),
            headers: req.headers.clone(),
            method: req.method.clone(),
            path: req.path.clone(),
            reply: reply.into(),
        });
    }
}

/// A running mock API server; shuts down when dropped.
pub struct MockServer {
    accept: Option<JoinHandle<()>>,
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl MockServer {
    /// An Anthropic Messages API mock (for `ANTHROPIC_BASE_URL`).
    pub fn anthropic(script: Vec<Step>) -> MockServer {
        MockServer::start(Api::Anthropic, script)
    }

    /// An OpenAI Responses API mock (Codex provider `base_url` = `url()/v1`).
    pub fn openai(script: Vec<Step>) -> MockServer {
        MockServer::start(Api::OpenAi, script)
    }

    pub fn start(api: Api, script: Vec<Step>) -> MockServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind mock API on 127.0.0.1:0");
        let addr = listener.local_addr().expect("mock API address");
        let shared = Arc::new(Shared {
            api,
            ids: AtomicU64::new(1),
            requests: Mutex::new(Vec::new()),
            script: Mutex::new(Script {
                next: 0,
                steps: script,
            }),
            shutdown: Mutex::new(false),
            shutdown_cv: Condvar::new(),
            streams: Mutex::new(Vec::new()),
        });
        let accept = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name(format!("mock-api-{}", addr.port()))
                .spawn(move || accept_loop(&listener, &shared))
                .expect("spawn mock API accept thread")
        };
        MockServer {
            accept: Some(accept),
            addr,
            shared,
        }
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every request seen so far, in order of arrival.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.shared.requests).clone()
    }

    /// Only the model turns (`POST /v1/messages`, `POST /v1/responses`).
    pub fn model_requests(&self) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(Request::is_model_turn)
            .collect()
    }

    /// Append steps to the script (e.g. before resuming a session).
    pub fn push_steps(&self, steps: impl IntoIterator<Item = Step>) {
        lock(&self.shared.script).steps.extend(steps);
    }

    /// How many script steps have been used (repeats not counted).
    pub fn steps_used(&self) -> usize {
        lock(&self.shared.script).next
    }

    /// One line per request, for failure messages.
    pub fn describe_requests(&self) -> String {
        let mut out = String::new();
        for (i, r) in self.requests().iter().enumerate() {
            out.push_str(&format!("  #{i} {} {} -> {}\n", r.method, r.path, r.reply));
        }
        if out.is_empty() {
            out.push_str("  (no requests)\n");
        }
        out
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        *lock(&self.shared.shutdown) = true;
        self.shared.shutdown_cv.notify_all();
        for stream in lock(&self.shared.streams).drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
        // Wake the accept loop, which checks the flag after each connection.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.is_shut_down() {
            return;
        }
        let Ok(stream) = stream else { continue };
        if let Ok(clone) = stream.try_clone() {
            lock(&shared.streams).push(clone);
        }
        let shared = Arc::clone(shared);
        let _ = thread::Builder::new()
            .name("mock-api-conn".into())
            .spawn(move || serve_connection(stream, &shared));
    }
}

/// Serve requests on one keep-alive connection until it closes.
fn serve_connection(stream: TcpStream, shared: &Shared) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut out = stream;
    loop {
        let req = match http::read_request(&mut reader, &mut out) {
            Ok(Some(req)) => req,
            Ok(None) | Err(_) => return,
        };
        if shared.is_shut_down() {
            return;
        }
        let keep_alive = match shared.api {
            Api::Anthropic => anthropic::handle(shared, &req, &mut out),
            Api::OpenAi => openai::handle(shared, &req, &mut out),
        };
        match keep_alive {
            Ok(http::Next::KeepAlive) if req.keep_alive() => {}
            _ => {
                let _ = out.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}

/// Answers to requests that are not model turns but that a CLI may send.
/// Returns None when the request is a model turn or unknown.
fn common_route(
    shared: &Shared,
    req: &http::RawRequest,
    out: &mut TcpStream,
) -> Option<std::io::Result<http::Next>> {
    let route = req.route();
    if req.method == "HEAD" {
        // Claude's connectivity probe (`HEAD /api/hello`) and health checks.
        shared.record(req, "head 200");
        return Some(http::write_json(out, 200, &[], &json!({}), true));
    }
    if req.method == "POST"
        && (route.contains("event_logging")
            || route.contains("telemetry")
            || route.contains("metrics"))
    {
        shared.record(req, "telemetry 200");
        return Some(http::write_json(out, 200, &[], &json!({}), false));
    }
    if req.method == "GET" && route == "/api/hello" {
        shared.record(req, "hello 200");
        return Some(http::write_json(out, 200, &[], &json!({}), false));
    }
    None
}
