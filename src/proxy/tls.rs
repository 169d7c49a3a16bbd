//! TLS towards `https://` backends. A backend on this machine (`localhost`, `127.0.0.1`, `::1`)
//! usually serves a self-signed certificate of its own making, as Vite's `secure: false` allows:
//! its certificate is accepted as it is (the handshake is still checked against it). Any other
//! name is verified against the system's trusted certificates, as a browser would.

use std::net::IpAddr;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// The client configuration for backends.
/// The system's certificates are read only when some backend is `https://`.
pub(super) fn client_config(system_roots: bool) -> Result<ClientConfig, rustls::Error> {
    let verifier = verifier(system_roots);
    // ALPN (http/1.1 only) is hyper-rustls's to set.
    Ok(ClientConfig::builder_with_provider(verifier.provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}

fn verifier(system_roots: bool) -> Verifier {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    if system_roots {
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
    }
    Verifier {
        // No roots (a machine without a certificate store): names other than loopback fail
        // their handshake with a 502 that says the certificate is not trusted.
        web: WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .ok(),
        provider,
    }
}

#[derive(Debug)]
struct Verifier {
    web: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

/// True for a name that can only be this machine.
fn is_loopback(name: &ServerName<'_>) -> bool {
    match name {
        ServerName::DnsName(dns) => {
            let dns = dns.as_ref().trim_end_matches('.').to_ascii_lowercase();
            dns == "localhost" || dns.ends_with(".localhost")
        }
        ServerName::IpAddress(ip) => IpAddr::from(*ip).is_loopback(),
        _ => false,
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if is_loopback(server_name) {
            return Ok(ServerCertVerified::assertion());
        }
        match &self.web {
            Some(web) => web.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now),
            None => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_machine_is_taken_on_trust() {
        for name in ["localhost", "app.localhost", "127.0.0.1", "::1"] {
            assert!(is_loopback(&ServerName::try_from(name).unwrap()), "{name}");
        }
        for name in ["example.com", "10.0.0.2", "localhost.example.com"] {
            assert!(!is_loopback(&ServerName::try_from(name).unwrap()), "{name}");
        }
    }

    /// A self-signed certificate passes for this machine, and for no other name.
    #[test]
    fn other_names_need_a_trusted_certificate() {
        let key = rcgen::KeyPair::generate().unwrap();
        let names = vec!["localhost".to_string(), "example.com".to_string()];
        let cert = rcgen::CertificateParams::new(names)
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let verifier = verifier(true);
        let check = |name: &str| {
            verifier.verify_server_cert(
                cert.der(),
                &[],
                &ServerName::try_from(name).unwrap().to_owned(),
                &[],
                UnixTime::now(),
            )
        };
        assert!(check("localhost").is_ok());
        assert!(check("example.com").is_err());
    }
}
