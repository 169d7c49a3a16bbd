//! Headers between client and backend: hop-by-hop headers dropped both ways (RFC 9110 §7.6.1),
//! `X-Forwarded-*` set, upgrades recognised.

use std::net::IpAddr;

use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Headers that describe one connection, never forwarded (RFC 9110 §7.6.1). Names rather than
/// strings: a name given as a string is parsed again at every lookup, and these are looked up
/// twice for every proxied request. A `static`, not a `const`: each use of a `const` array
/// builds the array afresh and drops it again (190 instructions a request, by callgrind).
static HOP_BY_HOP: [HeaderName; 9] = [
    // First: `strip_hop_by_hop` reads the names it lists.
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// True for a WebSocket upgrade, the one upgrade devserve passes on. Any other (`h2c`, say) would
/// be a tunnel of another protocol past the Host check: its headers are dropped as hop-by-hop,
/// and the request goes on as a plain one.
pub(crate) fn is_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"))
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("upgrade")))
}

/// Removes hop-by-hop headers, including any that `Connection` names.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // One pass over the names present (a request has a handful), then removals of those only:
    // a removal is a hash and a probe, and most of these are never there.
    let mut present = [false; 9];
    for i in headers.keys().filter_map(|name| hop_by_hop_index(name.as_str())) {
        present[i] = true;
    }
    if present[0] {
        let named: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|t| !HOP_BY_HOP.iter().any(|h| t.eq_ignore_ascii_case(h.as_str())))
            .filter_map(|t| HeaderName::from_bytes(t.as_bytes()).ok())
            .collect();
        for name in &named {
            headers.remove(name);
        }
    }
    for (name, _) in HOP_BY_HOP.iter().zip(present).filter(|(_, here)| *here) {
        headers.remove(name);
    }
}

/// Where a (lowercase) name is in [`HOP_BY_HOP`]: a match on its text compiles to a switch on
/// the length and one comparison, where comparing names one by one takes nine.
fn hop_by_hop_index(name: &str) -> Option<usize> {
    Some(match name {
        "connection" => 0,
        "keep-alive" => 1,
        "proxy-connection" => 2,
        "proxy-authenticate" => 3,
        "proxy-authorization" => 4,
        "te" => 5,
        "trailer" => 6,
        "transfer-encoding" => 7,
        "upgrade" => 8,
        _ => return None,
    })
}

/// Headers a client could use to pass itself off as someone else to the backend: devserve says
/// who the client is in `X-Forwarded-For`, and nothing else may claim otherwise.
static CLAIMS: [HeaderName; 4] = [
    header::FORWARDED,
    HeaderName::from_static("x-real-ip"),
    X_FORWARDED_HOST,
    X_FORWARDED_PROTO,
];
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// The client's address as `X-Forwarded-For` names it: made once per connection, not per request.
#[derive(Clone, Debug)]
pub(crate) struct ForwardedFor(HeaderValue);

impl ForwardedFor {
    pub(crate) fn new(ip: IpAddr) -> Self {
        // An address's text is always a valid header value.
        ForwardedFor(
            HeaderValue::from_str(&ip.to_string()).unwrap_or_else(|_| HeaderValue::from_static("unknown")),
        )
    }
}

/// Says who the client is (`X-Forwarded-For`, `-Host`, `-Proto`) and drops whatever else claims
/// to. The names present are looked at once: a removal hashes its name, and a browser's request
/// carries none of these.
pub(crate) fn set_forwarded(
    headers: &mut HeaderMap,
    client: Option<&ForwardedFor>,
    original_host: Option<HeaderValue>,
    secure: bool,
) {
    let (mut claims, mut chain) = (false, false);
    for name in headers.keys() {
        if name == X_FORWARDED_FOR {
            chain = true;
        } else if CLAIMS.contains(name) {
            claims = true;
        }
    }
    if let Some(ForwardedFor(ip)) = client {
        let value = if chain {
            // Every line the client sent, in order (as nginx's $proxy_add_x_forwarded_for),
            // then the peer devserve saw: the last hop is devserve's word.
            let mut value = Vec::new();
            for prev in headers.get_all(X_FORWARDED_FOR) {
                value.extend_from_slice(prev.as_bytes());
                value.extend_from_slice(b", ");
            }
            value.extend_from_slice(ip.as_bytes());
            HeaderValue::from_bytes(&value).unwrap_or_else(|_| ip.clone())
        } else {
            ip.clone()
        };
        headers.insert(X_FORWARDED_FOR, value);
    }
    if claims {
        for name in CLAIMS.iter() {
            headers.remove(name);
        }
    }
    if let Some(host) = original_host {
        headers.insert(X_FORWARDED_HOST, host);
    }
    let proto = if secure { "https" } else { "http" };
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(proto));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_websocket_upgrades_are_upgrades() {
        let mut h = HeaderMap::new();
        h.insert("connection", "Upgrade".parse().unwrap());
        h.insert("upgrade", "WebSocket".parse().unwrap());
        assert!(is_upgrade(&h));
        h.insert("upgrade", "h2c".parse().unwrap());
        assert!(!is_upgrade(&h));
        h.remove("connection");
        h.insert("upgrade", "websocket".parse().unwrap());
        assert!(!is_upgrade(&h), "Connection must say upgrade");
    }

    #[test]
    fn a_client_cannot_claim_to_be_someone_else() {
        let mut h = HeaderMap::new();
        h.insert("forwarded", "for=10.0.0.1".parse().unwrap());
        h.insert("x-real-ip", "10.0.0.1".parse().unwrap());
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        h.insert("x-forwarded-for", "10.0.0.9".parse().unwrap());
        set_forwarded(
            &mut h,
            Some(&ForwardedFor::new("127.0.0.1".parse().unwrap())),
            Some("localhost:8080".parse().unwrap()),
            false,
        );
        assert!(h.get("forwarded").is_none() && h.get("x-real-ip").is_none());
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(
            h["x-forwarded-for"], "10.0.0.9, 127.0.0.1",
            "the chain, with the real peer last"
        );
        assert_eq!(h["x-forwarded-host"], "localhost:8080");
    }

    #[test]
    fn the_index_of_a_hop_by_hop_name_is_its_place_in_the_list() {
        for (i, name) in HOP_BY_HOP.iter().enumerate() {
            assert_eq!(hop_by_hop_index(name.as_str()), Some(i), "{name}");
        }
        assert_eq!(hop_by_hop_index("accept"), None);
    }

    #[test]
    fn hop_by_hop_headers_go_including_those_named_in_connection() {
        let mut h = HeaderMap::new();
        h.insert("connection", "keep-alive, x-secret".parse().unwrap());
        h.insert("keep-alive", "timeout=5".parse().unwrap());
        h.insert("x-secret", "1".parse().unwrap());
        h.insert("transfer-encoding", "chunked".parse().unwrap());
        h.insert("te", "trailers".parse().unwrap());
        h.insert("accept", "*/*".parse().unwrap());
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("accept"));
    }

    use proptest::prelude::*;

    proptest! {
        /// Whatever a request carries, no hop-by-hop header survives the filter, nor any header
        /// its `Connection` names; the others do.
        #[test]
        fn hop_by_hop_headers_never_survive(
            names in proptest::collection::vec(
                prop_oneof![
                    proptest::sample::select(HOP_BY_HOP.iter().map(|h| h.as_str().to_string()).collect::<Vec<_>>()),
                    "x-[a-z]{1,6}",
                ],
                0..12,
            ),
            named in proptest::collection::vec("x-[a-z]{1,6}", 0..4),
        ) {
            let mut h = HeaderMap::new();
            for name in &names {
                h.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_static("v"));
            }
            if !named.is_empty() {
                h.append(header::CONNECTION, HeaderValue::from_str(&named.join(", ")).unwrap());
            }
            strip_hop_by_hop(&mut h);
            for name in HOP_BY_HOP.iter().map(|n| n.to_string()).chain(named.iter().cloned()) {
                prop_assert!(!h.contains_key(name.as_str()), "{} survived", name);
            }
            for name in names.iter().filter(|n| !HOP_BY_HOP.iter().any(|h| h == n.as_str()) && !named.contains(n)) {
                prop_assert!(h.contains_key(name.as_str()), "{} was dropped", name);
            }
        }
    }
}
