//! The settings file (`devserve.toml`, or `--config FILE`): every long flag is a key, and each
//! key becomes the flag it names, so that the file, the environment and the command line go
//! through one parser and one set of checks. A key given by a flag or a `DEVSERVE_*` variable is
//! left out: defaults < file < environment < flags.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{ArgAction, ArgMatches, CommandFactory};
use toml::{Spanned, Value};

use super::cli::Cli;
use crate::error::{Origin, StartError};

/// The file looked for in the current folder when `--config` is not given.
pub(crate) const DEFAULT_FILE: &str = "devserve.toml";

/// Keys whose values are paths: relative ones are taken from the file's folder, as Vite does.
const PATH_KEYS: &[&str] = &["root", "watch", "run-watch", "cert", "key"];

/// Keys a file cannot set: they say how to read the settings, or only print.
const NOT_SETTINGS: &[&str] = &["config", "help", "version", "completions", "man"];

/// A settings file, read and turned into flags.
#[derive(Debug, Default)]
pub(super) struct Settings {
    /// As the person would find it (the path given, or `devserve.toml`).
    shown: String,
    /// The flags the file adds (for keys no flag or variable gave).
    pub(super) args: Vec<OsString>,
    /// `root`, resolved from the file's folder, when no flag or variable gave one.
    pub(super) root: Option<PathBuf>,
    /// clap id → the line that set it.
    lines: BTreeMap<String, (String, usize)>,
}

impl Settings {
    /// Reads `--config FILE`, or `./devserve.toml` when it exists; `Ok(None)` when there is none.
    /// `given` says whether a flag or variable already set an argument (by clap id).
    pub(super) fn load(
        config: Option<&Path>,
        config_origin: Origin,
        given: &ArgMatches,
    ) -> Result<Option<Settings>, StartError> {
        let path = match config {
            Some(path) => path.to_path_buf(),
            None if Path::new(DEFAULT_FILE).is_file() => PathBuf::from(DEFAULT_FILE),
            None => return Ok(None),
        };
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| StartError::Invalid {
            origin: config_origin,
            value: shown.clone(),
            why: format!("cannot be read ({e}): check the path"),
        })?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let settings = Settings::parse(&text, &shown, &base, |id| {
            matches!(
                given.value_source(id),
                Some(clap::parser::ValueSource::CommandLine | clap::parser::ValueSource::EnvVariable)
            )
        })?;
        tracing::debug!("settings from {shown}");
        Ok(Some(settings))
    }

    /// Turns the text of a settings file into flags, leaving out the arguments `given` says were set.
    fn parse(
        text: &str,
        shown: &str,
        base: &Path,
        given: impl Fn(&str) -> bool,
    ) -> Result<Settings, StartError> {
        let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let table: BTreeMap<Spanned<String>, Spanned<Value>> = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |s| line_of(s.start));
            StartError::Settings {
                place: format!("{shown}:{line}"),
                why: match e.message() {
                    m if m.contains("duplicate key") => format!(
                        "not valid TOML: {m} (a key given twice; `proxy = [...]` and [[proxy]] tables cannot be mixed)"
                    ),
                    m => format!("not valid TOML: {m}"),
                },
            }
        })?;
        let command = Cli::command();
        let mut settings = Settings {
            shown: shown.to_string(),
            ..Settings::default()
        };
        let mut entries: Vec<_> = table.iter().collect();
        entries.sort_by_key(|(key, _)| key.span().start);
        for (key, value) in entries {
            let line = line_of(key.span().start);
            let place = format!("{shown}:{line}");
            let refuse = |why: String| StartError::Settings {
                place: place.clone(),
                why,
            };
            let name = key.get_ref().as_str();
            if name == "root" {
                if !given("root") {
                    let Value::String(root) = value.get_ref() else {
                        return Err(refuse("`root` is a path, in quotes: root = \"site\"".into()));
                    };
                    settings.root = Some(base.join(root));
                }
                continue;
            }
            let arg = command
                .get_arguments()
                .find(|a| a.get_long() == Some(name) && !NOT_SETTINGS.contains(&name));
            let Some(arg) = arg else {
                return Err(refuse(unknown_key(name, &command)));
            };
            let id = arg.get_id().as_str();
            if given(id) {
                continue; // a flag or a variable says otherwise, and wins
            }
            let flag = format!("--{name}");
            let values = flag_values(name, value.get_ref()).map_err(&refuse)?;
            match arg.get_action() {
                ArgAction::SetTrue => match value.get_ref() {
                    Value::Boolean(true) => settings.args.push(flag.into()),
                    Value::Boolean(false) => {}
                    _ => return Err(refuse(format!("`{name}` is true or false: {name} = true"))),
                },
                ArgAction::Count => match value.get_ref() {
                    Value::Integer(n @ 0..=3) => {
                        settings
                            .args
                            .extend((0..*n).map(|_| OsString::from(flag.clone())));
                    }
                    _ => return Err(refuse(format!("`{name}` is a count from 0 to 3: {name} = 1"))),
                },
                ArgAction::Append => {
                    for v in values {
                        let v = if PATH_KEYS.contains(&name) {
                            in_base(base, &v)
                        } else {
                            v
                        };
                        settings.args.push(format!("{flag}={v}").into());
                    }
                }
                _ => {
                    let [v] = values.as_slice() else {
                        return Err(refuse(format!("`{name}` takes one value, not a list")));
                    };
                    let v = if PATH_KEYS.contains(&name) {
                        in_base(base, v)
                    } else {
                        v.clone()
                    };
                    settings.args.push(format!("{flag}={v}").into());
                }
            }
            settings.lines.insert(id.to_string(), (name.to_string(), line));
        }
        Ok(settings)
    }

    /// Where the value of the argument `id` was written, when this file wrote it.
    pub(super) fn origin_of(&self, id: &str) -> Option<Origin> {
        self.lines.get(id).map(|(key, line)| Origin::File {
            place: format!("{}:{line}", self.shown),
            key: key.clone(),
        })
    }

    /// The origin of a value clap refused, by the flag's long name, when this file wrote it.
    pub(super) fn origin_of_long(&self, long: &str) -> Option<Origin> {
        self.lines
            .values()
            .find(|(key, _)| key == long)
            .map(|(key, line)| Origin::File {
                place: format!("{}:{line}", self.shown),
                key: key.clone(),
            })
    }
}

/// A value as flags take it: a string, a number, true/false, a list of those, or (for `proxy`)
/// tables with `path` and `target`.
fn flag_values(name: &str, value: &Value) -> Result<Vec<String>, String> {
    let one = |v: &Value| -> Result<String, String> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Integer(n) => Ok(n.to_string()),
            Value::Float(f) => Ok(f.to_string()),
            Value::Boolean(b) => Ok(b.to_string()),
            Value::Table(t) if name == "proxy" => {
                let field = |k: &str| t.get(k).and_then(Value::as_str);
                match (field("path"), field("target")) {
                    (Some(path), Some(target)) if t.len() == 2 => Ok(format!("{path}={target}")),
                    _ => Err("a [[proxy]] table has `path` and `target`: path = \"/api\", target = \"http://localhost:4000\"".into()),
                }
            }
            _ => Err(format!("`{name}` takes a string, a number or true/false here")),
        }
    };
    match value {
        Value::Array(items) => items.iter().map(one).collect(),
        v => one(v).map(|s| vec![s]),
    }
}

/// A relative path from the file, taken from the file's folder.
fn in_base(base: &Path, value: &str) -> String {
    let path = Path::new(value);
    if path.is_absolute() {
        value.to_string()
    } else {
        base.join(path).display().to_string()
    }
}

/// The message for a key no flag has, with the nearest one when the key looks like a typo.
fn unknown_key(name: &str, command: &clap::Command) -> String {
    let known = command
        .get_arguments()
        .filter_map(|a| a.get_long())
        .filter(|l| !NOT_SETTINGS.contains(l))
        .chain(["root"]);
    let nearest = known
        .map(|k| (distance(name, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min();
    match nearest {
        Some((_, k)) => format!("unknown setting `{name}`: did you mean `{k}`?"),
        None => format!(
            "unknown setting `{name}`: the keys are the long flags (devserve --help), e.g. port = 3001"
        ),
    }
}

/// Levenshtein distance, for a short key against a short key.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(prev + usize::from(ca != *cb));
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn parse(text: &str) -> Result<Settings, String> {
        Settings::parse(text, "devserve.toml", Path::new("/proj"), |_| false).map_err(|e| e.to_string())
    }

    #[test]
    fn keys_become_flags() {
        let s = parse(
            "port = 3001\nspa = true\nreload-all = false\nproxy = [\"/api=http://localhost:4000\"]\n\
             watch = [\"../shared\", \"/abs\"]\nverbose = 2\nroot = \"site\"\n\
             [[proxy-x]]\n",
        );
        assert!(s
            .unwrap_err()
            .starts_with("devserve.toml:8: unknown setting `proxy-x`"));
        let s = parse(
            "port = 3001\nspa = true\nreload-all = false\nproxy = [\"/api=http://localhost:4000\"]\n\
             watch = [\"../shared\", \"/abs\"]\nverbose = 2\nroot = \"site\"\n",
        )
        .unwrap();
        let args: Vec<_> = s.args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(
            args,
            [
                "--port=3001",
                "--spa",
                "--proxy=/api=http://localhost:4000",
                "--watch=/proj/../shared",
                "--watch=/abs",
                "--verbose",
                "--verbose"
            ]
        );
        assert_eq!(s.root, Some(PathBuf::from("/proj/site")));
    }

    #[test]
    fn proxy_tables_are_rules() {
        let s = parse("[[proxy]]\npath = \"/api\"\ntarget = \"http://localhost:4000\"\n[[proxy]]\npath = \"/ws\"\ntarget = \"http://localhost:3000\"\n").unwrap();
        let args: Vec<_> = s.args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(
            args,
            [
                "--proxy=/api=http://localhost:4000",
                "--proxy=/ws=http://localhost:3000"
            ]
        );
        let bad = parse("[[proxy]]\npath = \"/api\"\n").unwrap_err();
        assert!(bad.contains("has `path` and `target`"), "{bad}");
    }

    #[test]
    fn mistakes_name_the_line() {
        assert_eq!(
            parse("port = 3001\n\nprot = 3\n").unwrap_err(),
            "devserve.toml:3: unknown setting `prot`: did you mean `port`?"
        );
        assert!(parse("spa = \"yes\"\n")
            .unwrap_err()
            .starts_with("devserve.toml:1: `spa` is true or false"));
        assert!(parse("a\nport = = 3\n")
            .unwrap_err()
            .starts_with("devserve.toml:1: not valid TOML"));
        assert!(parse("x = 1\nport = [1, 2]\n")
            .unwrap_err()
            .starts_with("devserve.toml:1: unknown"));
        assert!(parse("port = [1, 2]\n").unwrap_err().contains("takes one value"));
        let mixed = parse("proxy = [\"/a=http://x:1\"]\n[[proxy]]\npath = \"/b\"\ntarget = \"http://y:2\"\n")
            .unwrap_err();
        assert!(
            mixed.starts_with("devserve.toml:2: not valid TOML: duplicate key"),
            "{mixed}"
        );
        assert!(mixed.contains("cannot be mixed"), "{mixed}");
        assert!(parse("config = \"x.toml\"\n")
            .unwrap_err()
            .contains("unknown setting `config`"));
    }

    /// Every key the file may hold, with a value, as TOML and as the flag it stands for.
    const EVERY_KEY: &[(&str, &str, &str)] = &[
        ("port", "3001", "--port=3001"),
        ("host", "\"0.0.0.0\"", "--host=0.0.0.0"),
        (
            "proxy",
            "[\"/api=http://localhost:4000\"]",
            "--proxy=/api=http://localhost:4000",
        ),
        ("proxy-ws", "\"3000\"", "--proxy-ws=3000"),
        ("proxy-timeout", "2.5", "--proxy-timeout=2.5"),
        ("run", "\"sh -c true\"", "--run=sh -c true"),
        ("run-watch", "[\"w\"]", "--run-watch=w"),
        ("ready", "\"tcp:localhost:3000\"", "--ready=tcp:localhost:3000"),
        ("https", "true", "--https"),
        ("cert", "\"w/c.pem\"", "--cert=w/c.pem"),
        ("key", "\"w/k.pem\"", "--key=w/k.pem"),
        ("header", "[\"X-A: 1\"]", "--header=X-A: 1"),
        ("isolated", "true", "--isolated"),
        (
            "cors",
            "[\"http://localhost:5173\"]",
            "--cors=http://localhost:5173",
        ),
        ("watch", "[\"w\"]", "--watch=w"),
        ("ignore", "[\"*.log\"]", "--ignore=*.log"),
        ("no-reload", "true", "--no-reload"),
        ("reload-all", "true", "--reload-all"),
        ("spa", "true", "--spa"),
        ("open", "\"/about\"", "--open=/about"),
        ("debounce", "50", "--debounce=50"),
        ("poll", "100", "--poll=100"),
        (
            "allow-host",
            "[\"mylaptop.local\"]",
            "--allow-host=mylaptop.local",
        ),
        ("timestamps", "true", "--timestamps"),
        ("no-qr", "true", "--no-qr"),
        ("quiet", "true", "--quiet"),
    ];

    #[test]
    fn every_key_gives_the_config_its_flag_gives() {
        let dir = tempfile::tempdir().unwrap();
        let (root, file) = (dir.path().join("site"), dir.path().join("devserve.toml"));
        std::fs::create_dir_all(dir.path().join("w")).unwrap();
        std::fs::write(dir.path().join("w/c.pem"), "").unwrap();
        std::fs::write(dir.path().join("w/k.pem"), "").unwrap();
        std::fs::create_dir_all(&root).unwrap();
        let command = Cli::command();
        let mut longs: Vec<_> = command
            .get_arguments()
            .filter_map(|a| a.get_long().filter(|l| !NOT_SETTINGS.contains(l)))
            .collect();
        longs.retain(|l| *l != "verbose"); // -v conflicts with -q: checked below on its own
        let mut covered: Vec<_> = EVERY_KEY.iter().map(|(k, _, _)| *k).collect();
        longs.sort_unstable();
        covered.sort_unstable();
        assert_eq!(covered, longs, "every long flag has a key in this test");
        let text: String = EVERY_KEY.iter().map(|(k, v, _)| format!("{k} = {v}\n")).collect();
        let cases = [
            (text, EVERY_KEY.iter().map(|(_, _, f)| *f).collect::<Vec<_>>()),
            ("verbose = 2\n".into(), vec!["-vv"]),
        ];
        for (text, flags) in cases {
            std::fs::write(&file, format!("root = \"site\"\n{text}")).unwrap();
            let mut from_file = Config::from_args(["devserve", "--config", file.to_str().unwrap()]).unwrap();
            // The flags' paths are relative to the current folder, the file's to its folder.
            let flags = flags
                .iter()
                .map(|f| f.replace("=w", &format!("={}", dir.path().join("w").display())));
            let from_flags = Config::from_args(
                ["devserve".to_string(), root.display().to_string()]
                    .into_iter()
                    .chain(flags),
            )
            .unwrap();
            // Where the port came from differs by design: the file's line, or the flag.
            if text.contains("port =") {
                assert!(
                    matches!(&from_file.port_origin, crate::error::Origin::File { key, .. } if key == "port")
                );
                assert_eq!(
                    from_flags.port_origin,
                    crate::error::Origin::Flag("--port".into())
                );
            }
            from_file.port_origin = from_flags.port_origin.clone();
            assert_eq!(format!("{from_file:?}"), format!("{from_flags:?}"));
        }
        std::fs::write(&file, "port = 3001\nopen = \"about\"\n").unwrap();
        let err = Config::from_args(["devserve", "--config", file.to_str().unwrap()])
            .unwrap_err()
            .to_string();
        assert!(err.ends_with("devserve.toml:2: open = `about`: a URL path starts with / (--open /about); to name the folder to serve, put it first: devserve ./site --open"), "{err}");
        std::fs::write(&file, "port = \"x\"\n").unwrap();
        let err = Config::from_args(["devserve", "--config", file.to_str().unwrap()])
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with("devserve.toml:1: port = `x`: invalid digit found in string"),
            "{err}"
        );
        let flag_wins =
            Config::from_args(["devserve", "--config", file.to_str().unwrap(), "--port", "7"]).unwrap();
        assert_eq!(flag_wins.port, super::super::PortChoice::Explicit(7));
        let err = Config::from_args(["devserve", "--config", "/no/such.toml"])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("--config `/no/such.toml`: cannot be read"),
            "{err}"
        );
    }

    #[test]
    fn what_flags_or_variables_gave_is_left_out() {
        let s = Settings::parse("port = 1\nspa = true\n", "f", Path::new("."), |id| id == "port").unwrap();
        let args: Vec<_> = s.args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(args, ["--spa"]);
    }
}
