//! `--run`, `--run-watch` and `--ready`, resolved and checked before anything starts.

use std::path::{Path, PathBuf};

use super::cli::Cli;
use super::origin::Origins;
use crate::error::StartError;
use crate::proxy::rule::ProxyRule;
use crate::supervisor::Ready;

/// The backend command, resolved.
#[derive(Debug, Clone)]
pub(crate) struct RunCommand {
    pub(crate) command: String,
    /// Canonical paths whose changes restart it.
    pub(crate) watch: Vec<PathBuf>,
    pub(crate) ready: Ready,
}

/// `--run`, `--run-watch` and `--ready`, checked: the command's program exists, the paths exist,
/// and there is a way to tell when it is ready.
pub(super) fn run_command(
    cli: &Cli,
    proxies: &[ProxyRule],
    origins: &Origins<'_>,
) -> Result<Option<RunCommand>, StartError> {
    let Some(command) = cli.run.as_deref().map(str::trim).filter(|c| !c.is_empty()) else {
        if let Some(path) = cli.run_watch.first() {
            return Err(origins.invalid(
                "run_watch",
                &path.display().to_string(),
                "needs --run CMD: it says what to restart",
            ));
        }
        return Ok(None);
    };
    if let Some(missing) = missing_program(command) {
        return Err(origins.invalid(
            "run",
            command,
            format!("`{missing}` is not a program on PATH (or not executable): check the command"),
        ));
    }
    let watch = cli
        .run_watch
        .iter()
        .map(|p| {
            std::fs::canonicalize(p).map_err(|_| {
                origins.invalid(
                    "run_watch",
                    &p.display().to_string(),
                    "does not exist: check the path",
                )
            })
        })
        .collect::<Result<_, _>>()?;
    let ready = match &cli.ready {
        Some(spec) => Ready::parse(spec).map_err(|why| origins.invalid("ready", spec, why))?,
        None => match proxies.first() {
            Some(rule) => Ready::tcp(&rule.target.host, rule.target.port),
            None => {
                return Err(origins.invalid(
                    "run",
                    command,
                    "devserve cannot tell when it is ready: add --ready tcp:HOST:PORT, or --proxy to it",
                ))
            }
        },
    };
    Ok(Some(RunCommand {
        command: command.to_string(),
        watch,
        ready,
    }))
}

/// The program a shell command starts with, when it is neither found nor a shell word: `npm run
/// dev` → `npm`. Assignments (`PORT=3000 node app.js`), builtins and anything the shell would
/// read differently (`(`, `$x`) are not checked.
pub(super) fn missing_program(command: &str) -> Option<String> {
    const SHELL_WORDS: &[&str] = &[
        "cd", "exec", "export", "env", ".", "source", "set", "if", "for", "while", "until", "case", "test",
        "[", "true", "false", "echo", "printf", "eval", "trap", "ulimit", "umask", "{", "!",
    ];
    let first = command.split_whitespace().find(|w| !w.contains('='))?;
    if SHELL_WORDS.contains(&first) || first.contains(['(', '$', '`', '"', '\'', ';', '&', '|', '<', '>']) {
        return None;
    }
    let runnable = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if first.contains('/') {
        return (!runnable(Path::new(first))).then(|| first.to_string());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    (!std::env::split_paths(&path).any(|dir| runnable(&dir.join(first)))).then(|| first.to_string())
}
