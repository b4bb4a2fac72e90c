//! The first staff user, their full-access roles and an API credential, so a
//! fresh installation can be administered at all.

use crate::app::App;
use crate::app::authn::Principal;
use crate::app::blocks::audit::{Change, record_at};
use crate::app::blocks::new_user::{UserDraft, insert_user_at};
use crate::app::error::{AppError, Reason};
use crate::crypto::{ApiCredentialToken, hash_secret};
use crate::domain::{
    ApiCredentialId, Email, FullName, PermissionSet, RoleId, RoleKind, RoleName, Timestamp, UserId,
    UserStatus, Username, ValidationError,
};
use crate::store::{self, ConnectionTrait, StoreError, credentials::CredentialRow, roles::RoleRow};

/// The settings key written once the first bootstrap has happened.
const BOOTSTRAP_MARKER: &str = "bootstrap.completed";
const ADMIN_ROLE_NAME: &str = "Full Administrator";
const API_ROLE_NAME: &str = "Full Access API";

/// Who the bootstrap staff user is.
#[derive(Debug, Clone)]
pub struct BootstrapStaff {
    /// Their email address.
    pub email: Email,
    /// Their username.
    pub username: Username,
    /// Their full name.
    pub full_name: FullName,
}

impl BootstrapStaff {
    /// Parses the three fields, reporting every invalid one.
    pub fn parse(email: &str, username: &str, full_name: &str) -> Result<Self, ValidationError> {
        let parsed = (
            Email::parse("email", email),
            Username::parse("username", username),
            FullName::parse("full_name", full_name),
        );
        match parsed {
            (Ok(email), Ok(username), Ok(full_name)) => Ok(Self {
                email,
                username,
                full_name,
            }),
            (email, username, full_name) => Err(ValidationError {
                violations: [email.err(), username.err(), full_name.err()]
                    .into_iter()
                    .flatten()
                    .collect(),
            }),
        }
    }

    /// The staff user a first start creates: `admin`, at a reserved domain that
    /// can never receive mail, to be replaced by real staff.
    pub fn first_start() -> Self {
        // The literals are valid; a failure here would be a bug caught by tests.
        Self::parse(
            "admin@identityd.invalid",
            "admin",
            "Bootstrap Administrator",
        )
        .unwrap_or_else(|err| panic!("built-in bootstrap staff is invalid: {err}"))
    }
}

/// What bootstrap created.
#[derive(Debug, Clone)]
pub struct Bootstrapped {
    /// The staff user.
    pub staff_user_id: UserId,
    /// Their API credential.
    pub credential_id: ApiCredentialId,
    /// The credential's token, shown once.
    pub token: ApiCredentialToken,
}

/// Where the bootstrap token goes before the transaction commits, so that a
/// token that could not be kept never becomes a credential nobody can use.
pub trait TokenSink {
    /// Keeps the bearer token; an error rolls bootstrap back.
    fn keep(&mut self, bearer: &str) -> std::io::Result<()>;
    /// Throws the kept token away because the transaction did not commit.
    fn discard(&mut self);
}

impl App {
    /// Bootstraps a fresh installation: does nothing when bootstrap happened
    /// before or staff exist. Safe when several replicas start at once: one
    /// wins the marker row, the others see it and do nothing.
    pub async fn bootstrap_if_needed(
        &self,
        sink: &mut dyn TokenSink,
    ) -> Result<Option<Bootstrapped>, AppError> {
        if store::settings::get(self.db(), BOOTSTRAP_MARKER)
            .await?
            .is_some()
            || store::users::any_staff(self.db()).await?
        {
            return Ok(None);
        }
        let now = self.now();
        let txn = store::begin(self.db()).await?;
        match store::settings::insert_new(&txn, BOOTSTRAP_MARKER, "serve", now.as_micros()).await {
            Ok(()) => {}
            Err(err @ StoreError::UniqueViolation(_)) => {
                tracing::debug!(error = %err, "another replica bootstrapped first");
                return Ok(None);
            }
            Err(err) => return Err(err.into()),
        }
        let created =
            create_staff_with_credential(&txn, now, BootstrapStaff::first_start()).await?;
        finish(self, txn, created, sink).await.map(Some)
    }

    /// Gives the operator a full-access API credential whatever exists
    /// already: their way in when every credential is lost.
    ///
    /// When a staff user with this username and email address exists (as the
    /// first start's `admin` does), they get full access back, are activated
    /// if suspended, and receive a new credential; so a bare
    /// `identityd bootstrap` works at any time. Otherwise a new staff user is
    /// created. A username or address held by someone else is refused
    /// (`USERNAME_TAKEN`, `EMAIL_TAKEN`), and so is an existing user who is
    /// not staff (`NOT_STAFF`): the command never turns a client user into staff.
    pub async fn bootstrap(
        &self,
        staff: BootstrapStaff,
        sink: &mut dyn TokenSink,
    ) -> Result<Bootstrapped, AppError> {
        let now = self.now();
        let txn = store::begin(self.db()).await?;
        if store::settings::get(&txn, BOOTSTRAP_MARKER)
            .await?
            .is_none()
        {
            store::settings::insert_new(&txn, BOOTSTRAP_MARKER, "cli", now.as_micros()).await?;
        }
        let existing = store::users::find_by_username(&txn, &staff.username.normalized()).await?;
        let created = match existing {
            None => create_staff_with_credential(&txn, now, staff).await?,
            Some(user) if user.email_normalized != staff.email.normalized() => {
                return Err(AppError::AlreadyExists(Reason::UsernameTaken));
            }
            Some(user) if user.admin_role_id.is_none() => {
                return Err(AppError::FailedPrecondition(Reason::NotStaff));
            }
            Some(user) => restore_staff_with_credential(&txn, now, user).await?,
        };
        finish(self, txn, created, sink).await
    }
}

/// Gives an existing staff user the full-access admin role and active status
/// back, each change recorded at `now`, and a new credential.
async fn restore_staff_with_credential(
    txn: &impl ConnectionTrait,
    now: Timestamp,
    user: store::users::UserRow,
) -> Result<Bootstrapped, AppError> {
    let system = Principal::system("bootstrap");
    let admin_role = full_access_role(txn, now, &system, RoleKind::Admin, ADMIN_ROLE_NAME).await?;
    let api_role = full_access_role(txn, now, &system, RoleKind::Api, API_ROLE_NAME).await?;
    let user_id = user.id;
    if user.admin_role_id != Some(admin_role) {
        store::users::set_admin_role(txn, user_id, Some(admin_role), now.as_micros()).await?;
        record_at(
            txn,
            &system,
            now,
            Change::new("staff.role_assigned", "user", user_id).detail("admin_role_id", admin_role),
        )
        .await?;
    }
    if user.status != UserStatus::Active {
        store::users::set_status(txn, user_id, UserStatus::Active, now.as_micros()).await?;
        record_at(
            txn,
            &system,
            now,
            Change::new("user.activated", "user", user_id).detail("reason", "identityd bootstrap"),
        )
        .await?;
    }
    issue_credential(txn, now, &system, user_id, api_role).await
}

async fn finish(
    app: &App,
    txn: store::DatabaseTransaction,
    created: Bootstrapped,
    sink: &mut dyn TokenSink,
) -> Result<Bootstrapped, AppError> {
    sink.keep(&created.token.bearer())
        .map_err(|e| AppError::Internal(Box::new(e)))?;
    if let Err(err) = app.commit(txn).await {
        sink.discard();
        return Err(err.into());
    }
    Ok(created)
}

async fn create_staff_with_credential(
    txn: &impl ConnectionTrait,
    now: Timestamp,
    staff: BootstrapStaff,
) -> Result<Bootstrapped, AppError> {
    let system = Principal::system("bootstrap");
    let admin_role = full_access_role(txn, now, &system, RoleKind::Admin, ADMIN_ROLE_NAME).await?;
    let api_role = full_access_role(txn, now, &system, RoleKind::Api, API_ROLE_NAME).await?;

    let user_id = UserId::generate();
    let draft = UserDraft {
        email: staff.email,
        username: staff.username.clone(),
        full_name: staff.full_name,
        photo_url: None,
        locale: None,
        status: UserStatus::Active,
        password_hash: None,
        admin_role_id: Some(admin_role),
    };
    insert_user_at(txn, user_id, draft, now).await?;
    record_at(
        txn,
        &system,
        now,
        Change::new("staff_user.created", "user", user_id)
            .detail("username", staff.username.as_str())
            .detail("admin_role_id", admin_role),
    )
    .await?;
    issue_credential(txn, now, &system, user_id, api_role).await
}

/// A new full-access API credential for `user_id`, recorded as created.
async fn issue_credential(
    txn: &impl ConnectionTrait,
    now: Timestamp,
    system: &Principal,
    user_id: UserId,
    api_role: RoleId,
) -> Result<Bootstrapped, AppError> {
    let credential_id = ApiCredentialId::generate();
    let token = ApiCredentialToken::generate();
    let credential = CredentialRow {
        id: credential_id,
        identifier: token.identifier.clone(),
        secret_hash: hash_secret(&token.secret),
        owner_user_id: user_id,
        // identityd creates it on the owner's behalf: the owner bounds it.
        created_by_user_id: Some(user_id),
        description: "Bootstrap credential".to_owned(),
        created_at: now.as_micros(),
        expires_at: None,
        revoked_at: None,
        last_used_at: None,
    };
    store::credentials::insert(txn, credential, &[api_role]).await?;
    record_at(
        txn,
        system,
        now,
        Change::new("api_credential.created", "api_credential", credential_id)
            .detail("identifier", &token.identifier)
            .detail("owner_user_id", user_id)
            .detail("role_ids", api_role),
    )
    .await?;
    Ok(Bootstrapped {
        staff_user_id: user_id,
        credential_id,
        token,
    })
}

/// The id of the full-access role of `kind` named `name`, created if missing.
async fn full_access_role(
    txn: &impl ConnectionTrait,
    now: Timestamp,
    system: &Principal,
    kind: RoleKind,
    name: &str,
) -> Result<RoleId, AppError> {
    let name = RoleName::parse("name", name)?;
    if let Some(existing) = store::roles::find_by_name(txn, kind, &name.normalized()).await?
        && existing.full_access
    {
        return Ok(existing.id);
    }
    let id = RoleId::generate();
    let row = RoleRow {
        id,
        kind,
        name: name.as_str().to_owned(),
        name_normalized: name.normalized(),
        description: "Every permission, including ones added later. Created by bootstrap."
            .to_owned(),
        permissions: PermissionSet::full_access().to_stored(),
        full_access: true,
        created_at: now.as_micros(),
        updated_at: now.as_micros(),
    };
    store::roles::insert(txn, row).await.map_err(|e| {
        crate::app::blocks::idempotency::conflict_as(e, "name", super::Reason::RoleNameTaken)
    })?;
    record_at(
        txn,
        system,
        now,
        Change::new("role.created", "role", id)
            .detail("name", name.as_str())
            .detail("kind", kind.as_str())
            .detail("permissions", "*"),
    )
    .await?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_first_start_staff_is_valid() {
        let staff = BootstrapStaff::first_start();
        assert_eq!(staff.username.as_str(), "admin");
        assert!(staff.email.as_str().ends_with(".invalid"));
    }

    #[test]
    fn every_invalid_bootstrap_field_is_reported() {
        let err = BootstrapStaff::parse("nope", "a", "").unwrap_err();
        let fields: Vec<&str> = err.violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, vec!["email", "username", "full_name"]);
    }
}
