//! Tracks: the modules of successive waves joined by title (or a `track`
//! hint) → which modules follow which, and which tasks still wait for the
//! whole wave before them.
//!
//! Takes the document, its waves and the `pipeline`/`order` settings; hands
//! on the tracks, each pipelined module's predecessors (the planner turns
//! them into edges) and the barrier per section. Never decides what runs.

use rustc_hash::FxHashMap as HashMap;

use crate::error::PlanError;
use crate::plan::Wave;
use crate::taskfile::{Document, Hints, Order, Pipeline, Span};

/// A line of modules, one wave after another, that may run ahead of the
/// other tracks under `pipeline: tracks`.
#[derive(Debug, Clone)]
pub struct Track {
    /// The first module's title (or `track` hint), as written.
    pub name: String,
    /// Its modules (sections), in wave order.
    pub modules: Vec<usize>,
}

#[derive(Debug, Clone, Default)]
pub struct Tracks {
    /// `pipeline: tracks` holds somewhere in the file (or `--pipeline tracks`).
    pub pipeline: bool,
    /// `order: graph`: headings order nothing.
    pub graph: bool,
    /// Every track, when pipelining; empty otherwise.
    pub list: Vec<Track>,
    /// Per section: the track of a module.
    pub of_section: Vec<Option<usize>>,
    /// Per section: the modules of the wave before that a pipelined module
    /// waits for instead of that whole wave.
    pub follows: Vec<Vec<usize>>,
    /// Per section: its tasks wait for every earlier wave to finish.
    pub barrier: Vec<bool>,
}

impl Tracks {
    /// Whether task `t` of `doc` waits for every earlier wave.
    pub fn waits_for_waves(&self, doc: &Document, t: usize) -> bool {
        self.barrier[doc.tasks[t].section()]
    }

    /// The track of the module task `t` is in, if any.
    pub fn track_of(&self, doc: &Document, t: usize) -> Option<usize> {
        let mut s = Some(doc.tasks[t].section());
        while let Some(i) = s {
            if let Some(k) = self.of_section[i] {
                return Some(k);
            }
            s = doc.sections[i].parent;
        }
        None
    }
}

/// What a module is matched by: the title without case or numbering.
pub fn track_key(title: &str) -> String {
    let mut rest = title.trim();
    // Leading numbering: `1.`, `2.3`, `4)`, `(5)`, `1 -`, `1:`.
    loop {
        let t = rest.trim_start_matches('(');
        let digits = t.len() - t.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            break;
        }
        let next = t[digits..].chars().next();
        // Digits that run into a word (`3D models`) are part of the title.
        if !next.is_some_and(|c| matches!(c, '.' | ')' | ':' | '-') || c.is_whitespace()) {
            break;
        }
        rest = t[digits..]
            .trim_start_matches(|c: char| matches!(c, '.' | ')' | ':' | '-') || c.is_whitespace());
    }
    rest.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

pub struct Built {
    pub tracks: Tracks,
    pub errors: Vec<(Span, PlanError)>,
    pub warnings: Vec<(Span, String)>,
}

/// Finds the tracks. `cli` is `--pipeline`, which wins over every hint.
pub fn build(doc: &Document, waves: &[Wave], cli: Option<Pipeline>) -> Built {
    let n = doc.sections.len();
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let module = check_scopes(doc, waves, &mut errors);
    let graph = doc.sections[0]
        .hints
        .order
        .as_ref()
        .is_some_and(|o| o.value == Order::Graph);
    // The `pipeline` setting of each section: its own hint, else its parent's.
    let mut pipelined = vec![false; n];
    for s in 0..n {
        let inherited = doc.sections[s].parent.is_some_and(|p| pipelined[p]);
        let own = doc.sections[s].hints.pipeline.as_ref().map(|p| p.value);
        pipelined[s] = match cli.or(own) {
            Some(p) => p == Pipeline::Tracks,
            None => inherited,
        };
    }
    let mut tracks = Tracks {
        pipeline: pipelined.iter().any(|&p| p),
        graph,
        list: Vec::new(),
        of_section: vec![None; n],
        follows: vec![Vec::new(); n],
        barrier: vec![!graph; n],
    };
    if tracks.pipeline {
        link(doc, waves, &pipelined, &mut tracks);
    }
    // Tasks anywhere in a module that follows a track are free of the
    // barrier; sections follow their parents in index order.
    if !graph {
        for s in 1..n {
            let p = doc.sections[s].parent.unwrap_or(0);
            tracks.barrier[s] = tracks.follows[s].is_empty() && tracks.barrier[p];
        }
    }
    for (s, section) in doc.sections.iter().enumerate() {
        if let Some(track) = &section.hints.track
            && module[s]
            && !tracks.pipeline
        {
            warnings.push((
                track.span,
                format!(
                    "the `track` hint on `{}` does nothing without `pipeline: tracks`",
                    section.id
                ),
            ));
        }
    }
    Built {
        tracks,
        errors,
        warnings,
    }
}

/// Joins each wave's modules to the same-named modules of the wave before.
fn link(doc: &Document, waves: &[Wave], pipelined: &[bool], tracks: &mut Tracks) {
    let key_of = |m: usize| {
        let s = &doc.sections[m];
        track_key(s.hints.track.as_ref().map_or(&s.title, |t| &t.value))
    };
    let mut before: HashMap<String, Vec<usize>> = HashMap::default();
    for wave in waves {
        let mut here: HashMap<String, Vec<usize>> = HashMap::default();
        for &m in &wave.modules {
            let key = key_of(m);
            let preds: Vec<usize> = before.get(&key).cloned().unwrap_or_default();
            let track = match preds.first() {
                Some(&p) if pipelined[m] => {
                    tracks.follows[m] = preds.clone();
                    tracks.of_section[p]
                }
                _ => None,
            };
            let track = track.unwrap_or_else(|| {
                let name = (doc.sections[m].hints.track.as_ref())
                    .map_or(&doc.sections[m].title, |t| &t.value);
                tracks.list.push(Track {
                    name: name.clone(),
                    modules: Vec::new(),
                });
                tracks.list.len() - 1
            });
            tracks.of_section[m] = Some(track);
            tracks.list[track].modules.push(m);
            here.entry(key).or_default().push(m);
            // A `track` hint may also name the module before by its title.
            let title = track_key(&doc.sections[m].title);
            if doc.sections[m].hints.track.is_some() {
                here.entry(title).or_default().push(m);
            }
        }
        for v in here.values_mut() {
            v.dedup();
        }
        before = here;
    }
}

/// `order` only for the file, `track` only on a module, `pipeline` not on
/// a task: anywhere else they would silently do nothing.
/// Returns which sections are modules.
fn check_scopes(doc: &Document, waves: &[Wave], errors: &mut Vec<(Span, PlanError)>) -> Vec<bool> {
    let not_here = |key: &str, place: &'static str| PlanError::HintNotHere {
        key: key.into(),
        place,
    };
    let mut module = vec![false; doc.sections.len()];
    for w in waves {
        for &m in &w.modules {
            module[m] = true;
        }
    }
    for (s, section) in doc.sections.iter().enumerate() {
        if let Some(o) = &section.hints.order
            && s != 0
        {
            errors.push((
                o.span,
                not_here("order", "on a section; put it before the first heading"),
            ));
        }
        if let Some(t) = &section.hints.track
            && !module[s]
        {
            errors.push((
                t.span,
                not_here(
                    "track",
                    "here: it belongs on a module (a subsection of a wave that holds tasks)",
                ),
            ));
        }
    }
    for &t in doc.hinted_tasks() {
        let h: &Hints = &doc.tasks[t].hints;
        for (key, span) in [
            ("order", h.order.as_ref().map(|o| o.span)),
            ("track", h.track.as_ref().map(|o| o.span)),
            ("pipeline", h.pipeline.as_ref().map(|o| o.span)),
        ] {
            if let Some(span) = span {
                errors.push((
                    span,
                    not_here(key, "on a task; put it on a section or the file"),
                ));
            }
        }
    }
    module
}

#[cfg(test)]
mod tests {
    use super::track_key;

    #[test]
    fn keys_ignore_case_and_numbering() {
        for title in [
            "Module A",
            "1. Module A",
            "2.3 module a",
            "(4) MODULE  A",
            "5 - Module A",
            "6: Module A",
        ] {
            assert_eq!(track_key(title), "module a", "{title}");
        }
        assert_eq!(track_key("3D models"), "3d models");
        assert_eq!(track_key("2024"), "2024");
    }
}
