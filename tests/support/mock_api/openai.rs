//! The OpenAI Responses API side of the mock, as `codex exec` uses it: takes
//! a parsed request and the next script step, writes the Responses SSE event
//! sequence (or a JSON response when `"stream"` is not true) or the API's
//! JSON error. It never decides which step comes next; `Script` does.

use std::io;
use std::net::TcpStream;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::anthropic::split_in;
use super::http::{self, Next, RawRequest, Sse};
use super::{Reply, Shared, ToolInput, Turn, Usage};

pub fn handle(shared: &Shared, req: &RawRequest, out: &mut TcpStream) -> io::Result<Next> {
    if let Some(done) = super::common_route(shared, req, out) {
        return done;
    }
    let route = req.route();
    match req.method.as_str() {
        "POST" if route.ends_with("/responses") => responses(shared, req, out),
        "GET" if route.ends_with("/models") => {
            shared.record(req, "models");
            let body = json!({
                "object": "list",
                "data": [{"id": "mock-model", "object": "model", "owned_by": "mock"}],
                "models": [],
            });
            http::write_json(out, 200, &[], &body, false)
        }
        _ => {
            shared.record(req, "404");
            let message = format!("mock: no such endpoint {} {route}", req.method);
            http::write_json(out, 404, &[], &error_body(404, &message), false)
        }
    }
}

fn error_type_and_code(status: u16) -> (&'static str, Option<&'static str>) {
    match status {
        400 => ("invalid_request_error", None),
        401 => ("invalid_request_error", Some("invalid_api_key")),
        403 => ("permission_error", None),
        404 => ("not_found", None),
        429 => ("requests", Some("rate_limit_exceeded")),
        _ => ("server_error", None),
    }
}

fn default_message(status: u16) -> String {
    match status {
        401 => "Incorrect API key provided: mock".into(),
        429 => "mock rate limited".into(),
        500 => "mock internal error".into(),
        _ => format!("mock error {status}"),
    }
}

fn error_body(status: u16, message: &str) -> Value {
    let (kind, code) = error_type_and_code(status);
    json!({"error": {"message": message, "type": kind, "code": code, "param": null}})
}

/// The cwd Codex reports in its `<environment_context>` (the last one wins).
pub fn find_cwd(body: &Value) -> Option<String> {
    let text = super::strings_of(body);
    let start = text.rfind("<cwd>")? + "<cwd>".len();
    let len = text[start..].find("</cwd>")?;
    Some(text[start..start + len].trim().to_string())
}

fn usage_json(u: Usage) -> Value {
    json!({
        "input_tokens": u.input,
        "input_tokens_details": {"cached_tokens": u.cache_read, "cache_write_tokens": u.cache_creation},
        "output_tokens": u.output,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": u.input + u.output,
    })
}

fn responses(shared: &Shared, req: &RawRequest, out: &mut TcpStream) -> io::Result<Next> {
    let Some(Turn {
        stream,
        model,
        reply,
        usage,
    }) = shared.take_turn(req, "mock-model", find_cwd)
    else {
        return Ok(Next::Close);
    };
    let created_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut response = json!({
        "id": shared.next_id("resp"), "object": "response", "created_at": created_at,
        "status": "in_progress", "model": model, "output": [], "usage": null,
    });
    let (text, calls) = match reply {
        Reply::Error {
            headers,
            message,
            status,
        } => {
            let message = message.unwrap_or_else(|| default_message(status));
            return http::write_json(out, status, &headers, &error_body(status, &message), false);
        }
        Reply::Limit { reset_at, .. } => {
            let body = json!({"error": {
                "type": "usage_limit_reached",
                "message": "The usage limit has been reached",
                "resets_at": reset_at,
            }});
            return http::write_json(out, 429, &[], &body, false);
        }
        Reply::Cut { stall } if !stream => return shared.cut_json(out, stall, &response),
        Reply::Cut { stall } => {
            let mut events = Events::start(out)?;
            events.send("response.created", json!({"response": response}))?;
            if stall {
                events.send("response.in_progress", json!({"response": response}))?;
                shared.wait_for_shutdown();
            }
            return Ok(Next::Close);
        }
        Reply::Answer { calls, text } => (text, calls),
    };

    let mut items = Vec::new();
    if let Some(text) = text {
        items.push(json!({
            "type": "message", "id": shared.next_id("msg"), "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        }));
    }
    for call in &calls {
        let call_id = shared.next_id("call");
        items.push(match &call.input {
            ToolInput::Json(args) => json!({
                "type": "function_call", "id": shared.next_id("fc"), "status": "completed",
                "call_id": call_id, "name": call.name, "arguments": args.to_string(),
            }),
            ToolInput::Freeform(input) => json!({
                "type": "custom_tool_call", "id": shared.next_id("ctc"), "status": "completed",
                "call_id": call_id, "name": call.name, "input": input,
            }),
        });
    }
    let mut done = response.clone();
    done["status"] = json!("completed");
    done["output"] = json!(items);
    done["usage"] = usage_json(usage);

    if !stream {
        return http::write_json(out, 200, &[], &done, false);
    }

    let mut events = Events::start(out)?;
    events.send("response.created", json!({"response": response}))?;
    response["status"] = json!("in_progress");
    events.send("response.in_progress", json!({"response": response}))?;
    for (oi, item) in items.iter().enumerate() {
        let id = item["id"].clone();
        match item["type"].as_str() {
            Some("message") => {
                let mut started = item.clone();
                started["status"] = json!("in_progress");
                started["content"] = json!([]);
                events.send(
                    "response.output_item.added",
                    json!({"output_index": oi, "item": started}),
                )?;
                let part = json!({"type": "output_text", "text": "", "annotations": []});
                events.send(
                    "response.content_part.added",
                    json!({"output_index": oi, "item_id": id, "content_index": 0, "part": part}),
                )?;
                let text = item["content"][0]["text"].as_str().unwrap_or("");
                for delta in split_in(text, 3) {
                    events.send(
                        "response.output_text.delta",
                        json!({"output_index": oi, "item_id": id, "content_index": 0, "delta": delta}),
                    )?;
                }
                events.send(
                    "response.output_text.done",
                    json!({"output_index": oi, "item_id": id, "content_index": 0, "text": text}),
                )?;
                events.send(
                    "response.content_part.done",
                    json!({"output_index": oi, "item_id": id, "content_index": 0, "part": item["content"][0]}),
                )?;
            }
            kind => {
                // A tool call: its arguments (function_call) or input
                // (custom_tool_call) go in one delta, then in a done event.
                let (field, event) = if kind == Some("function_call") {
                    ("arguments", "response.function_call_arguments")
                } else {
                    ("input", "response.custom_tool_call_input")
                };
                let mut started = item.clone();
                started["status"] = json!("in_progress");
                started[field] = json!("");
                events.send(
                    "response.output_item.added",
                    json!({"output_index": oi, "item": started}),
                )?;
                let value = &item[field];
                events.send(
                    &format!("{event}.delta"),
                    json!({"output_index": oi, "item_id": id, "delta": value}),
                )?;
                events.send(
                    &format!("{event}.done"),
                    json!({"output_index": oi, "item_id": id, field: value}),
                )?;
            }
        }
        events.send(
            "response.output_item.done",
            json!({"output_index": oi, "item": item}),
        )?;
    }
    events.send("response.completed", json!({"response": done}))?;
    events.sse.finish()
}

/// Responses API events carry their own `type` and a `sequence_number`.
struct Events<'a> {
    seq: u64,
    sse: Sse<'a>,
}

impl<'a> Events<'a> {
    fn start(out: &'a mut TcpStream) -> io::Result<Events<'a>> {
        Ok(Events {
            seq: 0,
            sse: Sse::start(out, &[])?,
        })
    }

    fn send(&mut self, name: &str, mut data: Value) -> io::Result<()> {
        data["type"] = json!(name);
        data["sequence_number"] = json!(self.seq);
        self.seq += 1;
        self.sse.event(name, &data)
    }
}
