//! Sign-in through an external OpenID Connect provider, end to end against a
//! real certified provider (`oidc-provider` on Node.js; see
//! `oidc_provider.rs`): sign-up, linking by verified email, refusals for
//! unverified addresses, replayed state, a wrong nonce or audience, a
//! provider that refuses or is down, and who may see and unlink identities.
//! The configuration and validation tests need no provider.

use std::time::Duration;

use identityd::proto::{
    CompleteExternalSignInRequest, CompleteExternalSignInResponse, CompleteLoginRequest,
    DeleteSignInProviderConfigRequest, ExportUserRequest, ExternalLink, GetUserRequest,
    ListExternalIdentitiesRequest, ListSignInProviderConfigsRequest, ListSignInProvidersRequest,
    PutSignInProviderConfigRequest, SignInProviderConfig, StartExternalSignInRequest,
    StartExternalSignInResponse, SuspendUserRequest, UnlinkExternalIdentityRequest, UserStatus,
};
use tonic::Code;

use crate::helpers::{TestApp, assert_error, hold_mail, rows_in, spawn_app_with, violated_fields};
use crate::oidc_provider::{
    CLIENT_ID, CLIENT_SECRET, MIXUP_CLIENT_ID, MIXUP_CLIENT_SECRET, OidcProvider, Person,
    REDIRECT_URI,
};
use crate::people::{active_user, enable_totp, session_of, unix_seconds};
use crate::smtp_sink::unused_port;

async fn spawn() -> TestApp {
    spawn_app_with(hold_mail).await
}

/// A real provider and a server, or `None` (the reason printed) where
/// Node.js or oidc-provider is missing.
async fn provider_and_app() -> Option<(OidcProvider, TestApp)> {
    let provider = OidcProvider::start().await?;
    Some((provider, spawn().await))
}

fn config(id: &str, issuer: &str) -> SignInProviderConfig {
    SignInProviderConfig {
        id: id.to_owned(),
        display_name: "Sign in with WHMCS".to_owned(),
        issuer_url: issuer.to_owned(),
        client_id: CLIENT_ID.to_owned(),
        client_secret: CLIENT_SECRET.to_owned(),
        redirect_uris: vec![REDIRECT_URI.to_owned()],
        enabled: true,
        ..Default::default()
    }
}

async fn put(
    app: &TestApp,
    provider: SignInProviderConfig,
) -> Result<SignInProviderConfig, tonic::Status> {
    app.admin
        .clone()
        .put_sign_in_provider_config(PutSignInProviderConfigRequest {
            provider: Some(provider),
        })
        .await
        .map(|r| r.into_inner().provider.expect("the provider"))
}

async fn start(app: &TestApp, provider_id: &str) -> StartExternalSignInResponse {
    app.auth_public()
        .start_external_sign_in(StartExternalSignInRequest {
            provider_id: provider_id.to_owned(),
            redirect_uri: REDIRECT_URI.to_owned(),
        })
        .await
        .expect("start an external sign-in")
        .into_inner()
}

async fn complete(
    app: &TestApp,
    state: &str,
    code: &str,
    error: &str,
) -> Result<CompleteExternalSignInResponse, tonic::Status> {
    app.auth_public()
        .complete_external_sign_in(CompleteExternalSignInRequest {
            state: state.to_owned(),
            code: code.to_owned(),
            error: error.to_owned(),
            user_agent: "browser".to_owned(),
            ..Default::default()
        })
        .await
        .map(tonic::Response::into_inner)
}

fn person<'a>(subject: &'a str, email: &'a str, email_verified: bool) -> Person<'a> {
    Person {
        subject,
        email,
        email_verified,
        name: "Ada Lovelace",
    }
}

/// One whole sign-in as `who`: start, the person's part, complete.
async fn sign_in_as(
    app: &TestApp,
    provider: &OidcProvider,
    provider_id: &str,
    who: &Person<'_>,
) -> Result<CompleteExternalSignInResponse, tonic::Status> {
    let started = start(app, provider_id).await;
    let back = provider
        .authorize(&started.authorization_url, Some(who))
        .await;
    assert_eq!(back.state, started.state, "the provider echoes the state");
    complete(app, &back.state, &back.code, &back.error).await
}

async fn identities_of(app: &TestApp, user_id: &str) -> usize {
    app.auth
        .clone()
        .list_external_identities(ListExternalIdentitiesRequest {
            user_id: user_id.to_owned(),
        })
        .await
        .expect("list identities")
        .into_inner()
        .identities
        .len()
}

#[tokio::test]
async fn a_new_person_signs_up_through_the_provider_and_comes_back_linked() {
    let Some((provider, app)) = provider_and_app().await else {
        return;
    };
    let stored = put(&app, config("whmcs", &provider.issuer))
        .await
        .expect("put");
    assert!(stored.client_secret.is_empty() && stored.client_secret_set);
    assert_eq!(stored.scopes, ["openid", "email", "profile"]);

    let ada = person("ada-1", "ada@example.test", true);
    let started = start(&app, "whmcs").await;
    assert!(started.state.starts_with("idx_"));
    assert!(
        started
            .authorization_url
            .starts_with(&format!("{}/auth?", provider.issuer))
    );
    for must in ["code_challenge_method=S256", "nonce=", "state=idx_"] {
        assert!(started.authorization_url.contains(must), "{must}");
    }
    let back = provider
        .authorize(&started.authorization_url, Some(&ada))
        .await;
    let first = complete(&app, &back.state, &back.code, "")
        .await
        .expect("first sign-in");
    assert_eq!(first.link(), ExternalLink::SignedUp);
    assert_eq!(first.provider_id, "whmcs");
    let session = first.session.expect("a session");
    assert_eq!(session.authentication_methods, ["external"]);
    assert!(!first.session_token.is_empty());
    assert!(
        !first.account_selection_required,
        "bound to the new primary account"
    );
    assert!(!session.account_id.is_empty());

    let user = app
        .users
        .clone()
        .get_user(GetUserRequest {
            user_id: session.user_id.clone(),
        })
        .await
        .expect("get the new user")
        .into_inner()
        .user
        .expect("a user");
    assert_eq!(
        user.status(),
        UserStatus::Active,
        "the provider verified the address"
    );
    assert_eq!(user.email, "ada@example.test");
    assert_eq!(user.full_name, "Ada Lovelace");
    assert!(!user.has_password);
    assert_eq!(
        user.primary_account_id, session.account_id,
        "its primary account"
    );
    let document = app
        .users
        .clone()
        .export_user(ExportUserRequest {
            user_id: session.user_id.clone(),
        })
        .await
        .expect("export")
        .into_inner()
        .document;
    let exported: serde_json::Value = serde_json::from_str(&document).expect("JSON");
    assert_eq!(exported["external_identities"][0]["provider_id"], "whmcs");
    assert_eq!(exported["external_identities"][0]["subject"], "ada-1");

    // The state works once, whatever the outcome.
    let replay = complete(&app, &back.state, &back.code, "")
        .await
        .expect_err("replay");
    assert_error(&replay, Code::Unauthenticated, "EXTERNAL_STATE_INVALID");

    // Next time the link signs the same user in.
    let again = sign_in_as(&app, &provider, "whmcs", &ada)
        .await
        .expect("again");
    assert_eq!(again.link(), ExternalLink::Existing);
    assert_eq!(again.session.expect("a session").user_id, session.user_id);

    // The user sees their identity, and cannot remove their only way in.
    let own = app.auth_as(&first.session_token);
    let listed = own
        .clone()
        .list_external_identities(ListExternalIdentitiesRequest::default())
        .await
        .expect("own identities")
        .into_inner()
        .identities;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].provider_id.as_str(), listed[0].subject.as_str()),
        ("whmcs", "ada-1")
    );
    let last = own
        .clone()
        .unlink_external_identity(UnlinkExternalIdentityRequest {
            identity_id: listed[0].id.clone(),
        })
        .await
        .expect_err("the last way in");
    assert_error(&last, Code::FailedPrecondition, "LAST_SIGN_IN_METHOD");

    // Another user neither sees nor removes it.
    active_user(&app, "mallory").await;
    let mallory = app.auth_as(&session_of(&app, "mallory").await);
    let peek = mallory
        .clone()
        .list_external_identities(ListExternalIdentitiesRequest {
            user_id: session.user_id.clone(),
        })
        .await
        .expect_err("someone else's");
    assert_eq!(peek.code(), Code::PermissionDenied);
    let cut = mallory
        .clone()
        .unlink_external_identity(UnlinkExternalIdentityRequest {
            identity_id: listed[0].id.clone(),
        })
        .await
        .expect_err("someone else's");
    assert_error(&cut, Code::NotFound, "EXTERNAL_IDENTITY_NOT_FOUND");
}

#[tokio::test]
async fn a_verified_address_links_to_its_user_only_when_the_provider_allows_it() {
    let Some((provider, app)) = provider_and_app().await else {
        return;
    };
    let grace = active_user(&app, "grace").await;
    put(&app, config("whmcs", &provider.issuer))
        .await
        .expect("put");
    let at_provider = person("grace-at-whmcs", &grace.email, true);

    let refused = sign_in_as(&app, &provider, "whmcs", &at_provider)
        .await
        .expect_err("linking by email is off");
    assert_error(&refused, Code::FailedPrecondition, "EXTERNAL_LINK_REQUIRED");
    assert_eq!(identities_of(&app, &grace.id).await, 0);

    let mut linking = config("whmcs", &provider.issuer);
    linking.link_by_email = true;
    linking.client_secret = String::new(); // keeps the stored one
    put(&app, linking).await.expect("allow linking by email");
    let linked = sign_in_as(&app, &provider, "whmcs", &at_provider)
        .await
        .expect("linked");
    assert_eq!(linked.link(), ExternalLink::LinkedByEmail);
    assert_eq!(linked.session.expect("a session").user_id, grace.id);
    assert_eq!(identities_of(&app, &grace.id).await, 1);

    // Grace has a password, so she may unlink it herself.
    let own = app.auth_as(&session_of(&app, "grace").await);
    let id = own
        .clone()
        .list_external_identities(ListExternalIdentitiesRequest::default())
        .await
        .expect("own identities")
        .into_inner()
        .identities[0]
        .id
        .clone();
    own.clone()
        .unlink_external_identity(UnlinkExternalIdentityRequest { identity_id: id })
        .await
        .expect("unlink");
    assert_eq!(identities_of(&app, &grace.id).await, 0);
}

#[tokio::test]
async fn an_unverified_address_neither_signs_up_nor_links_anyone() {
    let Some((provider, app)) = provider_and_app().await else {
        return;
    };
    let victim = active_user(&app, "victim").await;
    let mut linking = config("whmcs", &provider.issuer);
    linking.link_by_email = true;
    put(&app, linking).await.expect("put");
    let users_before = rows_in(&app, "users").await;

    // An address the provider did not verify: someone else's, or a new one.
    for email in [victim.email.as_str(), "newcomer@example.test"] {
        let claimed = person("impostor", email, false);
        let refused = sign_in_as(&app, &provider, "whmcs", &claimed)
            .await
            .expect_err("unverified");
        assert_error(
            &refused,
            Code::FailedPrecondition,
            "EXTERNAL_EMAIL_UNVERIFIED",
        );
    }
    assert_eq!(rows_in(&app, "users").await, users_before);
    assert_eq!(rows_in(&app, "external_identities").await, 0);
}

#[tokio::test]
async fn a_wrong_nonce_or_audience_is_refused_and_creates_nothing() {
    let Some((provider, app)) = provider_and_app().await else {
        return;
    };
    put(&app, config("whmcs", &provider.issuer))
        .await
        .expect("put");
    let mut mixup = config("mixup", &provider.issuer);
    mixup.client_id = MIXUP_CLIENT_ID.to_owned();
    mixup.client_secret = MIXUP_CLIENT_SECRET.to_owned();
    put(&app, mixup).await.expect("put the mix-up client");
    let users_before = rows_in(&app, "users").await;
    let ada = person("ada-1", "ada@example.test", true);

    // The browser swapped the nonce: the ID token carries another one.
    let started = start(&app, "whmcs").await;
    let url = url::Url::parse(&started.authorization_url).expect("a URL");
    let swapped: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "nonce" {
                "attacker-nonce".into()
            } else {
                v
            };
            (k.into_owned(), v.into_owned())
        })
        .collect();
    let mut tampered = url.clone();
    tampered.query_pairs_mut().clear().extend_pairs(swapped);
    let back = provider.authorize(tampered.as_str(), Some(&ada)).await;
    let refused = complete(&app, &back.state, &back.code, "")
        .await
        .expect_err("nonce");
    assert_error(&refused, Code::Unauthenticated, "EXTERNAL_TOKEN_INVALID");

    // A token minted for another client (valid signature, wrong audience).
    let refused = sign_in_as(&app, &provider, "mixup", &ada)
        .await
        .expect_err("audience");
    assert_error(&refused, Code::Unauthenticated, "EXTERNAL_TOKEN_INVALID");
    let details = tonic_types::StatusExt::get_error_details(&refused);
    let said = details
        .error_info()
        .and_then(|info| info.metadata.get("provider_error").cloned())
        .unwrap_or_default();
    assert!(said.to_lowercase().contains("audience"), "{said}");

    assert_eq!(rows_in(&app, "users").await, users_before);
    assert_eq!(rows_in(&app, "external_identities").await, 0);
}

#[tokio::test]
async fn a_refusal_at_the_provider_or_a_provider_that_is_down_fails_cleanly() {
    let Some((mut provider, app)) = provider_and_app().await else {
        return;
    };
    put(&app, config("whmcs", &provider.issuer))
        .await
        .expect("put");

    // The person said no at the provider.
    let started = start(&app, "whmcs").await;
    let back = provider.authorize(&started.authorization_url, None).await;
    assert_eq!(back.error, "access_denied");
    let refused = complete(&app, &back.state, "", &back.error)
        .await
        .expect_err("denied");
    assert_error(&refused, Code::Unauthenticated, "EXTERNAL_PROVIDER_REFUSED");

    // The provider goes down between the redirect and the code exchange.
    let started = start(&app, "whmcs").await;
    let back = provider
        .authorize(
            &started.authorization_url,
            Some(&person("ada-1", "ada@example.test", true)),
        )
        .await;
    provider.stop();
    let down = complete(&app, &back.state, &back.code, "")
        .await
        .expect_err("down");
    assert_error(&down, Code::Unavailable, "EXTERNAL_PROVIDER_UNAVAILABLE");
    assert_eq!(rows_in(&app, "external_identities").await, 0);

    // A provider nobody answers for is not saved while enabled.
    let nowhere = format!("http://127.0.0.1:{}", unused_port());
    let unsaved = put(&app, config("nowhere", &nowhere))
        .await
        .expect_err("unreachable");
    assert_error(
        &unsaved,
        Code::FailedPrecondition,
        "EXTERNAL_PROVIDER_UNAVAILABLE",
    );

    let failures = app
        .admin
        .clone()
        .list_activity(identityd::proto::ListActivityRequest {
            action: "auth.external_sign_in_failed".into(),
            ..Default::default()
        })
        .await
        .expect("activity")
        .into_inner()
        .events;
    assert_eq!(failures.len(), 2, "the refusal and the outage");
}

#[tokio::test]
async fn provider_configuration_is_checked_guarded_and_never_shows_the_secret() {
    let app = spawn().await;
    let bad = SignInProviderConfig {
        id: "Bad Id".into(),
        issuer_url: "http://billing.example.com".into(),
        redirect_uris: vec!["ftp://x".into()],
        ..Default::default()
    };
    let refused = put(&app, bad).await.expect_err("bad");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&refused),
        [
            "provider.id",
            "provider.display_name",
            "provider.issuer_url",
            "provider.client_id",
            "provider.redirect_uris[0]",
        ]
    );
    let mut no_secret = config("whmcs", "https://billing.example.com");
    no_secret.client_secret = String::new();
    no_secret.enabled = false;
    let refused = put(&app, no_secret)
        .await
        .expect_err("a new provider needs a secret");
    assert_eq!(violated_fields(&refused), ["provider.client_secret"]);

    // Disabled, it is stored without asking the provider anything.
    let mut off = config("whmcs", "https://billing.example.com");
    off.enabled = false;
    put(&app, off).await.expect("store a disabled provider");
    let listed = app
        .admin
        .clone()
        .list_sign_in_provider_configs(ListSignInProviderConfigsRequest {})
        .await
        .expect("list")
        .into_inner()
        .providers;
    assert_eq!(listed.len(), 1);
    assert!(listed[0].client_secret.is_empty() && listed[0].client_secret_set);
    let public = app
        .auth_public()
        .list_sign_in_providers(ListSignInProvidersRequest {})
        .await
        .expect("public list")
        .into_inner()
        .providers;
    assert!(public.is_empty(), "a disabled provider is not offered");
    let closed = app
        .auth_public()
        .start_external_sign_in(StartExternalSignInRequest {
            provider_id: "whmcs".into(),
            redirect_uri: REDIRECT_URI.into(),
        })
        .await
        .expect_err("disabled");
    assert_error(&closed, Code::NotFound, "SIGN_IN_PROVIDER_NOT_FOUND");
    let garbage = complete(&app, "idx_nope", "code", "")
        .await
        .expect_err("garbage");
    assert_error(&garbage, Code::Unauthenticated, "EXTERNAL_STATE_INVALID");

    // Only settings.write may change providers.
    let (reader, _) = app.staff_token_with("reader", &["settings.read"]).await;
    let denied = app
        .client(&reader)
        .delete_sign_in_provider_config(DeleteSignInProviderConfigRequest {
            provider_id: "whmcs".into(),
        })
        .await
        .expect_err("read only");
    assert_eq!(denied.code(), Code::PermissionDenied);
    app.admin
        .clone()
        .delete_sign_in_provider_config(DeleteSignInProviderConfigRequest {
            provider_id: "whmcs".into(),
        })
        .await
        .expect("delete");
    let gone = app
        .admin
        .clone()
        .delete_sign_in_provider_config(DeleteSignInProviderConfigRequest {
            provider_id: "whmcs".into(),
        })
        .await
        .expect_err("gone");
    assert_error(&gone, Code::NotFound, "SIGN_IN_PROVIDER_NOT_FOUND");
}

#[tokio::test]
async fn a_redirect_uri_off_the_list_is_refused() {
    let Some((provider, app)) = provider_and_app().await else {
        return;
    };
    put(&app, config("whmcs", &provider.issuer))
        .await
        .expect("put");
    let refused = app
        .auth_public()
        .start_external_sign_in(StartExternalSignInRequest {
            provider_id: "whmcs".into(),
            redirect_uri: "https://evil.example/callback".into(),
        })
        .await
        .expect_err("off the list");
    assert_eq!(violated_fields(&refused), ["redirect_uri"]);
    let offered = app
        .auth_public()
        .list_sign_in_providers(ListSignInProvidersRequest {})
        .await
        .expect("public list")
        .into_inner()
        .providers;
    assert_eq!(offered.len(), 1);
    assert_eq!(offered[0].display_name, "Sign in with WHMCS");
}

#[tokio::test]
async fn a_two_factor_user_still_owes_the_second_factor_and_a_suspended_one_gets_nothing() {
    let Some((provider, app)) = provider_and_app().await else {
        return;
    };
    let tess = active_user(&app, "tess").await;
    let mut linking = config("whmcs", &provider.issuer);
    linking.link_by_email = true;
    put(&app, linking).await.expect("put");
    let authenticator = enable_totp(&app, "tess").await;

    let at_provider = person("tess-at-whmcs", &tess.email, true);
    let answered = sign_in_as(&app, &provider, "whmcs", &at_provider)
        .await
        .expect("a challenge");
    assert!(answered.session_token.is_empty() && answered.session.is_none());
    let challenge = answered.mfa_challenge.expect("a challenge").challenge_token;
    app.clock.advance(Duration::from_secs(31));
    let signed_in = app
        .auth_public()
        .complete_login(CompleteLoginRequest {
            challenge_token: challenge,
            code: authenticator.generate(unix_seconds(&app)),
            user_agent: "browser".into(),
            device_token: String::new(),
        })
        .await
        .expect("the second factor")
        .into_inner();
    let session = signed_in.session.expect("a session");
    assert_eq!(session.authentication_methods, ["external", "otp"]);
    assert_eq!(session.user_id, tess.id);

    app.users
        .clone()
        .suspend_user(SuspendUserRequest {
            user_id: tess.id.clone(),
            reason: "chargeback".into(),
        })
        .await
        .expect("suspend");
    let refused = sign_in_as(&app, &provider, "whmcs", &at_provider)
        .await
        .expect_err("suspended");
    assert_error(&refused, Code::Unauthenticated, "LOGIN_FAILED");
}
