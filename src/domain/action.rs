//! The catalogue of activity-log actions: every name a use case records,
//! with the kind of thing it is about and what it means. ListActivityActions
//! serves it, and a test keeps it in step with the code.

/// One action the activity log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionInfo {
    /// The action, such as `user.created`.
    pub name: &'static str,
    /// The kind of thing its events are about (their `target_type`).
    pub target_type: &'static str,
    /// What happened, in one sentence.
    pub description: &'static str,
}

const fn action(
    name: &'static str,
    target_type: &'static str,
    description: &'static str,
) -> ActionInfo {
    ActionInfo {
        name,
        target_type,
        description,
    }
}

/// Every action, sorted by name.
pub const ACTIONS: &[ActionInfo] = &[
    action("account.closed", "account", "An account was closed."),
    action(
        "account.contact_added",
        "account",
        "A contact (someone the account mails who is not a login) was added.",
    ),
    action(
        "account.contact_removed",
        "account",
        "A contact was removed.",
    ),
    action(
        "account.contact_updated",
        "account",
        "A contact's name, address or mails changed.",
    ),
    action(
        "account.created",
        "account",
        "An account was created with its owner.",
    ),
    action(
        "account.deleted",
        "account",
        "An account was deleted (by staff, or by retention pruning as System).",
    ),
    action(
        "account.inactivity_warned",
        "account",
        "The owner was warned that an inactive account will be deleted.",
    ),
    action(
        "account.member_added",
        "user",
        "A user became a member of an account.",
    ),
    action(
        "account.member_permissions_updated",
        "user",
        "A member's permissions in an account changed.",
    ),
    action(
        "account.member_removed",
        "user",
        "A member was removed from an account.",
    ),
    action(
        "account.ownership_transferred",
        "account",
        "An account got a new owner.",
    ),
    action(
        "account.reopened",
        "account",
        "A closed account was reopened.",
    ),
    action(
        "account.retention_hold_cleared",
        "account",
        "An account was taken off retention hold.",
    ),
    action(
        "account.retention_hold_set",
        "account",
        "An account was put on retention hold.",
    ),
    action(
        "account.updated",
        "account",
        "An account's billing profile changed.",
    ),
    action(
        "api_credential.created",
        "api_credential",
        "An API credential was minted.",
    ),
    action(
        "api_credential.revoked",
        "api_credential",
        "An API credential was revoked.",
    ),
    action(
        "auth.external_sign_in_failed",
        "sign_in_provider",
        "A sign-in through an external provider failed (its `reason`: the provider refused or was down, its token was invalid, the email was unverified, a password sign-in is needed, the user is suspended).",
    ),
    action(
        "auth.login_failed",
        "user",
        "A sign-in failed (wrong password, or a user who cannot sign in); `identifier` targets an unknown name.",
    ),
    action(
        "auth.login_locked",
        "user",
        "A sign-in was refused while the user was temporarily locked.",
    ),
    action(
        "auth.login_succeeded",
        "session",
        "A user signed in; the target is the new session.",
    ),
    action(
        "auth.login_throttled",
        "user",
        "A sign-in was refused because of recent failures.",
    ),
    action("auth.logout", "session", "A user signed out."),
    action(
        "auth.mfa_challenged",
        "user",
        "A sign-in with the password waits for a second factor.",
    ),
    action(
        "auth.mfa_failed",
        "user",
        "A wrong second-factor code was given at sign-in.",
    ),
    action(
        "auth.password_change_failed",
        "user",
        "A password change gave a wrong current password.",
    ),
    action(
        "auth.password_reset",
        "user",
        "A password was reset with a mailed link.",
    ),
    action(
        "auth.password_reset_not_sent",
        "user",
        "A reset link was asked for but not sent (throttled).",
    ),
    action(
        "auth.password_reset_requested",
        "user",
        "A reset link was mailed.",
    ),
    action(
        "auth.set_password_sent",
        "user",
        "A link to set a first password was mailed.",
    ),
    action(
        "auth.sign_up_attempted",
        "user",
        "Someone tried to register an address that is already registered; its owner was told.",
    ),
    action(
        "auth.verification_failed",
        "user",
        "A wrong email verification code was given.",
    ),
    action(
        "auth.verification_not_resent",
        "user",
        "A new verification code was asked for but not sent (throttled).",
    ),
    action(
        "auth.verification_resent",
        "user",
        "A new verification code was mailed.",
    ),
    action(
        "invitation.accepted",
        "invitation",
        "An invitation was accepted.",
    ),
    action(
        "invitation.cancelled",
        "invitation",
        "An invitation was cancelled.",
    ),
    action(
        "invitation.created",
        "invitation",
        "Someone was invited to an account.",
    ),
    action(
        "invitation.resent",
        "invitation",
        "An invitation was mailed again with a new link.",
    ),
    action(
        "mail.failed_retried",
        "mail",
        "Every failed mail (of one kind, if named) was queued again; the target id is the kind or `all`.",
    ),
    action("mail.retried", "mail", "A failed mail was queued again."),
    action(
        "mail.test_sent",
        "mail",
        "A test mail was sent with SendTestMail.",
    ),
    action(
        "mail_template.reset",
        "mail_template",
        "A stored mail template was dropped.",
    ),
    action(
        "mail_template.updated",
        "mail_template",
        "A mail template was stored.",
    ),
    action(
        "retention.run",
        "retention_run",
        "Staff ran retention pruning.",
    ),
    action("role.created", "role", "A role was created."),
    action("role.deleted", "role", "A role was deleted."),
    action(
        "role.duplicated",
        "role",
        "A role was copied under a new name.",
    ),
    action(
        "role.updated",
        "role",
        "A role's name, description or permissions changed.",
    ),
    action(
        "session.account_selected",
        "session",
        "A session chose the account it acts for.",
    ),
    action(
        "session.account_switched",
        "session",
        "A session switched to another account.",
    ),
    action("session.revoked", "session", "A session was ended."),
    action(
        "settings.sign_in_provider_deleted",
        "sign_in_provider",
        "An external sign-in provider was removed.",
    ),
    action(
        "settings.sign_in_provider_saved",
        "sign_in_provider",
        "An external sign-in provider was added or changed (client secret masked).",
    ),
    action(
        "settings.updated",
        "settings",
        "Run-time settings changed (each with its before and after value).",
    ),
    action(
        "sso.token_created",
        "user",
        "A single-use SSO token was minted for a user.",
    ),
    action("sso.token_redeemed", "user", "An SSO token was redeemed."),
    action(
        "staff.role_assigned",
        "user",
        "A user got an admin role (became staff).",
    ),
    action(
        "staff.role_unassigned",
        "user",
        "A staff user's admin role was taken away.",
    ),
    action("staff_user.created", "user", "A staff user was created."),
    action("user.activated", "user", "A suspended user was activated."),
    action(
        "user.backup_code_used",
        "user",
        "A backup code was used to sign in.",
    ),
    action(
        "user.backup_codes_regenerated",
        "user",
        "New backup codes replaced the old ones.",
    ),
    action("user.created", "user", "Staff created a user."),
    action(
        "user.deleted",
        "user",
        "A user was deleted (by staff, with an account, or by retention pruning).",
    ),
    action(
        "user.email_verified",
        "user",
        "A user proved their email address.",
    ),
    action(
        "user.exported",
        "user",
        "Staff exported everything held about a user (ExportUser).",
    ),
    action(
        "user.external_identity_linked",
        "user",
        "An external provider's identity was linked to a user (`how`: by verified email, or at sign-up).",
    ),
    action(
        "user.external_identity_unlinked",
        "user",
        "An external provider's identity was unlinked from a user.",
    ),
    action(
        "user.mfa_code_rejected",
        "user",
        "A wrong two-factor code was given for a change.",
    ),
    action(
        "user.mfa_disable_failed",
        "user",
        "Turning two-factor authentication off gave a wrong password.",
    ),
    action(
        "user.mfa_disabled",
        "user",
        "A user turned two-factor authentication off.",
    ),
    action(
        "user.mfa_enabled",
        "user",
        "A user turned two-factor authentication on.",
    ),
    action(
        "user.mfa_enrollment_failed",
        "user",
        "Confirming a two-factor enrolment gave a wrong password.",
    ),
    action(
        "user.mfa_enrollment_started",
        "user",
        "A user started a two-factor enrolment.",
    ),
    action(
        "user.mfa_reset",
        "user",
        "Staff turned a user's two-factor authentication off.",
    ),
    action(
        "user.password_changed",
        "user",
        "A user changed their password.",
    ),
    action("user.registered", "user", "Someone signed up."),
    action("user.suspended", "user", "A user was suspended."),
    action("user.updated", "user", "A user's profile changed."),
];

/// The action called `name`, if it is in the catalogue.
pub fn action_info(name: &str) -> Option<&'static ActionInfo> {
    ACTIONS.iter().find(|info| info.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_is_sorted_and_each_name_is_listed_once() {
        let names: Vec<&str> = ACTIONS.iter().map(|a| a.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted);
        assert!(
            ACTIONS
                .iter()
                .all(|a| a.name.starts_with(a.name.split('.').next().unwrap())
                    && !a.description.is_empty())
        );
        assert_eq!(
            action_info("user.created").map(|a| a.target_type),
            Some("user")
        );
    }
}
