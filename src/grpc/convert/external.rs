//! External sign-in: providers (AdminService), sign-ins and linked
//! identities (AuthService).

use super::{actor, bounded, timestamp};
use crate::app::{ExternalIdentity, ExternalLink, ExternalSignIn, LoginOutcome, ProviderCallback};
use crate::domain::{FieldViolation, Secret, SignInProviderInput, ValidationError, Validator};
use crate::proto as pb;
use crate::runtime::SignInProvider;

/// A provider as AdminService shows it: never its client secret.
pub fn provider_config(provider: SignInProvider) -> pb::SignInProviderConfig {
    pb::SignInProviderConfig {
        id: provider.id,
        display_name: provider.display_name,
        issuer_url: provider.issuer_url,
        client_id: provider.client_id,
        client_secret: String::new(),
        client_secret_set: !provider.client_secret.expose().is_empty(),
        scopes: provider.scopes,
        redirect_uris: provider.redirect_uris,
        link_by_email: provider.link_by_email,
        enabled: provider.enabled,
        create_time: Some(timestamp(provider.created_at)),
        update_time: Some(timestamp(provider.updated.at)),
        updated_by: Some(actor(&provider.updated.by_kind, provider.updated.by_id)),
    }
}

/// A parsed PutSignInProviderConfig request (checked by the use case).
pub fn put_provider(
    request: pb::PutSignInProviderConfigRequest,
) -> Result<SignInProviderInput, ValidationError> {
    let Some(provider) = request.provider else {
        return Err(FieldViolation::new("provider", "is required").into());
    };
    let mut v = Validator::new();
    let scopes = bounded(&mut v, "provider.scopes", &provider.scopes, 64).to_vec();
    let redirect_uris = bounded(
        &mut v,
        "provider.redirect_uris",
        &provider.redirect_uris,
        64,
    )
    .to_vec();
    v.finish_with(|| {
        Some(SignInProviderInput {
            id: provider.id,
            display_name: provider.display_name,
            issuer_url: provider.issuer_url,
            client_id: provider.client_id,
            client_secret: Secret::new(provider.client_secret),
            scopes,
            redirect_uris,
            link_by_email: provider.link_by_email,
            enabled: provider.enabled,
        })
    })
}

/// A parsed CompleteExternalSignIn request.
pub fn callback(
    request: pb::CompleteExternalSignInRequest,
) -> Result<ProviderCallback, FieldViolation> {
    let pb::CompleteExternalSignInRequest {
        state,
        code,
        error,
        error_description,
        user_agent,
    } = request;
    Ok(ProviderCallback {
        state: state.trim().to_owned(),
        code,
        error: error.trim().to_owned(),
        error_description,
        user_agent: super::auth::user_agent(&user_agent)?,
    })
}

/// A completed external sign-in as AuthService answers it.
pub fn sign_in(done: ExternalSignIn) -> pb::CompleteExternalSignInResponse {
    let link = match done.link {
        ExternalLink::Existing => pb::ExternalLink::Existing,
        ExternalLink::LinkedByEmail => pb::ExternalLink::LinkedByEmail,
        ExternalLink::SignedUp => pb::ExternalLink::SignedUp,
    };
    let mut response = pb::CompleteExternalSignInResponse {
        link: link.into(),
        provider_id: done.provider_id,
        ..Default::default()
    };
    match done.outcome {
        LoginOutcome::SignedIn(signed_in) => {
            response.session_token = signed_in.token;
            response.session = Some(signed_in.session.into());
            response.account_selection_required = signed_in.account_selection_required;
        }
        LoginOutcome::MfaRequired(challenge) => {
            response.mfa_challenge = Some(super::auth::challenge_out(challenge));
        }
    }
    response
}

/// A linked identity as AuthService shows it.
pub fn identity(identity: ExternalIdentity) -> pb::ExternalIdentity {
    pb::ExternalIdentity {
        id: identity.id,
        user_id: identity.user_id.to_string(),
        provider_id: identity.provider_id,
        subject: identity.subject,
        email: identity.email,
        create_time: Some(timestamp(identity.created_at)),
        last_sign_in_time: identity.last_sign_in_at.map(timestamp),
    }
}
