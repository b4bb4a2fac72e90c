//! A real, certified OpenID provider for the external sign-in tests: the npm
//! package `oidc-provider`, run by Node.js from `tests/oidc/provider.mjs`,
//! and the person's part at it (the browser step) scripted over HTTP.
//!
//! Found through `IDENTITYD_TEST_NODE` (else `node` on the PATH) and
//! `IDENTITYD_TEST_OIDC_PROVIDER` (else the copy `bash .ci/run --tools-only`
//! installs under `$HOME/.cache/identityd-tools/oidc`). Without them the
//! tests that need a provider print why and pass without running; with
//! `IDENTITYD_TEST_OIDC_PROVIDER` set, a provider that does not start fails
//! the test.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use openidconnect::reqwest;

/// A running provider; it stops when dropped.
pub struct OidcProvider {
    /// Its issuer URL, `http://127.0.0.1:<port>`.
    pub issuer: String,
    child: Child,
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Who the person is at the provider.
pub struct Person<'a> {
    /// Their `sub`.
    pub subject: &'a str,
    /// Their email address.
    pub email: &'a str,
    /// Whether the provider verified it.
    pub email_verified: bool,
    /// Their name.
    pub name: &'a str,
}

/// The parameters the provider sent to the redirect URI.
#[derive(Debug, Default)]
pub struct Callback {
    /// `code`.
    pub code: String,
    /// `state`.
    pub state: String,
    /// `error`.
    pub error: String,
}

/// The client ids and secrets `provider.mjs` registers.
pub const CLIENT_ID: &str = "identityd";
pub const CLIENT_SECRET: &str = "identityd-secret";
/// A client whose ID tokens the provider re-signs for another audience.
pub const MIXUP_CLIENT_ID: &str = "mixup";
pub const MIXUP_CLIENT_SECRET: &str = "mixup-secret";
/// The redirect URI every client may use.
pub const REDIRECT_URI: &str = "http://127.0.0.1/callback";

fn module_dir() -> Option<(PathBuf, bool)> {
    if let Ok(dir) = std::env::var("IDENTITYD_TEST_OIDC_PROVIDER") {
        return Some((PathBuf::from(dir), true));
    }
    let home = std::env::var("HOME").ok()?;
    let dir = PathBuf::from(home).join(".cache/identityd-tools/oidc/node_modules/oidc-provider");
    dir.join("package.json").exists().then_some((dir, false))
}

impl OidcProvider {
    /// Starts a provider on a free port, or `None` (with the reason
    /// printed) when Node.js or oidc-provider is not installed here.
    pub async fn start() -> Option<Self> {
        let Some((module, required)) = module_dir() else {
            eprintln!(
                "skipped: oidc-provider is not installed (run `bash .ci/run --tools-only`, or set IDENTITYD_TEST_OIDC_PROVIDER)"
            );
            return None;
        };
        let node = std::env::var("IDENTITYD_TEST_NODE").unwrap_or_else(|_| "node".to_owned());
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc/provider.mjs");
        let spawned = Command::new(&node)
            .arg(&script)
            .env("OIDC_PROVIDER_MODULE", &module)
            .env("PORT", "0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(error) if !required => {
                eprintln!("skipped: Node.js ({node}) does not run: {error}");
                return None;
            }
            Err(error) => panic!("Node.js ({node}) does not run: {error}"),
        };
        let stdout = child.stdout.take().expect("the provider's stdout");
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).map(|_| line)
        })
        .await
        .expect("read the provider's first line")
        .unwrap_or_default();
        let issuer = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .and_then(|v| v["issuer"].as_str().map(str::to_owned));
        match issuer {
            Some(issuer) => Some(Self { issuer, child }),
            None => {
                let _ = child.kill();
                assert!(
                    !required,
                    "the OpenID provider did not start (first line {line:?})"
                );
                eprintln!("skipped: the OpenID provider did not start (first line {line:?})");
                None
            }
        }
    }

    /// Stops the provider now (a provider that went down).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The person's part: opens `authorization_url`, signs in at the
    /// provider as `person` (or refuses, for `None`) and returns what the
    /// provider sends to the redirect URI.
    pub async fn authorize(
        &self,
        authorization_url: &str,
        person: Option<&Person<'_>>,
    ) -> Callback {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        // A fresh cookie jar each time: the provider's session cookie would
        // sign the next person in as this one.
        let mut cookies: BTreeMap<String, String> = BTreeMap::new();
        let mut url = authorization_url.to_owned();
        for hop in 0..6 {
            if url.starts_with(REDIRECT_URI) {
                return parse_callback(&url);
            }
            if hop == 1 {
                url = match person {
                    Some(p) => format!(
                        "{url}?sub={}&email={}&email_verified={}&name={}",
                        p.subject,
                        p.email,
                        p.email_verified,
                        p.name.replace(' ', "%20")
                    ),
                    None => format!("{url}?deny=1"),
                };
            }
            let cookie_header: Vec<String> =
                cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let response = http
                .get(&url)
                .header("cookie", cookie_header.join("; "))
                .send()
                .await
                .expect("the provider answers");
            for set in response.headers().get_all("set-cookie") {
                let text = set.to_str().unwrap_or_default();
                if let Some((name, value)) = text.split(';').next().and_then(|c| c.split_once('='))
                {
                    cookies.insert(name.trim().to_owned(), value.to_owned());
                }
            }
            let status = response.status();
            let location = response
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .map(str::to_owned);
            let Some(location) = location else {
                let body = response.text().await.unwrap_or_default();
                panic!("the provider answered {status} without a redirect at {url}: {body}");
            };
            url = if location.starts_with('/') {
                format!("{}{location}", self.issuer)
            } else {
                location
            };
        }
        panic!("the provider never sent the person back (last at {url})");
    }
}

fn parse_callback(url: &str) -> Callback {
    let parsed = url::Url::parse(url).expect("a callback URL");
    let mut callback = Callback::default();
    for (key, value) in parsed.query_pairs() {
        match key.as_ref() {
            "code" => callback.code = value.into_owned(),
            "state" => callback.state = value.into_owned(),
            "error" => callback.error = value.into_owned(),
            _ => {}
        }
    }
    callback
}
