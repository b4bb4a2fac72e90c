//! ExportUser: everything identityd holds about one person, as one JSON
//! document, for access requests (GDPR article 15 and the like).
//!
//! Secrets are never part of it: no password hash, no token or its hash, no
//! TOTP secret or backup code, no mailed code. Their existence is (whether
//! a password is set, when two-factor authentication was turned on).

use serde_json::{Value, json};

use crate::app::App;
use crate::app::authn::Principal;
use crate::app::blocks::audit::{Change, record_at};
use crate::app::blocks::loads::load_user;
use crate::app::error::AppError;
use crate::domain::{Permission, Timestamp, User, UserId};
use crate::store;

/// The most activity events an export carries, newest first; the document
/// says when there were more.
pub const EXPORT_ACTIVITY_MAX: u64 = 10_000;

fn time(micros: i64) -> Value {
    Value::String(Timestamp::from_micros(micros).to_rfc3339())
}

fn maybe_time(micros: Option<i64>) -> Value {
    micros.map_or(Value::Null, time)
}

impl App {
    /// The JSON document of everything identityd holds about a user: the
    /// profile, memberships with their accounts, linked external identities,
    /// sessions (live and ended,
    /// until the sweep deletes them) and activity about or by them. Staff
    /// holding both `users.read` and `activity.read`; the export itself is
    /// recorded in the activity log.
    pub async fn export_user(&self, principal: &Principal, id: UserId) -> Result<String, AppError> {
        principal.ensure_staff(Permission::UsersRead)?;
        principal.ensure_staff(Permission::ActivityRead)?;
        let db = self.reader();
        let row = load_user(db, id).await?;
        let user = User::from(row.clone());
        let memberships = store::memberships::all_for_user(db, id).await?;
        let account_ids: Vec<_> = memberships.iter().map(|m| m.account_id).collect();
        let accounts = store::accounts::find_many(db, &account_ids).await?;
        let sessions = store::sessions::all_for_user(db, id).await?;
        let identities = store::external_sign_in::list_identities(db, id).await?;
        let events =
            store::activity::about_user(db, &id.to_string(), EXPORT_ACTIVITY_MAX + 1).await?;
        let truncated = events.len() as u64 > EXPORT_ACTIVITY_MAX;

        let document = json!({
            "format": "identityd.user_export.v1",
            "exported_at": self.now().to_rfc3339(),
            "user": {
                "id": user.id.to_string(),
                "email": user.email,
                "email_verified": user.email_verified,
                "username": user.username,
                "full_name": user.full_name,
                "photo_url": user.photo_url,
                "locale": user.locale,
                "status": user.status.as_str(),
                "staff": user.admin_role_id.is_some(),
                "admin_role_id": user.admin_role_id.map(|r| r.to_string()),
                "has_password": user.has_password,
                "two_factor_enabled_at": user.mfa_enabled_at.map(Timestamp::to_rfc3339),
                "created_at": user.created_at.to_rfc3339(),
                "updated_at": user.updated_at.to_rfc3339(),
                "last_login_at": user.last_login_at.map(Timestamp::to_rfc3339),
            },
            "memberships": memberships.iter().map(|m| {
                let account = accounts.iter().find(|a| a.id == m.account_id);
                json!({
                    "account_id": m.account_id.to_string(),
                    "account_name": account.map(|a| a.display_name.clone()),
                    "owner": account.is_some_and(|a| a.owner_user_id == id),
                    "permissions": m.permissions.split_whitespace().collect::<Vec<_>>(),
                    "joined_at": time(m.created_at),
                })
            }).collect::<Vec<_>>(),
            "external_identities": identities.iter().map(|i| json!({
                "id": i.id,
                "provider_id": i.provider_id,
                "subject": i.subject,
                "email": i.email,
                "linked_at": time(i.created_at),
                "last_sign_in_at": maybe_time(i.last_sign_in_at),
            })).collect::<Vec<_>>(),
            "sessions": sessions.iter().map(|s| json!({
                "id": s.id.to_string(),
                "account_id": s.account_id.map(|a| a.to_string()),
                "client_ip": s.client_ip,
                "user_agent": s.user_agent,
                "auth_methods": s.auth_methods.to_string(),
                "created_at": time(s.created_at),
                "last_seen_at": time(s.last_seen_at),
                "ends_at": time(s.absolute_expires_at),
                "revoked_at": maybe_time(s.revoked_at),
                "revoke_reason": s.revoke_reason,
            })).collect::<Vec<_>>(),
            "activity": events.iter().take(usize::try_from(EXPORT_ACTIVITY_MAX).unwrap_or(usize::MAX)).map(|e| json!({
                "id": e.id,
                "time": time(e.occurred_at),
                "actor_kind": e.actor_kind,
                "actor_id": e.actor_id,
                "account_id": e.account_id.map(|a| a.to_string()),
                "action": e.action,
                "target_type": e.target_type,
                "target_id": e.target_id,
                "client_ip": e.client_ip,
                "details": serde_json::from_str::<Value>(&e.details).unwrap_or(Value::Null),
            })).collect::<Vec<_>>(),
            "activity_truncated": truncated,
        });
        let text =
            serde_json::to_string_pretty(&document).map_err(|e| AppError::Internal(Box::new(e)))?;

        let txn = store::begin(self.db()).await?;
        let change = Change::new("user.exported", "user", id)
            .detail("events", events.len().min(EXPORT_ACTIVITY_MAX as usize));
        record_at(&txn, principal, self.now(), change).await?;
        store::commit(txn).await?;
        Ok(text)
    }
}
