//! The `[agents.NAME]` tables of `run-batch.toml`: raw settings → an
//! `AgentConfig` checked against its preset (permission modes, keys a preset
//! takes, a command that splits, prices), with the place of each problem.
//! Never starts anything and never reads a file.

use super::*;

pub(super) fn agent_config(
    name: &str,
    name_span: Range<usize>,
    raw: RawAgent,
) -> Result<AgentConfig, Problem> {
    let table = format!("`[agents.{name}]`");
    let preset_only = [
        ("model", raw.model.as_ref().map(Spanned::span)),
        (
            "permission-mode",
            raw.permission_mode.as_ref().map(Spanned::span),
        ),
        (
            "allowed-tools",
            raw.allowed_tools.as_ref().map(Spanned::span),
        ),
    ];
    if let Some(preset) = presets::named(name) {
        check_preset(preset, &raw)?;
    } else {
        // `[agents.cladue]` is more likely a typo than a custom agent.
        let typo = suggest(name, presets::names())
            .map(|s| format!(" (or did you mean the `{s}` preset?)"))
            .unwrap_or_default();
        if let Some((key, span)) = first_set(preset_only) {
            return Err(Problem::at(
                span,
                format!(
                    "`{key}` is for the {} presets; for custom agent `{name}`, put the flag in `command` or `args`{typo}",
                    and_list(
                        presets::PRESETS
                            .iter()
                            .filter(|p| p.permissions().is_some())
                            .map(|p| p.name())
                    )
                ),
            ));
        }
        let Some(command) = &raw.command else {
            return Err(Problem::at(
                name_span,
                format!(
                    "custom agent `{name}` needs a `command`, e.g. `command = \"./tools/{name} --fast\"`{typo}"
                ),
            ));
        };
        check_command(command)?;
    }
    if let Some(model) = &raw.model
        && model.get_ref().trim().is_empty()
    {
        return Err(Problem::at(
            model.span(),
            format!("`model` in {table} is empty; leave it out to use the agent's default"),
        ));
    }
    for list in [&raw.allowed_tools, &raw.args].into_iter().flatten() {
        if list.get_ref().iter().any(|item| item.contains('\0')) {
            return Err(Problem::at(list.span(), "contains a NUL character"));
        }
    }
    if let Some(tools) = &raw.allowed_tools
        && tools.get_ref().iter().any(|t| t.trim().is_empty())
    {
        return Err(Problem::at(
            tools.span(),
            "`allowed-tools` has an empty tool name",
        ));
    }

    let mut env = BTreeMap::new();
    for (key, value) in raw.env.map(Spanned::into_inner).unwrap_or_default() {
        let k = key.get_ref();
        if k.is_empty() || k.contains(['=', '\0']) {
            return Err(Problem::at(
                key.span(),
                format!(
                    "bad environment variable name `{k}`: it must be non-empty, without `=` or NUL"
                ),
            ));
        }
        if value.get_ref().contains('\0') {
            return Err(Problem::at(value.span(), "contains a NUL character"));
        }
        env.insert(key.into_inner(), value.into_inner());
    }

    let output = match raw.output {
        None => OutputKind::Text,
        Some(output) => match output.get_ref().as_str() {
            "text" => OutputKind::Text,
            "stream-json" => OutputKind::StreamJson,
            other => {
                return Err(Problem::at(
                    output.span(),
                    format!("bad `output` `{other}`: expected `text` or `stream-json`"),
                ));
            }
        },
    };

    let price = match raw.price {
        Some(price) => Some(price_config(&format!("`price` of {table}"), price)?),
        None => None,
    };

    Ok(AgentConfig {
        command: raw.command.map(Spanned::into_inner),
        output,
        model: raw.model.map(Spanned::into_inner),
        permission_mode: raw.permission_mode.map(Spanned::into_inner),
        allowed_tools: raw
            .allowed_tools
            .map(Spanned::into_inner)
            .unwrap_or_default(),
        args: raw.args.map(Spanned::into_inner).unwrap_or_default(),
        env,
        price,
    })
}

/// The first key that is set, with its span.
fn first_set(
    keys: impl IntoIterator<Item = (&'static str, Option<Range<usize>>)>,
) -> Option<(&'static str, Range<usize>)> {
    keys.into_iter().find_map(|(key, span)| Some((key, span?)))
}

/// A preset's settings: the first key (in the table's usual order) that its
/// CLI refuses is an error, and a permission mode must be one it accepts.
fn check_preset(preset: &dyn Cli, raw: &RawAgent) -> Result<(), Problem> {
    let keys = [
        ("command", raw.command.as_ref().map(Spanned::span)),
        ("output", raw.output.as_ref().map(Spanned::span)),
        ("model", raw.model.as_ref().map(Spanned::span)),
        (
            "permission-mode",
            raw.permission_mode.as_ref().map(Spanned::span),
        ),
        (
            "allowed-tools",
            raw.allowed_tools.as_ref().map(Spanned::span),
        ),
        ("args", raw.args.as_ref().map(Spanned::span)),
        ("price", raw.price.as_ref().map(Spanned::span)),
    ];
    for (key, span) in keys {
        let Some(span) = span else { continue };
        if let Some(why) = preset.refuses(key) {
            return Err(Problem::at(span, why));
        }
        if key == "permission-mode"
            && let Some(mode) = &raw.permission_mode
        {
            check_permission_mode(preset, mode)?;
        }
    }
    Ok(())
}

/// A preset's permission mode must be one its CLI accepts.
fn check_permission_mode(preset: &dyn Cli, mode: &Spanned<String>) -> Result<(), Problem> {
    let name = preset.name();
    let Some(permissions) = preset.permissions() else {
        return Err(Problem::at(
            mode.span(),
            format!("`permission-mode` cannot be set for `{name}`: it has no permission setting"),
        ));
    };
    let valid = permissions.accepted;
    let value = mode.get_ref();
    if !valid.contains(&value.as_str()) {
        let hint = suggest(value, valid.iter().copied())
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        return Err(Problem::at(
            mode.span(),
            format!(
                "bad `permission-mode` `{value}` for `{name}`: expected {}{hint}",
                one_of(valid.iter().copied())
            ),
        ));
    }
    Ok(())
}

/// "`a`", "`a` and `b`", "`a`, `b` and `c`".
fn and_list<'a>(words: impl IntoIterator<Item = &'a str>) -> String {
    let words: Vec<String> = words.into_iter().map(|w| format!("`{w}`")).collect();
    match words.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => words.concat(),
    }
}

/// The command must split into words the way run-batch will split it.
fn check_command(command: &Spanned<String>) -> Result<(), Problem> {
    let text = command.get_ref();
    if text.contains('\0') {
        return Err(Problem::at(command.span(), "contains a NUL character"));
    }
    match shell_words::split(text) {
        Ok(words) if words.is_empty() => Err(Problem::at(
            command.span(),
            "`command` is empty; give the program to run and its arguments",
        )),
        Ok(_) => Ok(()),
        Err(e) => Err(Problem::at(
            command.span(),
            format!("cannot split `command` into words: {e}"),
        )),
    }
}

pub(super) fn price_config(context: &str, raw: Spanned<RawPrice>) -> Result<Price, Problem> {
    let span = raw.span();
    let raw = raw.into_inner();
    let number = |key: &str, value: Option<Spanned<Number>>| -> Result<Option<f64>, Problem> {
        let Some(value) = value else { return Ok(None) };
        let n = value.get_ref().0;
        if n.is_finite() && n >= 0.0 {
            Ok(Some(n))
        } else {
            Err(Problem::at(
                value.span(),
                format!("`{key}` in {context} must be a number of USD, 0 or more"),
            ))
        }
    };
    let required = |key: &str, value: Option<f64>| -> Result<f64, Problem> {
        value.ok_or_else(|| {
            Problem::at(
                span.clone(),
                format!("{context} needs `{key}` (USD per million {key} tokens)"),
            )
        })
    };
    let input = number("input", raw.input)?;
    let output = number("output", raw.output)?;
    let cache_read = number("cache-read", raw.cache_read)?;
    let cache_write = number("cache-write", raw.cache_write)?;
    Ok(Price {
        input: required("input", input)?,
        output: required("output", output)?,
        cache_read,
        cache_write,
    })
}
