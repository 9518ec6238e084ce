//! The HTTP client providers are called with, as the OpenID Connect flows take it: no redirect
//! followed, ten seconds a call, at most [`MAX_ANSWER`] read of an answer. For an
//! organization's own provider, whose addresses its admin gives (the issuer, then every
//! endpoint its discovery document names), it goes through the webhooks' guard: names resolve
//! only to addresses the guard passes, and an address written in a URL, which no resolver
//! sees, is checked here before the call.

use std::future::Future;
use std::pin::Pin;

use openidconnect::http;
use openidconnect::{AsyncHttpClient, HttpClientError, HttpRequest, HttpResponse};
use url::Host;

use crate::webhooks::guard::Guard;

/// The most of one answer that is read (a discovery document, a key set, a token answer).
const MAX_ANSWER: usize = 256 * 1024;

/// A client for providers; see the module's documentation.
#[derive(Clone, Debug)]
pub struct Http {
    pub(super) client: reqwest::Client,
    guard: Option<Guard>,
}

type Failure = HttpClientError<reqwest::Error>;

impl Http {
    pub(super) fn new(client: reqwest::Client, guard: Option<Guard>) -> Self {
        Self { client, guard }
    }

    /// Refuses a URL whose host is an address the guard does not pass, or that is not https
    /// where the guard allows only public addresses (a secret or a code must not cross the
    /// internet in the clear).
    fn check(&self, uri: &http::Uri) -> Result<(), Failure> {
        let Some(guard) = self.guard else { return Ok(()) };
        if !guard.allows_private() && uri.scheme_str() != Some("https") {
            return Err(HttpClientError::Other("the provider's endpoints must be https".into()));
        }
        let host = uri.host().unwrap_or_default();
        let ip = match Host::parse(host) {
            Ok(Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
            Ok(Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
            _ => None,
        };
        match ip.filter(|ip| !guard.allows(*ip)) {
            Some(ip) => Err(HttpClientError::Other(format!("{ip} is not a public address"))),
            None => Ok(()),
        }
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, Failure> {
        self.check(request.uri())?;
        let request: reqwest::Request = request.try_into().map_err(Box::new)?;
        let mut response = self.client.execute(request).await.map_err(Box::new)?;
        let mut answer = http::Response::builder().status(response.status()).version(response.version());
        for (name, value) in response.headers() {
            answer = answer.header(name, value);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(Box::new)? {
            if body.len() + chunk.len() > MAX_ANSWER {
                return Err(HttpClientError::Other("the answer is larger than 256 KiB".into()));
            }
            body.extend_from_slice(&chunk);
        }
        answer.body(body).map_err(HttpClientError::Http)
    }
}

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = Failure;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Failure>> + Send + Sync + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(text: &str) -> http::Uri {
        text.parse().unwrap()
    }

    #[test]
    fn an_address_written_in_a_url_passes_the_guard_or_is_refused_before_any_call() {
        let guarded = Http::new(reqwest::Client::new(), Some(Guard::new(false)));
        for refused in [
            "http://169.254.169.254/latest",
            "https://127.0.0.1:8443/token",
            "https://[::1]/jwks",
            "http://93.184.215.14/",
        ] {
            assert!(guarded.check(&uri(refused)).is_err(), "{refused}");
        }
        for passed in ["https://93.184.215.14/token", "https://login.example.com/jwks"] {
            assert!(guarded.check(&uri(passed)).is_ok(), "{passed}");
        }
        // The operator's own providers, and a guard that allows private addresses, check nothing.
        let open = Http::new(reqwest::Client::new(), None);
        assert!(open.check(&uri("http://127.0.0.1/token")).is_ok());
        let private = Http::new(reqwest::Client::new(), Some(Guard::new(true)));
        assert!(private.check(&uri("http://127.0.0.1/token")).is_ok());
    }
}
