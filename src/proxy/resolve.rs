//! Name resolution for backends: `localhost` is both loopback addresses.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use tower::Service;

/// Resolves `localhost` to both loopback addresses (IPv6 first, as Node ≥ 17 listens there) and
/// everything else through the system resolver.
#[derive(Clone)]
pub(crate) struct LoopbackResolver(GaiResolver);

impl LoopbackResolver {
    pub(crate) fn new(gai: GaiResolver) -> Self {
        LoopbackResolver(gai)
    }
}

type Addrs = std::vec::IntoIter<SocketAddr>;

impl Service<Name> for LoopbackResolver {
    type Response = Addrs;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Addrs, std::io::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, name: Name) -> Self::Future {
        if name.as_str().eq_ignore_ascii_case("localhost") {
            let addrs = vec![
                SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 0),
                SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            ];
            return Box::pin(std::future::ready(Ok(addrs.into_iter())));
        }
        let fut = self.0.call(name);
        Box::pin(async move { Ok(fut.await?.collect::<Vec<_>>().into_iter()) })
    }
}
