//! Files a task claims: its `files:` hints and the paths its text and body
//! name → `Files` per task, and the rule for when two claims overlap. Hands
//! the claims on to the scheduler (tasks whose claims overlap never run at
//! once) and to the report (changes outside what was declared). Never looks
//! at the disk: a claim is a pattern, not a file that must exist.

use std::hash::BuildHasher as _;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;
use thin_vec::ThinVec;

/// The files one task says it will change. Most tasks claim none: kept
/// once per distinct claim ([`FileSets`]), two `ThinVec`s, nothing
/// allocated when empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Files {
    declared: ThinVec<String>,
    inferred: ThinVec<String>,
}

impl Files {
    /// `declared`: from `files:` hints on the task, its parents, its
    /// sections and the file (they add up), in the order written;
    /// `inferred`: paths named in the task's text or body that are not
    /// declared.
    pub fn new(declared: ThinVec<String>, inferred: ThinVec<String>) -> Files {
        Files { declared, inferred }
    }

    pub fn declared(&self) -> &[String] {
        &self.declared
    }

    pub fn inferred(&self) -> &[String] {
        &self.inferred
    }

    pub fn is_empty(&self) -> bool {
        self.declared.is_empty() && self.inferred.is_empty()
    }

    /// Declared, then inferred.
    pub fn all(&self) -> impl Iterator<Item = &str> {
        (self.declared().iter())
            .chain(self.inferred())
            .map(String::as_str)
    }
}

/// The distinct claims of a plan, the empty one first, each kept once and
/// named by its index: many tasks name the same path (a plan of 1,000,000
/// tasks held 100,000 copies of a few dozen, 9 MB at its peak).
#[derive(Debug)]
pub(super) struct FileSets {
    sets: Vec<Files>,
    /// The indices of `sets`, by their hash.
    seen: HashTable<u32>,
}

impl Default for FileSets {
    fn default() -> FileSets {
        FileSets {
            sets: vec![Files::default()],
            seen: HashTable::new(),
        }
    }
}

impl FileSets {
    /// The index of `files`, kept if no equal claim is.
    pub(super) fn index(&mut self, files: Files) -> u32 {
        let hash = FxBuildHasher.hash_one(&files);
        let sets = &self.sets;
        if let Some(&i) = self.seen.find(hash, |&i| sets[i as usize] == files) {
            return i;
        }
        let i = u32::try_from(self.sets.len()).expect("fewer claims than tasks");
        self.sets.push(files);
        let sets = &self.sets;
        (self.seen).insert_unique(hash, i, |&j| FxBuildHasher.hash_one(&sets[j as usize]));
        i
    }

    /// The claims, by index.
    pub(super) fn into_list(self) -> Vec<Files> {
        let mut sets = self.sets;
        sets.shrink_to_fit();
        sets
    }
}

/// Extensions that make a word with no `/` (`main.rs`, `package.json`) a
/// file name rather than prose or code (`e.g.`, `self.config`). Sorted
/// (binary search; tested).
const EXTENSIONS: &[&str] = &[
    "c", "cc", "cfg", "cjs", "conf", "cpp", "cs", "css", "csv", "dart", "env", "ex", "exs", "go",
    "gradle", "graphql", "h", "hpp", "html", "ini", "java", "js", "json", "jsx", "kt", "kts",
    "lock", "lua", "md", "mjs", "mod", "php", "proto", "py", "rb", "rs", "scala", "scss", "sh",
    "sql", "svelte", "swift", "toml", "ts", "tsx", "txt", "vue", "xml", "yaml", "yml", "zig",
];

/// The paths a task's text and body name, in order, without duplicates:
/// every `` `code span` `` that is one path-like word, and every word of
/// the text or body with a `/` in it that ends in a known file extension
/// (spec-kit's "in src/models/user.py"). A path-like word is relative,
/// without `..`, made of letters, digits and `._-/*`, and has a `/` or ends
/// in one of the known extensions. URLs, options and absolute paths are not
/// claims. The body may be given as written (indented, any line endings):
/// white space separates words either way, and a code span across lines
/// is no path either way.
pub fn infer(text: &str, body: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |p: &str| {
        let p = p.strip_prefix("./").unwrap_or(p);
        if !out.iter().any(|q| q == p) {
            out.push(p.to_owned());
        }
    };
    for part in [text, body] {
        // Backticked spans first: `a b` (not one word) is code, not a path.
        let mut rest = part;
        while let Some(open) = rest.find('`') {
            let after = &rest[open + 1..];
            let Some(close) = after.find('`') else { break };
            let span = &after[..close];
            if path_like(span, false) {
                push(span);
            }
            rest = &after[close + 1..];
        }
        // The words with a `/` (as `split_whitespace` cuts them), found
        // from their slashes: most words have none.
        let mut from = 0;
        while let Some(i) = memchr::memchr(b'/', &part.as_bytes()[from..]) {
            let slash = from + i;
            let start = (part[..slash].char_indices().rev())
                .find(|(_, c)| c.is_whitespace())
                .map_or(0, |(j, c)| j + c.len_utf8());
            let end = (part[slash..].char_indices())
                .find(|(_, c)| c.is_whitespace())
                .map_or(part.len(), |(j, _)| slash + j);
            let word = &part[start..end];
            let word = word.trim_matches(|c: char| matches!(c, '`' | '"' | '\'' | '(' | ')'));
            let word = word.trim_end_matches(['.', ',', ';', ':', '!', '?']);
            if path_like(word, true) {
                push(word);
            }
            from = end;
        }
    }
    out
}

/// Whether `w` reads as a path (see `infer`); `needs_ext` for bare words.
fn path_like(w: &str, needs_ext: bool) -> bool {
    if w.is_empty() || w.len() > 200 || w.starts_with(['/', '-', '.', '*']) {
        return false;
    }
    // The characters first (most words that are no path fail here), a
    // byte at a time for ASCII; `//` covers `://`.
    let allowed = if w.is_ascii() {
        (w.bytes())
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-' | b'/' | b'*'))
    } else {
        (w.chars()).all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | '*'))
    };
    if !allowed || w.contains("//") || w.split('/').any(|c| c == "..") {
        return false;
    }
    let name = w.rsplit('/').next().unwrap_or(w);
    let ext = name.rsplit_once('.');
    let known_ext =
        ext.is_some_and(|(stem, e)| !stem.is_empty() && EXTENSIONS.binary_search(&e).is_ok());
    if needs_ext {
        return known_ext;
    }
    // A folder (`src/parser/`), a nested path, or a known file name.
    (w.contains('/') && w.chars().any(char::is_alphabetic)) || known_ext
}

/// What a claim covers for overlap checks: the folder or file before its
/// first wildcard, without a trailing `/` (`src/parser/**` → `src/parser`,
/// `src/*.rs` → `src`, `*.md` → the whole folder, ``). Two claims overlap
/// when one's key is the other's or a folder holding it, which is
/// conservative: `src/*.rs` and `src/*.md` count as overlapping.
pub fn key(pattern: &str) -> &str {
    let p = pattern.strip_prefix("./").unwrap_or(pattern);
    match p.find(['*', '?', '[', '{']) {
        None => p.trim_end_matches('/'),
        Some(i) => p[..i].rfind('/').map_or("", |slash| &p[..slash]),
    }
}

/// The folders holding `key`, innermost first, ending with the whole
/// folder (``).
pub fn ancestors(key: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(key);
    std::iter::from_fn(move || {
        let k = rest?;
        if k.is_empty() {
            rest = None;
            return None;
        }
        let up = k.rfind('/').map_or("", |i| &k[..i]);
        rest = Some(up);
        Some(up)
    })
}

/// Whether two claims' keys overlap.
pub fn overlap(a: &str, b: &str) -> bool {
    let holds = |outer: &str, inner: &str| {
        outer.is_empty()
            || inner == outer
            || inner.starts_with(outer) && inner.as_bytes()[outer.len()] == b'/'
    };
    holds(a, b) || holds(b, a)
}

/// Whether a changed file `path` (relative, `/`-separated) is one the
/// task declared or named. Patterns that do not parse match nothing (the
/// plan refused them).
pub fn covers(files: &Files, path: &str) -> bool {
    files.all().any(|p| {
        let p = p.strip_prefix("./").unwrap_or(p);
        let p = p.trim_end_matches('/');
        path == p
            || path.starts_with(p) && path.as_bytes().get(p.len()) == Some(&b'/')
            || globset::GlobBuilder::new(p)
                .literal_separator(false)
                .build()
                .is_ok_and(|g| g.compile_matcher().is_match(path))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infers_backticked_paths_and_spec_kit_words() {
        let got = infer(
            "T012 [P] Create User model in src/models/user.py.",
            "Touch `src/parser.rs` and `Cargo.toml`; call `self.config` or `run --fast`.\n\
             See https://example.com/a.rs and `/etc/passwd` and `../up.rs`; e.g. done.\n\
             The folder `templates/` too, and `a b.rs` is prose.",
        );
        assert_eq!(
            got,
            [
                "src/models/user.py",
                "src/parser.rs",
                "Cargo.toml",
                "templates/"
            ]
        );
    }

    #[test]
    fn extensions_are_sorted_for_the_search() {
        assert!(EXTENSIONS.windows(2).all(|p| p[0] < p[1]));
        assert!(path_like("src/ÿ/a.rs", true));
        assert!(!path_like("src/ÿ é.rs", true));
    }

    #[test]
    fn words_without_a_slash_need_backticks() {
        assert!(infer("Update main.rs and README.md", "").is_empty());
        assert_eq!(infer("Update `main.rs`", ""), ["main.rs"]);
    }

    #[test]
    fn keys_are_the_part_before_a_wildcard() {
        assert_eq!(key("src/parser/**"), "src/parser");
        assert_eq!(key("src/*.rs"), "src");
        assert_eq!(key("*.md"), "");
        assert_eq!(key("./src/lib.rs"), "src/lib.rs");
        assert_eq!(key("templates/"), "templates");
    }

    #[test]
    fn overlap_is_by_whole_folders() {
        assert!(overlap("src", "src/lib.rs"));
        assert!(overlap("src/lib.rs", "src/lib.rs"));
        assert!(overlap("", "docs/a.md"));
        assert!(!overlap("src/lib.rs", "src/main.rs"));
        assert!(!overlap("src", "srcs/a.rs"));
        assert_eq!(ancestors("a/b/c").collect::<Vec<_>>(), ["a/b", "a", ""]);
        assert_eq!(ancestors("").count(), 0);
    }

    #[test]
    fn covers_globs_folders_and_exact_paths() {
        let f = Files::new(
            thin_vec::thin_vec!["src/parser/**".into(), "docs/".into()],
            thin_vec::thin_vec!["Cargo.toml".into()],
        );
        assert!(covers(&f, "src/parser/lex.rs"));
        assert!(covers(&f, "docs/format.md"));
        assert!(covers(&f, "Cargo.toml"));
        assert!(!covers(&f, "src/main.rs"));
        assert!(!covers(&f, "Cargo.lock"));
    }
}
