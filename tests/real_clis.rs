//! Smoke tests of the real `claude` (2.1.330) and `codex` (0.169.0) CLIs,
//! run directly (not through run-batch yet) against the Rust mock APIs in
//! `support/mock_api.rs`, fully offline. They pin the behaviour run-batch
//! relies on: which event ends a run, where usage and cost are, how API
//! errors surface, and that resume re-sends the transcript. The `mock_*`
//! tests check the mock itself and need no CLI.
//!
//! A missing CLI skips its test with a loud note on stderr, unless `CI` is
//! set, in which case it fails. Install the CLIs at the repository root with
//! `real_cli::INSTALL`, or point `RUN_BATCH_CLAUDE_BIN` /
//! `RUN_BATCH_CODEX_BIN` at the binaries.

#[path = "support/mock_api.rs"]
mod mock_api;
#[path = "support/real_cli.rs"]
mod real_cli;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use mock_api::{DEFAULT_TEXT, MockServer, Step, ToolCall, Usage, add_file_patch};
use real_cli::{Cli, Run, Sandbox, f64_at, require, u64_at};

/// The run and the mock's request log, for assertion messages.
fn context(run: &Run, mock: &MockServer) -> String {
    format!("{run}mock requests:\n{}", mock.describe_requests())
}

// ---------------------------------------------------------------- claude

#[test]
fn claude_writes_a_file_with_the_write_tool() {
    let Some(bin) = require(Cli::Claude) else {
        return;
    };
    let mock = MockServer::anthropic(vec![
        Step::tool(ToolCall::claude_write(
            "{{cwd}}/hello.txt",
            "hello from mock\n",
        ))
        .with_text("Writing.")
        .usage(Usage::new(1000, 100).with_cache(200, 300)),
        Step::text("Created hello.txt.").usage(Usage::new(2000, 50).with_cache(400, 0)),
    ]);
    let sb = Sandbox::new();
    let run = sb.claude(&bin, &mock, "create hello.txt", &[]);
    let ctx = context(&run, &mock);

    assert_eq!(run.code(), Some(0), "{ctx}");
    assert_eq!(
        sb.work_file("hello.txt").as_deref(),
        Some("hello from mock\n"),
        "{ctx}"
    );
    // Each content block is its own `assistant` event: text, then tool_use.
    let tool_uses: Vec<Value> = run
        .events_of("assistant")
        .into_iter()
        .filter(|e| e["message"]["content"][0]["type"] == "tool_use")
        .collect();
    assert_eq!(tool_uses.len(), 1, "{ctx}");
    assert_eq!(
        tool_uses[0]["message"]["content"][0]["name"], "Write",
        "{ctx}"
    );

    let result = run.last("result");
    assert_eq!(result["is_error"], false, "{ctx}");
    assert_eq!(result["subtype"], "success", "{ctx}");
    assert_eq!(result["terminal_reason"], "completed", "{ctx}");
    assert_eq!(result["result"], "Created hello.txt.", "{ctx}");
    assert_eq!(result["num_turns"], 2, "{ctx}");
    // Usage is the sum over this invocation's API calls, as the mock sent it.
    assert_eq!(u64_at(&result, "/usage/input_tokens"), 3000, "{ctx}");
    assert_eq!(u64_at(&result, "/usage/output_tokens"), 150, "{ctx}");
    assert_eq!(
        u64_at(&result, "/usage/cache_read_input_tokens"),
        600,
        "{ctx}"
    );
    assert_eq!(
        u64_at(&result, "/usage/cache_creation_input_tokens"),
        300,
        "{ctx}"
    );
    // The cost is computed client-side from those numbers at list price.
    assert!(f64_at(&result, "/total_cost_usd") > 0.0, "{ctx}");
    let models = result["modelUsage"].as_object().expect("modelUsage");
    assert_eq!(models.len(), 1, "{ctx}");
    let (_, model) = models.iter().next().expect("one model");
    assert_eq!(u64_at(model, "/inputTokens"), 3000, "{ctx}");
    assert_eq!(
        f64_at(model, "/costUSD"),
        f64_at(&result, "/total_cost_usd"),
        "{ctx}"
    );

    let turns = mock.model_requests();
    assert_eq!(turns.len(), 2, "{ctx}");
    assert_eq!(
        mock.requests().len(),
        2,
        "only model turns with the quiet env\n{ctx}"
    );
    assert_eq!(turns[0].header("x-api-key"), Some("test"));
    assert_eq!(turns[0].json()["stream"], true);
    assert!(
        !turns[0].block_types().contains(&"tool_result".to_string()),
        "{ctx}"
    );
    assert!(
        turns[1].block_types().contains(&"tool_result".to_string()),
        "{ctx}"
    );
}

#[test]
fn claude_reports_a_401_as_an_error_result() {
    let Some(bin) = require(Cli::Claude) else {
        return;
    };
    let mock = MockServer::anthropic(vec![Step::error(401).message("mock: invalid x-api-key")]);
    let sb = Sandbox::new();
    let run = sb.claude(&bin, &mock, "say hello", &[]);
    let ctx = context(&run, &mock);

    assert_eq!(run.code(), Some(1), "{ctx}");
    let result = run.last("result");
    assert_eq!(result["is_error"], true, "{ctx}");
    // `subtype` stays "success" on API errors: decide on is_error.
    assert_eq!(result["subtype"], "success", "{ctx}");
    assert_eq!(result["terminal_reason"], "api_error", "{ctx}");
    assert_eq!(result["api_error_status"], 401, "{ctx}");
    assert_eq!(result["api_error_type"], "authentication_error", "{ctx}");
    // For 401 Claude replaces the API's message with its own advice.
    assert_eq!(
        result["result"], "Invalid API key · Fix external API key",
        "{ctx}"
    );
    assert!(run.stderr.is_empty(), "{ctx}");
    assert_eq!(
        mock.model_requests().len(),
        1,
        "CLAUDE_CODE_MAX_RETRIES=0\n{ctx}"
    );
}

#[test]
fn claude_reports_a_500_with_the_api_message() {
    let Some(bin) = require(Cli::Claude) else {
        return;
    };
    let mock = MockServer::anthropic(vec![Step::error(500).message("mock: boom")]);
    let sb = Sandbox::new();
    let run = sb.claude(&bin, &mock, "say hello", &[]);
    let ctx = context(&run, &mock);

    assert_eq!(run.code(), Some(1), "{ctx}");
    let result = run.last("result");
    assert_eq!(result["is_error"], true, "{ctx}");
    assert_eq!(result["terminal_reason"], "api_error", "{ctx}");
    assert_eq!(result["api_error_status"], 500, "{ctx}");
    let text = result["result"].as_str().expect("result text");
    assert!(text.starts_with("API Error: 500 mock: boom"), "{ctx}");
    assert_eq!(mock.model_requests().len(), 1, "{ctx}");
}

#[test]
fn claude_falls_back_to_a_plain_json_request_when_the_stream_drops() {
    let Some(bin) = require(Cli::Claude) else {
        return;
    };
    let mock = MockServer::anthropic(vec![
        Step::disconnect().usage(Usage::new(100, 0)),
        Step::text("Answered without streaming.").usage(Usage::new(700, 7)),
    ]);
    let sb = Sandbox::new();
    let run = sb.claude(&bin, &mock, "say hello", &[]);
    let ctx = context(&run, &mock);

    assert_eq!(run.code(), Some(0), "{ctx}");
    let result = run.last("result");
    assert_eq!(result["is_error"], false, "{ctx}");
    assert_eq!(result["result"], "Answered without streaming.", "{ctx}");
    // The dropped stream's message_start usage (100 in, 1 out) is counted
    // too when the CLI read it before noticing the reset: a race.
    let input = u64_at(&result, "/usage/input_tokens");
    assert!(input == 700 || input == 800, "{ctx}");
    let turns = mock.model_requests();
    assert_eq!(turns.len(), 2, "{ctx}");
    assert_eq!(turns[0].json()["stream"], true, "{ctx}");
    assert_ne!(turns[1].json()["stream"], true, "{ctx}");
}

#[test]
fn claude_resume_resends_the_transcript() {
    let Some(bin) = require(Cli::Claude) else {
        return;
    };
    let mock = MockServer::anthropic(vec![
        Step::tool(ToolCall::claude_write("{{cwd}}/hello.txt", "hi\n"))
            .with_text("Writing.")
            .usage(Usage::new(1000, 100)),
        Step::text("Done first.").usage(Usage::new(2000, 50)),
        Step::text("Earlier I wrote hello.txt.").usage(Usage::new(500, 20)),
    ]);
    let sb = Sandbox::new();
    let first = sb.claude(&bin, &mock, "create hello.txt", &[]);
    let ctx = context(&first, &mock);
    assert_eq!(first.code(), Some(0), "{ctx}");
    let first_result = first.last("result");
    let session = first_result["session_id"].as_str().expect("session_id");

    // Same cwd; `--resume=ID` keeps the session id rather than forking.
    let resume = format!("--resume={session}");
    let second = sb.claude(&bin, &mock, "what did you do before?", &[&resume]);
    let ctx = context(&second, &mock);
    assert_eq!(second.code(), Some(0), "{ctx}");
    let result = second.last("result");
    assert_eq!(result["is_error"], false, "{ctx}");
    assert_eq!(result["session_id"], session, "{ctx}");
    assert_eq!(result["result"], "Earlier I wrote hello.txt.", "{ctx}");
    assert_eq!(
        result["num_turns"], 1,
        "num_turns counts only new turns\n{ctx}"
    );

    // The resumed request carries the whole earlier transcript, then the new prompt.
    let turns = mock.model_requests();
    assert_eq!(turns.len(), 3, "{ctx}");
    let last = &turns[2];
    let types = last.block_types();
    for t in ["tool_use", "tool_result"] {
        assert!(
            types.contains(&t.to_string()),
            "{t} missing from {types:?}\n{ctx}"
        );
    }
    let text = last.all_text();
    for needle in [
        "create hello.txt",
        "Writing.",
        "Done first.",
        "what did you do before?",
    ] {
        assert!(
            text.contains(needle),
            "{needle:?} missing from the resumed request\n{ctx}"
        );
    }
    let prompt_at = text.rfind("what did you do before?").expect("new prompt");
    assert!(text.find("create hello.txt").expect("old prompt") < prompt_at);

    // `usage` covers this invocation only; cost and modelUsage are cumulative
    // over the session, so a runner must not add them up across resumes.
    assert_eq!(u64_at(&result, "/usage/input_tokens"), 500, "{ctx}");
    let (_, model) = result["modelUsage"]
        .as_object()
        .and_then(|m| m.iter().next())
        .expect("modelUsage");
    assert_eq!(u64_at(model, "/inputTokens"), 3500, "{ctx}");
    let cost_first = f64_at(&first_result, "/total_cost_usd");
    let cost_second = f64_at(&result, "/total_cost_usd");
    assert!(
        cost_second > cost_first,
        "{cost_second} <= {cost_first}\n{ctx}"
    );
    let (_, since) = result["model_usage_since_last_result"]
        .as_object()
        .and_then(|m| m.iter().next())
        .expect("model_usage_since_last_result");
    let cost_delta = f64_at(since, "/costUSD");
    assert!(
        (cost_first + cost_delta - cost_second).abs() < 1e-9,
        "{cost_first} + {cost_delta} != {cost_second}\n{ctx}"
    );
}

// ----------------------------------------------------------------- codex

#[test]
fn codex_writes_a_file_with_the_shell_tool() {
    let Some(bin) = require(Cli::Codex) else {
        return;
    };
    let mock = MockServer::openai(vec![
        Step::tool(ToolCall::codex_exec(
            "printf 'hello from codex\\n' > hello.txt",
        ))
        .usage(Usage::new(1000, 100).with_cache(200, 300)),
        Step::text("Created hello.txt.").usage(Usage::new(2000, 50).with_cache(400, 0)),
    ]);
    let sb = Sandbox::new();
    let run = sb.codex(&bin, &mock, &["create hello.txt"]);
    let ctx = context(&run, &mock);

    assert_eq!(run.code(), Some(0), "{ctx}");
    assert_eq!(
        sb.work_file("hello.txt").as_deref(),
        Some("hello from codex\n"),
        "{ctx}"
    );
    let thread = run.last("thread.started");
    assert!(
        thread["thread_id"].as_str().is_some_and(|t| !t.is_empty()),
        "{ctx}"
    );
    let items: Vec<Value> = run
        .events_of("item.completed")
        .into_iter()
        .map(|e| e["item"].clone())
        .collect();
    let command = items
        .iter()
        .find(|i| i["type"] == "command_execution")
        .unwrap_or_else(|| panic!("no command_execution item\n{ctx}"));
    assert_eq!(command["exit_code"], 0, "{ctx}");
    assert!(
        items
            .iter()
            .any(|i| i["type"] == "agent_message" && i["text"] == "Created hello.txt."),
        "{ctx}"
    );
    // An unknown model name adds a harmless `error` item; it is not a failure.
    assert!(
        items.iter().any(|i| i["type"] == "error"
            && i["message"]
                .as_str()
                .is_some_and(|m| m.contains("Model metadata"))),
        "{ctx}"
    );

    let done = run.last("turn.completed");
    assert_eq!(u64_at(&done, "/usage/input_tokens"), 3000, "{ctx}");
    assert_eq!(u64_at(&done, "/usage/output_tokens"), 150, "{ctx}");
    assert_eq!(u64_at(&done, "/usage/cached_input_tokens"), 600, "{ctx}");
    assert_eq!(
        u64_at(&done, "/usage/cache_write_input_tokens"),
        300,
        "{ctx}"
    );
    assert!(
        done.get("total_cost_usd").is_none(),
        "codex reports no cost\n{ctx}"
    );

    let turns = mock.model_requests();
    assert_eq!(turns.len(), 2, "{ctx}");
    assert_eq!(turns[0].header("authorization"), Some("Bearer test"));
    assert_eq!(turns[0].json()["stream"], true);
    let types = turns[1].block_types();
    assert!(
        types.contains(&"function_call_output".to_string()),
        "{types:?}\n{ctx}"
    );
}

#[test]
fn codex_writes_a_file_with_apply_patch() {
    let Some(bin) = require(Cli::Codex) else {
        return;
    };
    let patch = add_file_patch("patched.txt", "one\ntwo\n");
    let mock = MockServer::openai(vec![Step::tool(ToolCall::codex_apply_patch(patch))]);
    let sb = Sandbox::new();
    // The freeform apply_patch tool is only offered for models Codex knows.
    let run = sb.codex(&bin, &mock, &["-c", "model=gpt-5.5", "patch it"]);
    let ctx = context(&run, &mock);

    assert_eq!(run.code(), Some(0), "{ctx}");
    assert_eq!(
        sb.work_file("patched.txt").as_deref(),
        Some("one\ntwo\n"),
        "{ctx}"
    );
    let change = run
        .events_of("item.completed")
        .into_iter()
        .map(|e| e["item"].clone())
        .find(|i| i["type"] == "file_change")
        .unwrap_or_else(|| panic!("no file_change item\n{ctx}"));
    assert_eq!(change["changes"][0]["kind"], "add", "{ctx}");
    // After a final tool call the mock answers the default text.
    let result = run.last("item.completed");
    assert_eq!(result["item"]["text"], DEFAULT_TEXT, "{ctx}");
    run.last("turn.completed");
    let types = mock.model_requests()[1].block_types();
    assert!(
        types.contains(&"custom_tool_call_output".to_string()),
        "{types:?}\n{ctx}"
    );
}

#[test]
fn codex_reports_a_500_as_a_failed_turn() {
    let Some(bin) = require(Cli::Codex) else {
        return;
    };
    let mock = MockServer::openai(vec![Step::error(500).message("mock: boom")]);
    let sb = Sandbox::new();
    let run = sb.codex(&bin, &mock, &["say hello"]);
    let ctx = context(&run, &mock);

    assert_eq!(run.code(), Some(1), "{ctx}");
    let failed = run.last("turn.failed");
    assert!(
        failed["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{ctx}"
    );
    run.last("error");
    assert!(run.events_of("turn.completed").is_empty(), "{ctx}");
    assert_eq!(
        mock.model_requests().len(),
        1,
        "request_max_retries = 0\n{ctx}"
    );
}

#[test]
fn codex_resume_resends_the_history() {
    let Some(bin) = require(Cli::Codex) else {
        return;
    };
    let mock = MockServer::openai(vec![
        Step::tool(ToolCall::codex_exec("echo hi > a.txt")).usage(Usage::new(1000, 100)),
        Step::text("First done.").usage(Usage::new(2000, 50)),
        Step::text("Earlier I wrote a.txt.").usage(Usage::new(5, 1)),
    ]);
    let sb = Sandbox::new();
    let first = sb.codex(&bin, &mock, &["make a.txt"]);
    let ctx = context(&first, &mock);
    assert_eq!(first.code(), Some(0), "{ctx}");
    let thread = first.last("thread.started")["thread_id"]
        .as_str()
        .expect("thread_id")
        .to_string();

    let second = sb.codex(&bin, &mock, &["resume", &thread, "what did you do before?"]);
    let ctx = context(&second, &mock);
    assert_eq!(second.code(), Some(0), "{ctx}");
    assert_eq!(
        second.last("thread.started")["thread_id"],
        thread.as_str(),
        "{ctx}"
    );
    let last = mock.model_requests().pop().expect("a request");
    let types = last.block_types();
    for t in ["function_call", "function_call_output"] {
        assert!(
            types.contains(&t.to_string()),
            "{t} missing from {types:?}\n{ctx}"
        );
    }
    let text = last.all_text();
    for needle in ["make a.txt", "First done.", "what did you do before?"] {
        assert!(text.contains(needle), "{needle:?} missing\n{ctx}");
    }
    // turn.completed usage on resume is the thread's running total, not this
    // turn's: 3000 from the first run + 5 now.
    let done = second.last("turn.completed");
    assert_eq!(u64_at(&done, "/usage/input_tokens"), 3005, "{ctx}");
    assert_eq!(u64_at(&done, "/usage/output_tokens"), 151, "{ctx}");
}

#[test]
fn codex_gives_up_on_a_stalled_stream_after_its_idle_timeout() {
    let Some(bin) = require(Cli::Codex) else {
        return;
    };
    let mock = MockServer::openai(vec![Step::stall()]);
    let sb = Sandbox::new();
    let idle = "model_providers.mock.stream_idle_timeout_ms=500";
    let run = sb.codex(&bin, &mock, &["-c", idle, "say hello"]);
    let ctx = context(&run, &mock);

    assert_eq!(run.code(), Some(1), "{ctx}");
    let failed = run.last("turn.failed");
    let message = failed["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("idle timeout"), "{ctx}");
}

// ------------------------------------------------------ the mock itself

/// One request on a fresh connection (`Connection: close`); returns the
/// status code and everything after the headers (chunk framing included).
fn http(mock: &MockServer, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", mock.port())).expect("connect to mock");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let data = body.map(Value::to_string).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{data}",
        data.len()
    )
    .expect("send request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad response {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn mock_script_runs_in_order_then_repeats_the_last_step() {
    let mock = MockServer::anthropic(vec![Step::text("one"), Step::error(529), Step::text("two")]);
    let req = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    let mut seen = Vec::new();
    for _ in 0..4 {
        let (status, body) = http(&mock, "POST", "/v1/messages?beta=true", Some(&req));
        let body: Value = serde_json::from_str(&body).expect("json body");
        let text = body["content"][0]["text"].as_str().unwrap_or("");
        seen.push(format!("{status} {text}"));
    }
    assert_eq!(seen, ["200 one", "529 ", "200 two", "200 two"]);
    let (_, body) = http(&mock, "POST", "/v1/messages", Some(&req));
    assert!(body.contains("\"two\""));
    assert_eq!(mock.steps_used(), 3);
    assert_eq!(mock.model_requests().len(), 5);
    assert_eq!(mock.requests()[0].json()["model"], "m");

    // A tool call is never repeated: the next answer is the default text.
    let mock = MockServer::openai(vec![Step::tool(ToolCall::codex_exec("true"))]);
    let req = json!({"model": "m", "input": "hi"});
    let (_, first) = http(&mock, "POST", "/v1/responses", Some(&req));
    let (_, second) = http(&mock, "POST", "/v1/responses", Some(&req));
    let first: Value = serde_json::from_str(&first).expect("json");
    let second: Value = serde_json::from_str(&second).expect("json");
    assert_eq!(first["output"][0]["type"], "function_call");
    assert_eq!(second["output"][0]["content"][0]["text"], DEFAULT_TEXT);
}

#[test]
fn mock_streams_usage_and_errors_in_each_apis_format() {
    let usage = Usage::new(11, 22).with_cache(33, 44);
    let mock = MockServer::anthropic(vec![
        Step::text("streamed").usage(usage),
        Step::error(429).message("slow down").retry_after(3),
    ]);
    let req = json!({"model": "m", "stream": true, "messages": []});
    let (status, sse) = http(&mock, "POST", "/v1/messages", Some(&req));
    assert_eq!(status, 200);
    for needle in [
        "event: message_start",
        "\"cache_read_input_tokens\":33",
        "\"cache_creation_input_tokens\":44",
        "\"input_tokens\":11",
        "event: content_block_delta",
        "\"stop_reason\":\"end_turn\"",
        "\"output_tokens\":22",
        "event: message_stop",
    ] {
        assert!(sse.contains(needle), "{needle} missing from {sse}");
    }
    let (status, body) = http(&mock, "POST", "/v1/messages", Some(&req));
    assert_eq!(status, 429);
    let body: Value = serde_json::from_str(&body).expect("json error");
    assert_eq!(
        body,
        json!({"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}})
    );

    let mock = MockServer::openai(vec![Step::text("hi").usage(usage), Step::error(500)]);
    let req = json!({"model": "m", "stream": true, "input": []});
    let (status, sse) = http(&mock, "POST", "/v1/responses", Some(&req));
    assert_eq!(status, 200);
    for needle in [
        "event: response.created",
        "event: response.output_text.delta",
        "event: response.completed",
        "\"cached_tokens\":33",
        "\"cache_write_tokens\":44",
    ] {
        assert!(sse.contains(needle), "{needle} missing from {sse}");
    }
    let (status, body) = http(&mock, "POST", "/v1/responses", Some(&req));
    assert_eq!(status, 500);
    assert!(body.contains("\"server_error\""), "{body}");
}

#[test]
fn mock_answers_side_requests_without_using_the_script() {
    let mock = MockServer::anthropic(vec![Step::text("only")]);
    assert_eq!(http(&mock, "HEAD", "/api/hello", None).0, 200);
    let (status, body) = http(
        &mock,
        "POST",
        "/v1/messages/count_tokens",
        Some(&json!({"messages": []})),
    );
    assert_eq!(status, 200);
    assert!(body.contains("input_tokens"), "{body}");
    assert_eq!(http(&mock, "GET", "/v1/models", None).0, 200);
    assert_eq!(
        http(&mock, "POST", "/api/event_logging/batch", Some(&json!({}))).0,
        200
    );
    assert_eq!(http(&mock, "GET", "/nope", None).0, 404);
    assert_eq!(mock.steps_used(), 0);
    assert_eq!(mock.requests().len(), 5);
    assert!(mock.model_requests().is_empty());
}

#[test]
fn mock_substitutes_the_cwd_the_cli_reports() {
    let mock = MockServer::anthropic(vec![Step::tool(ToolCall::claude_write(
        "{{cwd}}/f.txt",
        "x",
    ))]);
    let req = json!({"model": "m", "messages": [
        {"role": "user", "content": "hi"},
        {"role": "system", "content": "# Environment\n - Primary working directory: /some/dir\n"},
    ]});
    let (_, body) = http(&mock, "POST", "/v1/messages", Some(&req));
    let body: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(body["stop_reason"], "tool_use");
    assert_eq!(body["content"][0]["input"]["file_path"], "/some/dir/f.txt");
}

#[test]
fn mock_delays_and_releases_a_stalled_stream_on_drop() {
    let mock = MockServer::anthropic(vec![Step::text("late").delay(Duration::from_millis(300))]);
    let start = Instant::now();
    http(
        &mock,
        "POST",
        "/v1/messages",
        Some(&json!({"messages": []})),
    );
    assert!(start.elapsed() >= Duration::from_millis(300));

    let mock = MockServer::anthropic(vec![Step::stall()]);
    let port = mock.port();
    let client = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let body = r#"{"stream":true,"messages":[]}"#;
        write!(
            stream,
            "POST /v1/messages HTTP/1.1\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .expect("send");
        let mut got = String::new();
        let _ = stream.read_to_string(&mut got);
        got
    });
    while mock.model_requests().is_empty() {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        !client.is_finished(),
        "a stalled stream must hold the connection"
    );
    let dropped = Instant::now();
    drop(mock);
    let got = client.join().expect("client thread");
    assert!(dropped.elapsed() < Duration::from_secs(2));
    assert!(got.contains("event: message_start"), "{got}");
    assert!(!got.contains("message_stop"), "{got}");
}
