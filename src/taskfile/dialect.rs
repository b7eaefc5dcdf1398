//! The common task-file dialects: spec-kit (`T001 [P]`), Kiro (`1.2`, `(P)`,
//! `_Depends:_`, `[ ]*`) and OpenSpec (`## 1. Group`, `1.1 task`). Detects
//! which one a file speaks and reads the ids, parallel markers and
//! dependencies it writes in prose.
//!
//! Takes task texts and bodies, hands on `Marks` per task (and, for Kiro
//! and OpenSpec, subtasks adopted by their numbers). Never decides
//! scheduling: the planner turns marks into edges.

use std::sync::LazyLock;

use regex::Regex;

use crate::location::narrow;
use crate::taskfile::Document;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// Plain GFM task lists with `<!-- -->` hints.
    Native,
    /// GitHub spec-kit: `T001` ids, `[P]` parallel markers, "depends on T002".
    Speckit,
    /// Kiro / cc-sdd: `1.`, `2.1` ids, `(P)`, `_Depends: 1.2_`, `[ ]*` optional.
    Kiro,
    /// OpenSpec change tasks: `## 1. Group` headings, `1.1` ids.
    Openspec,
}

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Native => "native",
            Dialect::Speckit => "speckit",
            Dialect::Kiro => "kiro",
            Dialect::Openspec => "openspec",
        }
    }

    /// Dialects where unmarked tasks run one after another.
    pub fn in_order(self) -> bool {
        self != Dialect::Native
    }
}

/// What a dialect reads off one task.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Marks {
    pub id: Option<String>,
    pub parallel: bool,
    /// Ids named as dependencies, with their offset in the text or body.
    pub depends: Vec<(String, usize)>,
}

static SPECKIT_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(T[A-Z]?\d+[a-z]?)\b").unwrap());
static SPECKIT_P: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\[P\]").unwrap());
static SPECKIT_DEPENDS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\bdepends on\s+((?:T[A-Z]?\d+[a-z]?(?:\s*(?:,|&|and)\s*)?)+)|\[B:([^\]]+)\]")
        .unwrap()
});
static SPECKIT_REF: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"T[A-Z]?\d+[a-z]?").unwrap());
static KIRO_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d+(?:\.\d+)*)\.?(?:\s|$)").unwrap());
static KIRO_P: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\(P\)").unwrap());
static KIRO_DEPENDS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"_Depends(?: on)?:\s*([^_\n]+)_").unwrap());
static KIRO_REF: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\d+(?:\.\d+)*").unwrap());

/// One task item as detection sees it: its text, whether it is Kiro's
/// optional `[ ]*`, and where it starts (for the heading it sits under).
pub struct Candidate<'a> {
    pub text: &'a str,
    pub optional: bool,
    pub at: usize,
}

/// Picks the dialect most task texts speak: at least half of them, and more
/// of them than another dialect. Optional `[ ]*` items count for Kiro; a
/// number whose first part is its heading's number (`1.2` under
/// `## 1. Setup`) counts for OpenSpec rather than Kiro. `heading_at` gives
/// the title of the heading an offset lies under, asked only for numbers.
pub fn detect<'a>(
    tasks: impl Iterator<Item = Candidate<'a>>,
    heading_at: impl Fn(usize) -> Option<&'a str>,
) -> Dialect {
    let (mut n, mut speckit, mut kiro, mut openspec) = (0, 0, 0, 0);
    for c in tasks {
        n += 1;
        // The ids' first characters, checked before any regex runs: most
        // texts of a large plan are neither (`\d` is any Unicode digit, so
        // a text starting with a non-ASCII character still goes to KIRO_ID).
        let first = c.text.as_bytes().first().copied().unwrap_or(0);
        let maybe_number = first.is_ascii_digit() || first >= 0x80;
        if first == b'T' && SPECKIT_ID.is_match(c.text) {
            speckit += 1;
        } else if c.optional {
            kiro += 1;
        } else if let Some(id) = (maybe_number.then(|| KIRO_ID.captures(c.text)).flatten())
            .map(|m| m.get(1).unwrap().as_str())
        {
            let group = || heading_at(c.at).and_then(group_number);
            match id.split_once('.').map(|(first, _)| (first, group())) {
                Some((first, Some(group))) if first == group => openspec += 1,
                _ => kiro += 1,
            }
        }
    }
    if n == 0 {
        Dialect::Native
    } else if speckit * 2 >= n && speckit >= kiro + openspec {
        Dialect::Speckit
    } else if openspec * 2 >= n && openspec > kiro {
        Dialect::Openspec
    } else if (kiro + openspec) * 2 >= n {
        Dialect::Kiro
    } else {
        Dialect::Native
    }
}

/// `1` for an OpenSpec group heading `1. Setup` (or `1 Setup`).
fn group_number(title: &str) -> Option<&str> {
    let digits = title.len() - title.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let rest = &title[digits..];
    (digits > 0 && (rest.starts_with(". ") || rest.starts_with(' ') || rest == "."))
        .then(|| &title[..digits])
}

/// Reads a task's marks in `dialect` from its text and its own body (not its
/// subtasks'). Offsets of matches in the body count from the start of the
/// text, as if body followed text.
pub fn marks(dialect: Dialect, text: &str, body: &str) -> Marks {
    let mut m = Marks::default();
    match dialect {
        Dialect::Native => {}
        Dialect::Speckit => {
            m.id = SPECKIT_ID.captures(text).map(|c| c[1].to_owned());
            m.parallel = SPECKIT_P.is_match(text);
            for c in SPECKIT_DEPENDS.captures_iter(text) {
                let list = c.get(1).or_else(|| c.get(2)).unwrap();
                for r in SPECKIT_REF.find_iter(list.as_str()) {
                    m.depends
                        .push((r.as_str().to_owned(), list.start() + r.start()));
                }
            }
        }
        Dialect::Kiro => {
            m.id = KIRO_ID.captures(text).map(|c| c[1].to_owned());
            m.parallel = KIRO_P.is_match(text);
            for (hay, base) in [(text, 0), (body, text.len())] {
                for c in KIRO_DEPENDS.captures_iter(hay) {
                    let list = c.get(1).unwrap();
                    for r in KIRO_REF.find_iter(list.as_str()) {
                        m.depends
                            .push((r.as_str().to_owned(), base + list.start() + r.start()));
                    }
                }
            }
        }
        // OpenSpec numbers its tasks and writes neither markers nor
        // dependencies.
        Dialect::Openspec => m.id = KIRO_ID.captures(text).map(|c| c[1].to_owned()),
    }
    m
}

/// Kiro writes `1.1` under `1.` without always indenting it. A task whose
/// number extends an earlier sibling's number becomes that sibling's child.
/// Returns the tasks adopted, in order.
#[allow(clippy::needless_range_loop)] // `i` indexes `tasks` mutably too
pub(super) fn adopt_by_number(doc: &mut Document) -> Vec<u32> {
    // Ids from the file itself: a fast hasher (no DoS concern). Read
    // where they are kept: only `tasks` changes here.
    let Document { ids, tasks, .. } = doc;
    let mut by_id: rustc_hash::FxHashMap<&str, usize> = Default::default();
    let mut adopted = Vec::new();
    for i in 0..tasks.len() {
        let id = ids.dialect(i);
        if let Some((prefix, _)) = id.rsplit_once('.')
            && let Some(&p) = by_id.get(prefix)
            && p != i
            && tasks[p].parent == tasks[i].parent
            && tasks[p].section == tasks[i].section
        {
            tasks[i].set_parent(p);
            adopted.push(narrow(i));
        }
        if !id.is_empty() {
            by_id.entry(id).or_insert(i);
        }
    }
    adopted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_speckit_kiro_and_native() {
        let d = |t: &[&str]| {
            let candidates = t.iter().map(|t| Candidate {
                text: t,
                optional: false,
                at: 0,
            });
            detect(candidates, |_| None)
        };
        assert_eq!(
            d(&["T001 Create project", "T002 [P] Lint", "Polish"]),
            Dialect::Speckit
        );
        assert_eq!(d(&["1. Setup", "1.1 Create", "2. Build"]), Dialect::Kiro);
        assert_eq!(d(&["Write docs", "Ship it", "1 thing"]), Dialect::Native);
        assert_eq!(d(&[]), Dialect::Native);
    }

    #[test]
    fn openspec_numbers_follow_their_group_heading() {
        let d = |t: &[(&'static str, &'static str)]| {
            let candidates = t.iter().enumerate().map(|(at, (_, text))| Candidate {
                text,
                optional: false,
                at,
            });
            detect(candidates, |at| Some(t[at].0))
        };
        let group = [
            ("1. Change command", "1.1 Add the flag"),
            ("1. Change command", "1.2 Wire it"),
            ("2. Tests", "2.1 Cover it"),
            ("2. Tests", "Polish"),
        ];
        assert_eq!(d(&group), Dialect::Openspec);
        // Kiro numbers under headings that are not groups of theirs.
        let kiro = [
            ("Tasks", "1. Set up"),
            ("Tasks", "1.1 Create"),
            ("Tasks", "2. Build"),
        ];
        assert_eq!(d(&kiro), Dialect::Kiro);
        assert_eq!(d(&[("2. Tests", "1.1 Elsewhere")]), Dialect::Kiro);
        assert_eq!(group_number("12. Docs"), Some("12"));
        assert_eq!(group_number("1.2 Docs"), None);
        assert_eq!(group_number("Docs"), None);
    }

    #[test]
    fn speckit_marks() {
        let m = marks(
            Dialect::Speckit,
            "T014 [P] [US1] Implement (depends on T012, T013)",
            "",
        );
        assert_eq!(m.id.as_deref(), Some("T014"));
        assert!(m.parallel);
        assert_eq!(
            m.depends.iter().map(|d| d.0.as_str()).collect::<Vec<_>>(),
            ["T012", "T013"]
        );
        let m = marks(Dialect::Speckit, "T000l [B:T000a,T000e] Confirm", "");
        assert_eq!(
            m.depends.iter().map(|d| d.0.as_str()).collect::<Vec<_>>(),
            ["T000a", "T000e"]
        );
        assert!(!m.parallel);
    }

    #[test]
    fn kiro_marks() {
        let m = marks(
            Dialect::Kiro,
            "2.1 (P) Create models",
            "- detail\n- _Depends: 1.2, 1.3_\n- _Requirements: 3.1_",
        );
        assert_eq!(m.id.as_deref(), Some("2.1"));
        assert!(m.parallel);
        assert_eq!(
            m.depends.iter().map(|d| d.0.as_str()).collect::<Vec<_>>(),
            ["1.2", "1.3"]
        );
        assert_eq!(
            marks(Dialect::Kiro, "3. Wire it", "").id.as_deref(),
            Some("3")
        );
    }
}
