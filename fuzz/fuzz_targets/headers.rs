//! Any header bytes: the hop-by-hop filter leaves none behind (nor any header `Connection`
//! named), and the Host/Origin checks never panic.
#![no_main]

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;

const HOP: &[&str] = &[
    "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
    "te", "trailer", "transfer-encoding", "upgrade",
];

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    let mut named = Vec::new();
    for line in data.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(&line[colon + 1..]),
        ) else {
            continue;
        };
        if name == "connection" {
            if let Ok(v) = value.to_str() {
                named.extend(v.split(',').filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok()));
            }
        }
        if let Ok(text) = value.to_str() {
            let _ = devserve::fuzzing::host_allowed(text);
            let _ = devserve::fuzzing::origin_allowed(text, "localhost:8080");
        }
        headers.append(name, value);
    }
    devserve::fuzzing::strip_hop_by_hop(&mut headers);
    for name in HOP {
        assert!(!headers.contains_key(*name), "{name} survived");
    }
    for name in named {
        assert!(!headers.contains_key(&name), "{name} (named in Connection) survived");
    }
});
