//! A person editing a task file while run-batch runs it, for the
//! fault-injection tests: an editor that keeps a buffer, adds one unique
//! marker line per save and writes the file the ways real editors and
//! programs do (in place in chunks, in steps, or by rename), sometimes after
//! reloading the file and sometimes from a stale buffer. It remembers every
//! marker it saved and its last save, which the checks compare with the file
//! the run leaves. Also a tiny seeded random number generator, so a failure
//! can be replayed from the seed it prints.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

// ---- randomness -----------------------------------------------------------------

/// xorshift64*: small, fast, and enough for choosing moments and sizes.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // splitmix64 once, so that nearby seeds give unrelated streams (and
        // 0, which xorshift cannot leave, never happens).
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A number in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    /// A duration of `lo..=hi` milliseconds.
    pub fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(self.between(lo, hi))
    }

    /// A new generator for a part of the test (an editor thread), so that
    /// each part's choices depend only on the seed.
    pub fn fork(&mut self) -> Rng {
        Rng::new(self.next_u64())
    }

    /// One of `items` (not empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// A test's seed: `FAULTS_SEED` when set (to replay a failure), else a new
/// one. Keep the returned [`Seed`] alive for the whole test: if the test
/// panics, it prints the seed and how to replay it.
pub fn seed(test: &str) -> Seed {
    let seed = match std::env::var("FAULTS_SEED") {
        Ok(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("FAULTS_SEED must be a number, not {s:?}")),
        Err(_) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap();
            now.as_nanos() as u64 ^ u64::from(std::process::id()).rotate_left(32)
        }
    };
    eprintln!("{test}: seed {seed}");
    Seed {
        test: test.to_owned(),
        seed,
    }
}

/// Prints the seed when the test fails (see [`seed`]).
pub struct Seed {
    test: String,
    pub seed: u64,
}

impl Seed {
    pub fn rng(&self) -> Rng {
        Rng::new(self.seed)
    }
}

impl Drop for Seed {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "\n{} failed with seed {}; replay its choices with\n  FAULTS_SEED={} cargo test --test faults {} -- --include-ignored\n",
                self.test, self.seed, self.seed, self.test
            );
        }
    }
}

// ---- the editor -------------------------------------------------------------------

/// How an editor writes the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Save {
    /// Open with `O_TRUNC` and write in a few chunks with pauses, holding
    /// the file open: vim with `backupcopy=yes`, `cat >`, a script's
    /// `open(path, "w")`, a slow or network disk.
    InPlace,
    /// Truncate and write a part, close, reopen to append the rest: a script
    /// that writes its output in steps.
    WriteCloseWrite,
    /// Write a temporary file in the same folder and rename it over: vim's
    /// default, VS Code, JetBrains.
    Rename,
}

pub const EVERY_STYLE: [Save; 3] = [Save::InPlace, Save::WriteCloseWrite, Save::Rename];

/// A person with the task file open in an editor.
pub struct Editor {
    path: PathBuf,
    rng: Rng,
    styles: Vec<Save>,
    /// Chance that a save first reloads the file from disk (picking up
    /// run-batch's ticks); otherwise the save writes the stale buffer.
    reload: f64,
    buffer: Vec<u8>,
    /// Every marker line ever saved, in order.
    pub markers: Vec<String>,
    /// The bytes of the last save (the file as the person last wrote it).
    pub last_save: Vec<u8>,
    /// Saves made without reloading first (each may revert ticks).
    pub stale_saves: usize,
}

impl Editor {
    /// Opens `path` (reads it into the buffer).
    pub fn open(path: &Path, rng: Rng, styles: &[Save], reload: f64) -> Editor {
        let buffer = std::fs::read(path).expect("the editor reads the task file");
        Editor {
            path: path.to_owned(),
            rng,
            styles: styles.to_vec(),
            reload,
            last_save: buffer.clone(),
            buffer,
            markers: Vec::new(),
            stale_saves: 0,
        }
    }

    /// Saves made so far.
    pub fn saves(&self) -> usize {
        self.markers.len()
    }

    /// Maybe reloads, adds one marker line to the buffer, and saves it in
    /// one of the editor's styles.
    pub fn save(&mut self) {
        if self.rng.chance(self.reload) {
            self.reload();
        } else {
            self.stale_saves += 1;
        }
        self.add_marker();
        let style = *self.rng.pick(&self.styles);
        let bytes = self.buffer.clone();
        match style {
            Save::InPlace => self.write_in_place(&bytes),
            Save::WriteCloseWrite => self.write_close_write(&bytes),
            Save::Rename => self.write_by_rename(&bytes),
        }
        self.last_save = bytes;
    }

    /// Reloads, then truncates the file and leaves it empty for `empty`
    /// before writing the buffer (with a new marker) back: an editor or a
    /// program that truncates first and is slow to write.
    pub fn save_after_leaving_it_empty(&mut self, empty: Duration) {
        self.reload();
        self.add_marker();
        let bytes = self.buffer.clone();
        let mut file = self.open_truncated();
        std::thread::sleep(empty);
        file.write_all(&bytes).expect("the editor writes");
        drop(file);
        self.last_save = bytes;
    }

    fn reload(&mut self) {
        self.buffer = std::fs::read(&self.path).expect("the editor reloads the task file");
    }

    /// A line no task, hint or checkbox could be mistaken for: at the end of
    /// the file as a paragraph of its own, or under a random task as an
    /// indented body line.
    fn add_marker(&mut self) {
        let n = self.markers.len() + 1;
        let marker = format!("note from the editor, edit {n}");
        let tasks = task_line_ends(&self.buffer);
        if tasks.is_empty() || self.rng.chance(0.3) {
            if !self.buffer.is_empty() && !self.buffer.ends_with(b"\n") {
                self.buffer.push(b'\n');
            }
            self.buffer
                .extend_from_slice(format!("\n{marker}\n").as_bytes());
        } else {
            let at = *self.rng.pick(&tasks);
            let line = format!("  {marker}\n");
            self.buffer.splice(at..at, line.bytes());
        }
        self.markers.push(marker);
    }

    fn open_truncated(&self) -> std::fs::File {
        OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&self.path)
            .expect("the editor opens the task file to write")
    }

    /// Up to five chunks cut at random places, a pause of 0–30 ms before
    /// each one after the first.
    fn write_in_place(&mut self, bytes: &[u8]) {
        let mut file = self.open_truncated();
        let pieces = self.rng.between(2, 5) as usize;
        let mut cuts: Vec<usize> = (1..pieces)
            .map(|_| self.rng.below(bytes.len() as u64 + 1) as usize)
            .collect();
        cuts.push(0);
        cuts.push(bytes.len());
        cuts.sort_unstable();
        for (i, pair) in cuts.windows(2).enumerate() {
            if i > 0 {
                std::thread::sleep(self.rng.millis(0, 30));
            }
            file.write_all(&bytes[pair[0]..pair[1]])
                .expect("the editor writes");
        }
    }

    fn write_close_write(&mut self, bytes: &[u8]) {
        let cut = self.rng.below(bytes.len() as u64 + 1) as usize;
        let mut file = self.open_truncated();
        file.write_all(&bytes[..cut]).expect("the editor writes");
        drop(file);
        std::thread::sleep(self.rng.millis(0, 30));
        let mut file = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .expect("the editor reopens the task file to append");
        file.write_all(&bytes[cut..]).expect("the editor writes");
    }

    fn write_by_rename(&mut self, bytes: &[u8]) {
        let name = self.path.file_name().unwrap().to_string_lossy();
        let tmp = self.path.with_file_name(format!(".{name}.editor-save"));
        std::fs::write(&tmp, bytes).expect("the editor writes its temporary file");
        std::thread::sleep(self.rng.millis(0, 10));
        std::fs::rename(&tmp, &self.path).expect("the editor renames over the task file");
    }
}

/// Offsets just past the newline of every task line (`- [ ]` or `- [x]` at
/// the start of a line), where a body line can go.
fn task_line_ends(bytes: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| start + i + 1);
        let line = &bytes[start..end];
        if end > start
            && bytes[end - 1] == b'\n'
            && (line.starts_with(b"- [ ] ") || line.starts_with(b"- [x] "))
        {
            out.push(end);
        }
        start = end;
    }
    out
}
