//! Which paths are noise: hidden and default-skipped names, editor temporaries, `.gitignore`
//! files at every level, and `--ignore` rules. Ignored folders are never walked or watched —
//! except those a person asked for (`--watch` inside ROOT) and those a page has loaded a file
//! from: build output is often in `.gitignore`, and it is what the tab shows.

use std::collections::{HashMap, HashSet};
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
    /// Folders watched whole whatever the rules say (`--watch` paths inside ROOT).
    kept_trees: Vec<PathBuf>,
    /// Folders whose own entries are watched whatever the rules say: a page loaded a file there.
    kept_dirs: RwLock<HashSet<PathBuf>>,
}

/// Why a path is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Why {
    /// Hidden, or an editor's temporary: never a change anyone wants shown.
    Noise,
    /// `node_modules`, `target`, `__pycache__`.
    Skipped,
    /// A `.gitignore` line or an `--ignore` glob.
    Rule,
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
            kept_trees: Vec::new(),
            kept_dirs: RwLock::new(HashSet::new()),
        })
    }

    /// Also watches these folders whole, whatever the rules say.
    pub(crate) fn keeping(mut self, trees: impl IntoIterator<Item = PathBuf>) -> Self {
        self.kept_trees.extend(trees);
        self
    }

    /// From now on, the entries of `dir` are watched whatever the rules say. False when it was
    /// kept already.
    pub(super) fn keep_dir(&self, dir: &Path) -> bool {
        self.kept_dirs
            .write()
            .map(|mut dirs| dirs.insert(dir.to_path_buf()))
            .unwrap_or(false)
    }

    /// True when `path` is, or lies directly in, a folder kept whatever the rules say.
    fn kept(&self, path: &Path) -> bool {
        if self.kept_trees.iter().any(|t| path.starts_with(t)) {
            return true;
        }
        let Ok(dirs) = self.kept_dirs.read() else {
            return false;
        };
        !dirs.is_empty() && (dirs.contains(path) || path.parent().is_some_and(|p| dirs.contains(p)))
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
        self.why_ignored(base, path, is_dir).is_some()
    }

    /// Why `path` is ignored, if it is.
    pub(crate) fn why_ignored(&self, base: &Path, path: &Path, is_dir: bool) -> Option<Why> {
        let Ok(rest) = path.strip_prefix(base) else {
            return None;
        };
        let kept = self.kept(path);
        let mut components = rest.components().peekable();
        while let Some(c) = components.next() {
            let name = c.as_os_str().to_string_lossy();
            if name.starts_with('.') {
                return Some(Why::Noise);
            }
            let last = components.peek().is_none();
            if !kept && (!last || is_dir) && SKIPPED_DIRS.contains(&name.as_ref()) {
                return Some(Why::Skipped);
            }
            if last && is_editor_temporary(&name) {
                return Some(Why::Noise);
            }
        }
        if kept || !path.starts_with(&self.root) {
            return None;
        }
        if self.extra.matched_path_or_any_parents(path, is_dir).is_ignore() {
            return Some(Why::Rule);
        }
        let map = self.per_dir.read().ok()?;
        // The deepest .gitignore that has a say wins, as in git.
        for dir in path.ancestors().skip(1) {
            if let Some(gi) = map.get(dir) {
                match gi.matched_path_or_any_parents(path, is_dir) {
                    Match::Ignore(_) => return Some(Why::Rule),
                    Match::Whitelist(_) => return None,
                    Match::None => {}
                }
            }
            if dir == self.root {
                break;
            }
        }
        None
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
    fn kept_folders_are_watched_whatever_the_rules_say() {
        let root = Path::new("/r");
        let ig = Ignorer::new(root, &["dist/".to_string(), "out/".to_string()])
            .unwrap()
            .keeping([PathBuf::from("/r/out")]);
        assert_eq!(
            ig.why_ignored(root, Path::new("/r/dist/app.js"), false),
            Some(Why::Rule)
        );
        assert_eq!(
            ig.why_ignored(root, Path::new("/r/out/deep/a.js"), false),
            None,
            "--watch out"
        );
        assert!(ig.keep_dir(Path::new("/r/dist")));
        assert!(!ig.keep_dir(Path::new("/r/dist")), "once");
        assert_eq!(ig.why_ignored(root, Path::new("/r/dist/app.js"), false), None);
        assert_eq!(
            ig.why_ignored(root, Path::new("/r/dist"), true),
            None,
            "re-created, it is walked again"
        );
        assert_eq!(
            ig.why_ignored(root, Path::new("/r/dist/sub/x.js"), false),
            Some(Why::Rule),
            "only its own entries"
        );
        assert_eq!(
            ig.why_ignored(root, Path::new("/r/dist/.app.js.swp"), false),
            Some(Why::Noise)
        );
        assert!(ig.keep_dir(Path::new("/r/node_modules/lib")));
        assert_eq!(
            ig.why_ignored(root, Path::new("/r/node_modules/lib/x.js"), false),
            None
        );
        assert_eq!(
            ig.why_ignored(root, Path::new("/r/node_modules/other/x.js"), false),
            Some(Why::Skipped)
        );
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
