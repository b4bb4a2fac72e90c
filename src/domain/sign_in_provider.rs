//! External OpenID Connect providers people may sign in through (WHMCS, or
//! any other certified provider): what an operator configures, and the
//! rules a configuration must pass before identityd trusts it.

use std::net::IpAddr;

use url::Url;

use super::text::bounded_text;
use super::{FieldViolation, Secret, ValidationError, Validator};

/// The longest provider id.
pub const PROVIDER_ID_MAX_CHARS: usize = 32;
/// The most redirect URIs one provider allows.
pub const REDIRECT_URIS_MAX: usize = 20;
/// The most scopes one provider asks for.
pub const SCOPES_MAX: usize = 20;
/// The longest URL identityd keeps (issuer, redirect URI).
pub const URL_MAX_CHARS: usize = 2048;
/// The scopes asked for when the operator names none.
pub const DEFAULT_SCOPES: [&str; 3] = ["openid", "email", "profile"];

/// A provider's configuration, as an operator sends it.
#[derive(Debug, Clone, Default)]
pub struct SignInProviderInput {
    /// The operator's name for it, used in requests (`whmcs`).
    pub id: String,
    /// What a sign-in page shows (`Sign in with WHMCS`).
    pub display_name: String,
    /// The issuer URL, where discovery starts.
    pub issuer_url: String,
    /// identityd's client id at the provider.
    pub client_id: String,
    /// The client secret; empty keeps the stored one.
    pub client_secret: Secret<String>,
    /// The scopes to ask for; empty asks for `openid email profile`.
    pub scopes: Vec<String>,
    /// The redirect URIs a sign-in may name.
    pub redirect_uris: Vec<String>,
    /// Whether a verified email address links to the user who has it.
    pub link_by_email: bool,
    /// Whether sign-ins may start.
    pub enabled: bool,
}

/// A checked provider configuration.
#[derive(Debug, Clone)]
pub struct SignInProviderSpec {
    /// The operator's name for it.
    pub id: String,
    /// What a sign-in page shows.
    pub display_name: String,
    /// The issuer URL, without a trailing slash.
    pub issuer_url: String,
    /// identityd's client id at the provider.
    pub client_id: String,
    /// The new client secret, if one was given.
    pub client_secret: Option<Secret<String>>,
    /// The scopes to ask for; `openid` always among them, first.
    pub scopes: Vec<String>,
    /// The redirect URIs a sign-in may name.
    pub redirect_uris: Vec<String>,
    /// Whether a verified email address links to the user who has it.
    pub link_by_email: bool,
    /// Whether sign-ins may start.
    pub enabled: bool,
}

impl SignInProviderSpec {
    /// Checks every field of `input`, reporting all problems at once under
    /// `prefix` (`provider.`).
    pub fn parse(prefix: &str, input: SignInProviderInput) -> Result<Self, ValidationError> {
        let field = |name: &str| format!("{prefix}{name}");
        let mut v = Validator::new();
        let id = v.check(parse_provider_id(&field("id"), &input.id));
        let display_name = v.check(bounded_text(
            &field("display_name"),
            &input.display_name,
            1,
            100,
        ));
        let issuer_url = v.check(parse_issuer(&field("issuer_url"), &input.issuer_url));
        let client_id = v.check(bounded_text(&field("client_id"), &input.client_id, 1, 255));
        let secret = input.client_secret.into_exposed();
        let client_secret = if secret.is_empty() {
            Some(None)
        } else if secret.chars().count() > 1024 || secret.chars().any(char::is_control) {
            v.check::<(), _>(Err(FieldViolation::new(
                field("client_secret"),
                "must have at most 1024 characters and no control characters",
            )));
            None
        } else {
            Some(Some(Secret::new(secret)))
        };
        let scopes = v.check(parse_scopes(&field("scopes"), &input.scopes));
        let redirect_uris = v.check(parse_redirect_uris(
            &field("redirect_uris"),
            &input.redirect_uris,
        ));
        v.finish_with(|| {
            Some(Self {
                id: id?,
                display_name: display_name?,
                issuer_url: issuer_url?,
                client_id: client_id?,
                client_secret: client_secret?,
                scopes: scopes?,
                redirect_uris: redirect_uris?,
                link_by_email: input.link_by_email,
                enabled: input.enabled,
            })
        })
    }
}

/// Checks a provider id: 1 to 32 of `a-z`, `0-9` and `-`, starting with a
/// letter or digit.
pub fn parse_provider_id(field: &str, value: &str) -> Result<String, FieldViolation> {
    let id = value.trim();
    let well_formed = !id.is_empty()
        && id.len() <= PROVIDER_ID_MAX_CHARS
        && !id.starts_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if well_formed {
        Ok(id.to_owned())
    } else {
        Err(FieldViolation::new(
            field,
            "must be 1 to 32 of a-z, 0-9 and -, starting with a letter or digit",
        ))
    }
}

/// Whether `url` may carry secrets: HTTPS, or HTTP to this machine (a
/// provider or app on loopback never crosses a network).
fn is_secure_transport(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => match url.host() {
            Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            None => false,
        },
        _ => false,
    }
}

/// Parses an absolute URL with no credentials or fragment, HTTPS unless on
/// loopback, of at most [`URL_MAX_CHARS`].
fn parse_secure_url(field: &str, value: &str) -> Result<Url, FieldViolation> {
    let value = value.trim();
    if value.is_empty() {
        return Err(FieldViolation::new(field, "is required"));
    }
    if value.chars().count() > URL_MAX_CHARS {
        return Err(FieldViolation::new(
            field,
            format!("must have at most {URL_MAX_CHARS} characters"),
        ));
    }
    let url =
        Url::parse(value).map_err(|_| FieldViolation::new(field, "must be an absolute URL"))?;
    if !is_secure_transport(&url) {
        return Err(FieldViolation::new(
            field,
            "must use https (http only to localhost or a loopback address)",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(FieldViolation::new(
            field,
            "must not carry credentials or a fragment",
        ));
    }
    Ok(url)
}

/// Parses an issuer URL: secure, with no query, kept without a trailing
/// slash (discovery appends `/.well-known/openid-configuration`).
fn parse_issuer(field: &str, value: &str) -> Result<String, FieldViolation> {
    let url = parse_secure_url(field, value)?;
    if url.query().is_some() {
        return Err(FieldViolation::new(field, "must not have a query"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Parses the redirect URIs: at least one, each secure, no repeats.
fn parse_redirect_uris(field: &str, values: &[String]) -> Result<Vec<String>, ValidationError> {
    if values.is_empty() {
        return Err(ValidationError::single(field, "needs at least one URI"));
    }
    if values.len() > REDIRECT_URIS_MAX {
        return Err(ValidationError::single(
            field,
            format!("may have at most {REDIRECT_URIS_MAX} URIs"),
        ));
    }
    let mut v = Validator::new();
    let mut uris: Vec<String> = Vec::new();
    for (i, value) in values.iter().enumerate() {
        if let Some(url) = v.check(parse_secure_url(&format!("{field}[{i}]"), value)) {
            // Compared as the caller wrote it: a redirect URI must match exactly.
            let uri = value.trim().to_owned();
            if url.as_str() != uri && url.as_str() != format!("{uri}/") {
                v.check::<(), _>(Err(FieldViolation::new(
                    format!("{field}[{i}]"),
                    format!("must be written in normal form: {url}"),
                )));
            } else if !uris.contains(&uri) {
                uris.push(uri);
            }
        }
    }
    v.finish()?;
    Ok(uris)
}

/// Parses the scopes: OAuth scope tokens, `openid` first and always there.
fn parse_scopes(field: &str, values: &[String]) -> Result<Vec<String>, ValidationError> {
    if values.len() > SCOPES_MAX {
        return Err(ValidationError::single(
            field,
            format!("may have at most {SCOPES_MAX} scopes"),
        ));
    }
    let mut scopes = vec!["openid".to_owned()];
    let asked: Vec<&str> = if values.is_empty() {
        DEFAULT_SCOPES.to_vec()
    } else {
        values.iter().map(|s| s.trim()).collect()
    };
    let mut v = Validator::new();
    for (i, scope) in asked.into_iter().enumerate() {
        // RFC 6749 section 3.3: printable ASCII but space, `"` and `\`.
        let well_formed = !scope.is_empty()
            && scope.len() <= 64
            && scope
                .bytes()
                .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\');
        if !well_formed {
            v.check::<(), _>(Err(FieldViolation::new(
                format!("{field}[{i}]"),
                "must be 1 to 64 printable ASCII characters without spaces, quotes or backslashes",
            )));
        } else if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    v.finish()?;
    Ok(scopes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> SignInProviderInput {
        SignInProviderInput {
            id: "whmcs".into(),
            display_name: "WHMCS".into(),
            issuer_url: "https://billing.example.com/oauth/".into(),
            client_id: "identityd".into(),
            client_secret: Secret::new("s3cret".into()),
            scopes: vec![],
            redirect_uris: vec!["https://app.example.com/callback".into()],
            link_by_email: false,
            enabled: true,
        }
    }

    fn fields(error: ValidationError) -> Vec<String> {
        error.violations.into_iter().map(|v| v.field).collect()
    }

    #[test]
    fn a_good_configuration_is_kept_in_normal_form() {
        let spec = SignInProviderSpec::parse("provider.", input()).unwrap();
        assert_eq!(spec.issuer_url, "https://billing.example.com/oauth");
        assert_eq!(spec.scopes, ["openid", "email", "profile"]);
        assert_eq!(spec.client_secret.unwrap().expose(), "s3cret");
    }

    #[test]
    fn openid_is_always_asked_for_first() {
        let mut asked = input();
        asked.scopes = vec!["email".into(), "openid".into(), "email".into()];
        let spec = SignInProviderSpec::parse("", asked).unwrap();
        assert_eq!(spec.scopes, ["openid", "email"]);
    }

    #[test]
    fn plain_http_is_refused_except_to_loopback() {
        let mut remote = input();
        remote.issuer_url = "http://billing.example.com".into();
        remote.redirect_uris = vec!["http://app.example.com/cb".into()];
        assert_eq!(
            fields(SignInProviderSpec::parse("p.", remote).unwrap_err()),
            ["p.issuer_url", "p.redirect_uris[0]"]
        );
        let mut local = input();
        local.issuer_url = "http://127.0.0.1:4000".into();
        local.redirect_uris = vec!["http://localhost/cb".into(), "http://[::1]:8080/cb".into()];
        assert!(SignInProviderSpec::parse("p.", local).is_ok());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let bad = SignInProviderInput {
            id: "-Bad".into(),
            display_name: " ".into(),
            issuer_url: "https://user:pw@example.com".into(),
            client_id: String::new(),
            client_secret: Secret::new("a\nb".into()),
            scopes: vec!["has space".into()],
            redirect_uris: vec![],
            link_by_email: true,
            enabled: true,
        };
        assert_eq!(
            fields(SignInProviderSpec::parse("", bad).unwrap_err()),
            [
                "id",
                "display_name",
                "issuer_url",
                "client_id",
                "client_secret",
                "scopes[0]",
                "redirect_uris"
            ]
        );
    }

    #[test]
    fn an_empty_secret_means_keep_the_stored_one() {
        let mut keep = input();
        keep.client_secret = Secret::new(String::new());
        assert!(
            SignInProviderSpec::parse("", keep)
                .unwrap()
                .client_secret
                .is_none()
        );
    }

    #[test]
    fn redirect_uris_must_be_in_normal_form_and_are_kept_once() {
        let mut odd = input();
        odd.redirect_uris = vec!["HTTPS://App.Example.com/cb".into()];
        assert_eq!(
            fields(SignInProviderSpec::parse("", odd).unwrap_err()),
            ["redirect_uris[0]"]
        );
        let mut twice = input();
        twice.redirect_uris = vec!["https://a.example/cb".into(), "https://a.example/cb".into()];
        assert_eq!(
            SignInProviderSpec::parse("", twice).unwrap().redirect_uris,
            ["https://a.example/cb"]
        );
    }
}
