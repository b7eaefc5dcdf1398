//! The common task-file dialects: spec-kit (`T001 [P]`) and Kiro (`1.2`, `(P)`,
//! `_Depends:_`, `[ ]*`). Detects which one a file speaks and reads the ids,
//! parallel markers and dependencies it writes in prose.
//!
//! Takes task texts and bodies, hands on `Marks` per task. Never decides
//! scheduling: the planner turns marks into edges.

use std::sync::LazyLock;

use regex::Regex;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// Plain GFM task lists with `<!-- -->` hints.
    Native,
    /// GitHub spec-kit: `T001` ids, `[P]` parallel markers, "depends on T002".
    Speckit,
    /// Kiro / cc-sdd: `1.`, `2.1` ids, `(P)`, `_Depends: 1.2_`, `[ ]*` optional.
    Kiro,
}

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Native => "native",
            Dialect::Speckit => "speckit",
            Dialect::Kiro => "kiro",
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

/// Picks the dialect most task texts speak: at least half of them, and more
/// of them than the other dialect. Optional `[ ]*` items count for Kiro.
pub fn detect<'a>(tasks: impl Iterator<Item = (&'a str, bool)>) -> Dialect {
    let (mut n, mut speckit, mut kiro) = (0, 0, 0);
    for (text, optional) in tasks {
        n += 1;
        if SPECKIT_ID.is_match(text) {
            speckit += 1;
        } else if optional || KIRO_ID.is_match(text) {
            kiro += 1;
        }
    }
    if n == 0 {
        Dialect::Native
    } else if speckit * 2 >= n && speckit >= kiro {
        Dialect::Speckit
    } else if kiro * 2 >= n {
        Dialect::Kiro
    } else {
        Dialect::Native
    }
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
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_speckit_kiro_and_native() {
        let d = |t: &[&str]| detect(t.iter().map(|t| (*t, false)));
        assert_eq!(
            d(&["T001 Create project", "T002 [P] Lint", "Polish"]),
            Dialect::Speckit
        );
        assert_eq!(d(&["1. Setup", "1.1 Create", "2. Build"]), Dialect::Kiro);
        assert_eq!(d(&["Write docs", "Ship it", "1 thing"]), Dialect::Native);
        assert_eq!(d(&[]), Dialect::Native);
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
