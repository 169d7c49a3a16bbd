//! Which paths are noise: hidden and default-skipped names, editor temporaries, `.gitignore`
//! files at every level, and `--ignore` rules. Ignored folders are never walked or watched.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use ::ignore::gitignore::{Gitignore, GitignoreBuilder};
use ::ignore::Match;

/// Folder names never watched, wherever they are.
const SKIPPED_DIRS: &[&str] = &["node_modules", "target", "__pycache__"];

/// Decides which paths are noise: hidden and default-skipped names, editor temporaries,
/// `.gitignore` files at every level, and `--ignore` rules.
pub(crate) struct Ignorer {
    root: PathBuf,
    extra: Gitignore,
    per_dir: RwLock<HashMap<PathBuf, Gitignore>>,
}

impl Ignorer {
    /// `rules` are `--ignore` globs; the error says what is wrong with the first bad one.
    pub(crate) fn new(root: &Path, rules: &[String]) -> Result<Self, String> {
        let mut builder = GitignoreBuilder::new(root);
        for rule in rules {
            builder.add_line(None, rule).map_err(|e| e.to_string())?;
        }
        let extra = builder.build().map_err(|e| e.to_string())?;
        Ok(Ignorer {
            root: root.to_path_buf(),
            extra,
            per_dir: RwLock::new(HashMap::new()),
        })
    }

    /// Reads `dir/.gitignore`, if there is one, so its rules apply below `dir`.
    pub(super) fn learn_dir(&self, dir: &Path) {
        let file = dir.join(".gitignore");
        if !file.is_file() {
            return;
        }
        let mut builder = GitignoreBuilder::new(dir);
        // A bad line is reported and skipped; the lines that parse still count.
        if let Some(e) = builder.add(&file) {
            tracing::warn!("{}: {e}", file.display());
        }
        if let Ok(gi) = builder.build() {
            if let Ok(mut map) = self.per_dir.write() {
                map.insert(dir.to_path_buf(), gi);
            }
        }
    }

    /// True when a change at `path` (below `base`, the watched folder it belongs to) is noise.
    pub(crate) fn ignored(&self, base: &Path, path: &Path, is_dir: bool) -> bool {
        let Ok(rest) = path.strip_prefix(base) else {
            return false;
        };
        let mut components = rest.components().peekable();
        while let Some(c) = components.next() {
            let name = c.as_os_str().to_string_lossy();
            if name.starts_with('.') {
                return true;
            }
            let last = components.peek().is_none();
            if (!last || is_dir) && SKIPPED_DIRS.contains(&name.as_ref()) {
                return true;
            }
            if last && is_editor_temporary(&name) {
                return true;
            }
        }
        if !path.starts_with(&self.root) {
            return false;
        }
        if self.extra.matched_path_or_any_parents(path, is_dir).is_ignore() {
            return true;
        }
        let Ok(map) = self.per_dir.read() else {
            return false;
        };
        // The deepest .gitignore that has a say wins, as in git.
        for dir in path.ancestors().skip(1) {
            if let Some(gi) = map.get(dir) {
                match gi.matched_path_or_any_parents(path, is_dir) {
                    Match::Ignore(_) => return true,
                    Match::Whitelist(_) => return false,
                    Match::None => {}
                }
            }
            if dir == self.root {
                break;
            }
        }
        false
    }
}

/// vim's `4913` and `file~`, swap files, emacs `#autosave#`, JetBrains' safe-write files.
fn is_editor_temporary(name: &str) -> bool {
    name == "4913"
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.ends_with(".swo")
        || (name.starts_with('#') && name.ends_with('#'))
        || name.ends_with("___jb_tmp___")
        || name.ends_with("___jb_old___")
        || name.ends_with(".crswap")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editor_temporaries_are_recognised() {
        for name in [
            "4913",
            "index.html~",
            ".index.html.swp",
            "#index.html#",
            "index.html___jb_tmp___",
            "index.html___jb_old___",
            "x.swx",
        ] {
            assert!(is_editor_temporary(name), "{name}");
        }
        for name in ["index.html", "site.css", "4914", "a#b"] {
            assert!(!is_editor_temporary(name), "{name}");
        }
    }

    #[test]
    fn default_ignores_and_rules() {
        let root = Path::new("/r");
        let ig = Ignorer::new(root, &["dist/".to_string(), "*.log".to_string()]).unwrap();
        assert!(ig.ignored(root, Path::new("/r/node_modules/x/y.js"), false));
        assert!(ig.ignored(root, Path::new("/r/a/target"), true));
        assert!(!ig.ignored(root, Path::new("/r/a/target"), false));
        assert!(ig.ignored(root, Path::new("/r/.git/index"), false));
        assert!(ig.ignored(root, Path::new("/r/dist"), true));
        assert!(ig.ignored(root, Path::new("/r/dist/a.js"), false));
        assert!(ig.ignored(root, Path::new("/r/debug.log"), false));
        assert!(!ig.ignored(root, Path::new("/r/index.html"), false));
    }
}
