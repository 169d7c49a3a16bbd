//! Where each value came from: read off clap's matches, and named in errors — the flag the person
//! typed, or the `DEVSERVE_*` variable they set.

use std::ffi::OsString;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory};

use super::cli::Cli;
use super::file::Settings;
use crate::error::{Origin, StartError};

/// Where each parsed value came from, read off clap's matches and the settings file.
pub(super) struct Origins<'a>(pub(super) &'a ArgMatches, pub(super) Option<&'a Settings>);

impl Origins<'_> {
    /// The origin of the argument whose clap id is `id`.
    pub(super) fn of(&self, id: &str) -> Origin {
        if let Some(origin) = self.1.and_then(|file| file.origin_of(id)) {
            return origin;
        }
        let command = Cli::command();
        let arg = command.get_arguments().find(|a| a.get_id() == id);
        match self.0.value_source(id) {
            Some(ValueSource::EnvVariable) => Origin::Env(
                arg.and_then(|a| a.get_env())
                    .map(|v| v.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
            Some(ValueSource::CommandLine) => Origin::Flag(
                arg.and_then(|a| a.get_long())
                    .map(|l| format!("--{l}"))
                    .unwrap_or_else(|| id.to_string()),
            ),
            _ => Origin::Default,
        }
    }

    pub(super) fn invalid(&self, id: &str, value: &str, why: impl Into<String>) -> StartError {
        StartError::Invalid {
            origin: self.of(id),
            value: value.to_string(),
            why: why.into(),
        }
    }
}

/// A value clap refused. When it came from the settings file or a `DEVSERVE_*` variable rather
/// than a flag the person typed, the error names the line or the variable; anything else is
/// clap's own message.
pub(super) fn from_env_or_usage(e: clap::Error, args: &[OsString], file: Option<&Settings>) -> StartError {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if matches!(e.kind(), ErrorKind::InvalidValue | ErrorKind::ValueValidation) {
        if let (Some(ContextValue::String(arg)), Some(ContextValue::String(value))) =
            (e.get(ContextKind::InvalidArg), e.get(ContextKind::InvalidValue))
        {
            let long = arg
                .split([' ', '='])
                .next()
                .unwrap_or(arg)
                .trim_start_matches('-');
            let typed = args.iter().skip(1).any(|a| {
                let a = a.to_string_lossy();
                a.strip_prefix("--")
                    .is_some_and(|rest| rest == long || rest.starts_with(&format!("{long}=")))
            });
            let why = || match std::error::Error::source(&e) {
                Some(source) if !source.to_string().is_empty() => source.to_string(),
                _ => "expected true or false (also 1 or 0, yes or no, on or off)".to_string(),
            };
            if let Some(origin) = file.filter(|_| !typed).and_then(|f| f.origin_of_long(long)) {
                return StartError::Invalid {
                    origin,
                    value: value.clone(),
                    why: why(),
                };
            }
            let command = Cli::command();
            let env = command
                .get_arguments()
                .find(|a| a.get_long() == Some(long))
                .and_then(|a| a.get_env())
                .map(|v| v.to_string_lossy().into_owned());
            if let (false, Some(var)) = (typed, env) {
                if std::env::var_os(&var).is_some() {
                    return StartError::Invalid {
                        origin: Origin::Env(var),
                        value: value.clone(),
                        why: why(),
                    };
                }
            }
        }
    }
    StartError::Usage(Box::new(e))
}
