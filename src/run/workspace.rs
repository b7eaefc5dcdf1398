//! Where a task's agent and gate run: takes the task file's path, hands on a
//! folder. By default that is the root of the git work tree holding the file,
//! since spec-kit (`specs/001-x/tasks.md`) and Kiro (`.kiro/specs/x/tasks.md`)
//! name paths from there, and the file's own folder outside git. Never runs
//! git and never writes. Per-task workspaces will plug in here.

use std::path::{Path, PathBuf};

/// The folder agents run in when `--workdir` is not given: the nearest
/// folder at or above the task file's real folder (symlinks resolved) that
/// has a `.git` entry (a folder, or a file as in git worktrees and
/// submodules), else the task file's folder.
pub fn default_workdir(taskfile: &Path) -> PathBuf {
    let folder = taskfile
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let real = std::fs::canonicalize(taskfile)
        .ok()
        .and_then(|f| f.parent().map(Path::to_path_buf))
        .or_else(|| std::fs::canonicalize(&folder).ok());
    let Some(real) = real else {
        return folder;
    };
    real.ancestors()
        .find(|dir| std::fs::metadata(dir.join(".git")).is_ok_and(|m| m.is_dir() || m.is_file()))
        .map_or_else(|| real.clone(), Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_git_entry_above_the_file_wins() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir_all(root.join("specs/001-x")).unwrap();
        std::fs::write(root.join("specs/001-x/tasks.md"), "- [ ] a\n").unwrap();
        assert_eq!(
            default_workdir(&root.join("specs/001-x/tasks.md")),
            root.join("specs/001-x")
        );
        // A worktree's or submodule's `.git` is a file.
        std::fs::write(root.join(".git"), "gitdir: elsewhere\n").unwrap();
        assert_eq!(default_workdir(&root.join("specs/001-x/tasks.md")), root);
        std::fs::create_dir(root.join("specs/.git")).unwrap();
        assert_eq!(
            default_workdir(&root.join("specs/001-x/tasks.md")),
            root.join("specs")
        );
    }
}
