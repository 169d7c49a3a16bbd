//! The certificate `--https` serves: made with rcgen on first use and kept in the user's config
//! folder (`~/.config/devserve` on Linux), reused on later runs so that a browser told to trust
//! it once keeps trusting it.
//!
//! It is a leaf, not a CA (a CA of ours, once trusted, could vouch for any site), ECDSA P-256 with
//! SHA-256, valid for a year, for loopback and the names devserve is asked for. When a run needs a
//! name the kept certificate lacks, or it is near its end, a new one is made for all the names.
//! Its key is readable by its owner only.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

const CERT_FILE: &str = "localhost.pem";
const KEY_FILE: &str = "localhost-key.pem";
/// The names the kept certificate holds and when it ends: one name per line, then `until SECS`.
const NAMES_FILE: &str = "localhost.names";
/// How long a made certificate is valid. Apple's platforms refuse any TLS server certificate
/// valid for more than 825 days, trusted by hand or not.
const VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
/// A kept certificate this close to its end is made anew.
const RENEW_BEFORE: Duration = Duration::from_secs(30 * 24 * 3600);

/// A certificate chain and its key, ready for rustls.
pub(crate) struct Identity {
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) key: PrivateKeyDer<'static>,
}

/// What [`kept`] found or made.
pub(crate) struct Kept {
    pub(crate) identity: Identity,
    /// The certificate's file, for the person to trust.
    pub(crate) cert: PathBuf,
    /// True when it was made by this run (the first, or new names).
    pub(crate) made: bool,
    pub(crate) names: Vec<String>,
}

/// Reads a certificate chain and a key from PEM files (`--cert`, `--key`).
pub(crate) fn read(cert: &Path, key: &Path) -> Result<Identity, String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: no certificate could be read ({e})", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("{}: holds no certificate", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("{}: no private key could be read ({e})", key.display()))?;
    Ok(Identity { chain, key })
}

/// The certificate kept in `dir` when it holds every name in `names` and is not near its end;
/// otherwise a new one, for these names and those it held, written there.
pub(crate) fn kept(dir: &Path, names: &[String]) -> Result<Kept, String> {
    let (cert, key, list) = (dir.join(CERT_FILE), dir.join(KEY_FILE), dir.join(NAMES_FILE));
    let (mut held, until) = read_names(&list);
    let fresh = until.is_some_and(|until| until > SystemTime::now() + RENEW_BEFORE);
    if fresh && names.iter().all(|n| held.contains(n)) {
        if let Ok(identity) = read(&cert, &key) {
            return Ok(Kept {
                identity,
                cert,
                made: false,
                names: held,
            });
        }
    }
    for name in names {
        if !held.contains(name) {
            held.push(name.clone());
        }
    }
    let (cert_pem, key_pem, until) = make(&held)?;
    create_private_dir(dir).map_err(|e| format!("{}: cannot be created ({e})", dir.display()))?;
    write_private(&key, key_pem.as_bytes())
        .map_err(|e| format!("{}: cannot be written ({e})", key.display()))?;
    fs::write(&cert, &cert_pem).map_err(|e| format!("{}: cannot be written ({e})", cert.display()))?;
    let secs = until.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let listed = format!("{}\nuntil {secs}\n", held.join("\n"));
    fs::write(&list, listed).map_err(|e| format!("{}: cannot be written ({e})", list.display()))?;
    Ok(Kept {
        identity: read(&cert, &key)?,
        cert,
        made: true,
        names: held,
    })
}

/// The names a kept certificate holds, and when it ends.
fn read_names(list: &Path) -> (Vec<String>, Option<SystemTime>) {
    let Ok(text) = fs::read_to_string(list) else {
        return (Vec::new(), None);
    };
    let mut names = Vec::new();
    let mut until = None;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match line.strip_prefix("until ") {
            Some(secs) => until = secs.parse().ok().map(|s| UNIX_EPOCH + Duration::from_secs(s)),
            None => names.push(line.to_string()),
        }
    }
    (names, until)
}

/// A self-signed leaf for `names` (IP addresses become IP names): its PEM, its key's PEM, its end.
fn make(names: &[String]) -> Result<(String, String, SystemTime), String> {
    let failed = |e: rcgen::Error| format!("the certificate could not be made: {e}");
    let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(failed)?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, "devserve development certificate");
    dn.push(rcgen::DnType::OrganizationName, "devserve");
    params.distinguished_name = dn;
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let now = SystemTime::now();
    let until = now + VALIDITY;
    params.not_before = (now - Duration::from_secs(24 * 3600)).into();
    params.not_after = until.into();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(failed)?;
    let cert = params.self_signed(&key).map_err(failed)?;
    Ok((cert.pem(), key.serialize_pem(), until))
}

/// Creates `dir` (and its parents); devserve's own folder is its owner's only.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
    }
    #[cfg(not(unix))]
    {
        fs::create_dir_all(dir)
    }
}

/// Writes a file only its owner may read, whatever was there before.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        options.mode(0o600);
        let mut file = options.open(path)?;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
        file.write_all(bytes)
    }
    #[cfg(not(unix))]
    {
        options.open(path)?.write_all(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_is_made_once_kept_and_made_anew_for_a_new_name() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path().join("devserve");
        let names: Vec<String> = ["localhost", "127.0.0.1", "::1"].map(String::from).to_vec();
        let first = kept(&dir, &names).unwrap();
        assert!(first.made);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(dir.join(KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "the key is its owner's only");
        }
        let again = kept(&dir, &names[..1]).unwrap();
        assert!(!again.made, "kept and reused");
        assert_eq!(again.identity.chain, first.identity.chain);
        let more = kept(&dir, &["mylaptop.local".to_string()]).unwrap();
        assert!(more.made);
        assert_eq!(more.names, ["localhost", "127.0.0.1", "::1", "mylaptop.local"]);
        // Near its end: made anew.
        fs::write(dir.join(NAMES_FILE), "localhost\nuntil 1000\n").unwrap();
        assert!(kept(&dir, &names[..1]).unwrap().made);
    }

    #[test]
    fn unreadable_files_say_which() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        fs::write(&cert, "not a certificate").unwrap();
        fs::write(&key, "nor a key").unwrap();
        let err = read(&cert, &key).err().unwrap();
        assert!(err.contains("c.pem: holds no certificate"), "{err}");
    }
}
