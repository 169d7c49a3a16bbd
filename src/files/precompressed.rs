//! Precompressed files: `app.js.br` or `app.js.gz` beside `app.js` (and not older) is sent for
//! `app.js` to a client that accepts it; a `.br`/`.gz` asked for by its own name (Unity's
//! `game.wasm.br`, Godot's `.pck.gz`) is sent with `Content-Encoding` and the type of the name
//! without the suffix. Each variant is a file of its own: its own ETag, its own ranges.

use std::path::{Path, PathBuf};

use axum::http::{header, HeaderMap, HeaderValue};

/// A content coding a file holds, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    Br,
    Gzip,
}

impl Coding {
    /// The file name's suffix, without the dot.
    pub(super) fn suffix(self) -> &'static str {
        match self {
            Coding::Br => "br",
            Coding::Gzip => "gz",
        }
    }

    pub(super) fn header(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Coding::Br => "br",
            Coding::Gzip => "gzip",
        })
    }
}

/// Which precompressed siblings a file has, found when it was read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Siblings {
    pub(crate) br: bool,
    pub(crate) gz: bool,
}

impl Siblings {
    pub(super) fn any(self) -> bool {
        self.br || self.gz
    }

    /// The siblings of `path` that are regular files and not older than it (a stale `.br` left
    /// by an earlier build is not sent for a newer file). Blocking: two stats.
    pub(super) fn of(path: &Path, meta: &std::fs::Metadata) -> Siblings {
        let modified = meta.modified().ok();
        let fresh = |coding: Coding| {
            let mut name = path.as_os_str().to_owned();
            name.push(".");
            name.push(coding.suffix());
            std::fs::metadata(PathBuf::from(name)).is_ok_and(|m| {
                m.is_file() && modified.is_none_or(|own| m.modified().is_ok_and(|theirs| theirs >= own))
            })
        };
        Siblings {
            br: fresh(Coding::Br),
            gz: fresh(Coding::Gzip),
        }
    }

    /// The sibling to send to a client with these request headers: brotli before gzip, each only
    /// when `Accept-Encoding` names it without `q=0`.
    pub(super) fn chosen(self, headers: &HeaderMap) -> Option<Coding> {
        if !self.any() {
            return None;
        }
        let accepts = headers.get(header::ACCEPT_ENCODING)?.to_str().ok()?;
        let takes = |name: &str| {
            accepts.split(',').any(|item| {
                let mut parts = item.split(';');
                parts.next().is_some_and(|c| c.trim().eq_ignore_ascii_case(name))
                    && !parts.any(|p| {
                        p.trim()
                            .strip_prefix("q=")
                            .and_then(|q| q.trim().parse::<f32>().ok())
                            .is_some_and(|q| q <= 0.0)
                    })
            })
        };
        if self.br && takes("br") {
            Some(Coding::Br)
        } else if self.gz && takes("gzip") {
            Some(Coding::Gzip)
        } else {
            None
        }
    }
}

/// The coding and type of a file named `x.EXT.br` or `x.EXT.gz` (Unity's `.data.gz` is an
/// octet stream sent gzip-coded). An archive (`.tar.gz`), or a name without an inner extension
/// (`notes.gz`), is a download and is sent as it is.
pub(super) fn coded(path: &Path) -> Option<(Coding, mime_guess::Mime)> {
    let coding = match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "br" => Coding::Br,
        "gz" => Coding::Gzip,
        _ => return None,
    };
    let inner = Path::new(path.file_stem()?);
    let ext = inner.extension()?.to_str()?.to_ascii_lowercase();
    if ext == "tar" {
        return None;
    }
    Some((coding, super::mime::mime_of(inner)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_coded_name_has_the_type_of_its_inner_name() {
        let (c, m) = coded(Path::new("Build/game.wasm.br")).unwrap();
        assert_eq!((c, m.essence_str()), (Coding::Br, "application/wasm"));
        let (c, m) = coded(Path::new("Build/game.data.gz")).unwrap();
        assert_eq!((c, m.essence_str()), (Coding::Gzip, "application/octet-stream"));
        assert_eq!(
            coded(Path::new("app.ts.gz")).unwrap().1.essence_str(),
            "text/javascript"
        );
        assert!(coded(Path::new("site.tar.gz")).is_none());
        assert!(coded(Path::new("notes.gz")).is_none());
        assert!(coded(Path::new("app.js")).is_none());
    }

    #[test]
    fn the_client_chooses_by_accept_encoding() {
        let both = Siblings { br: true, gz: true };
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
            h
        };
        assert_eq!(both.chosen(&with("gzip, deflate, br, zstd")), Some(Coding::Br));
        assert_eq!(both.chosen(&with("gzip, br;q=0")), Some(Coding::Gzip));
        assert_eq!(both.chosen(&with("identity")), None);
        assert_eq!(both.chosen(&HeaderMap::new()), None);
        assert_eq!(Siblings { br: false, gz: true }.chosen(&with("br")), None);
        assert_eq!(Siblings::default().chosen(&with("br, gzip")), None);
    }
}
