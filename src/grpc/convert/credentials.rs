//! AdminService messages about API credentials.

use std::collections::BTreeSet;

use crate::app::{ApiCredential, ApiCredentialState, CredentialQuery, NewApiCredential};
use crate::domain::{Description, RoleId, UserId, ValidationError, Validator};
use crate::proto as pb;

use super::{bounded, filter_id, page_size, parse_timestamp, timestamp};

/// The longest API credential description.
const CREDENTIAL_DESCRIPTION_MAX: usize = 200;
/// The most API roles one credential carries.
const CREDENTIAL_ROLES_MAX: usize = 16;

fn credential_state(state: ApiCredentialState) -> pb::ApiCredentialState {
    match state {
        ApiCredentialState::Active => pb::ApiCredentialState::Active,
        ApiCredentialState::Expired => pb::ApiCredentialState::Expired,
        ApiCredentialState::Revoked => pb::ApiCredentialState::Revoked,
    }
}

impl From<ApiCredential> for pb::ApiCredential {
    fn from(credential: ApiCredential) -> Self {
        pb::ApiCredential {
            id: credential.id.to_string(),
            identifier: credential.identifier,
            owner_user_id: credential.owner_user_id.to_string(),
            created_by_user_id: credential.created_by_user_id.to_string(),
            description: credential.description,
            role_ids: credential
                .role_ids
                .iter()
                .map(ToString::to_string)
                .collect(),
            state: credential_state(credential.state).into(),
            create_time: Some(timestamp(credential.created_at)),
            expire_time: credential.expires_at.map(timestamp),
            revoke_time: credential.revoked_at.map(timestamp),
            last_use_time: credential.last_used_at.map(timestamp),
        }
    }
}

/// A parsed CreateApiCredential request.
pub fn create_api_credential(
    request: pb::CreateApiCredentialRequest,
) -> Result<NewApiCredential, ValidationError> {
    let pb::CreateApiCredentialRequest {
        owner_user_id,
        description,
        role_ids,
        expire_time,
    } = request;
    let mut v = Validator::new();
    let owner_user_id = v.check(UserId::parse("owner_user_id", &owner_user_id));
    let description = v.check(Description::parse(
        "description",
        &description,
        CREDENTIAL_DESCRIPTION_MAX,
    ));
    if role_ids.is_empty() {
        v.violation("role_ids", "needs at least one API role");
    }
    let mut parsed_roles = BTreeSet::new();
    let role_ids = bounded(&mut v, "role_ids", &role_ids, CREDENTIAL_ROLES_MAX);
    for (index, id) in role_ids.iter().enumerate() {
        if let Some(id) = v.check(RoleId::parse(&format!("role_ids[{index}]"), id)) {
            parsed_roles.insert(id);
        }
    }
    let expires_at = match expire_time {
        Some(t) => v.check(parse_timestamp("expire_time", &t)),
        None => None,
    };
    v.finish_with(|| {
        Some(NewApiCredential {
            owner_user_id: owner_user_id?,
            description: description?,
            role_ids: parsed_roles,
            expires_at,
        })
    })
}

/// A parsed ListApiCredentials request.
pub fn list_api_credentials(
    request: pb::ListApiCredentialsRequest,
) -> Result<CredentialQuery, ValidationError> {
    let pb::ListApiCredentialsRequest {
        page_size: size,
        page_token,
        owner_user_id,
        state,
        created_by_user_id,
    } = request;
    let mut v = Validator::new();
    let page_size = page_size(&mut v, size);
    let owner_user_id = filter_id(&mut v, &owner_user_id, |s| {
        UserId::parse("owner_user_id", s)
    });
    let created_by_user_id = filter_id(&mut v, &created_by_user_id, |s| {
        UserId::parse("created_by_user_id", s)
    });
    let state = match pb::ApiCredentialState::try_from(state) {
        Ok(pb::ApiCredentialState::Unspecified) => None,
        Ok(pb::ApiCredentialState::Active) => Some(ApiCredentialState::Active),
        Ok(pb::ApiCredentialState::Expired) => Some(ApiCredentialState::Expired),
        Ok(pb::ApiCredentialState::Revoked) => Some(ApiCredentialState::Revoked),
        Err(_) => {
            v.violation("state", "is not a known credential state");
            None
        }
    };
    v.finish()?;
    Ok(CredentialQuery {
        owner_user_id,
        created_by_user_id,
        state,
        page_size,
        page_token,
    })
}
