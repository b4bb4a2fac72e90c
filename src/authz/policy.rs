//! The one table that says what each gRPC method requires.

use crate::domain::Permission;

/// What a method requires of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Anyone, without credentials: health checks, reflection, and the
    /// sign-up, sign-in and reset methods that exist for people who have no
    /// session yet.
    Public,
    /// A signed-in user session (of any user, staff included) that is not
    /// held back to enrolling a second factor.
    Session,
    /// A signed-in user session, including one the two-factor policy holds
    /// back until its user enrols: the enrolment methods and Logout.
    EnrollingSession,
    /// A staff session or API credential holding this permission.
    Staff(Permission),
    /// Staff holding this permission, or any user session. The use case
    /// decides what the session may do: act on its own user, or in the
    /// account it acts for, as that user's rights there allow.
    StaffOrSession(Permission),
    /// Anyone; but a caller that sends a bearer token must send a valid user
    /// session token, and then acts as that user. For methods such as
    /// AcceptInvitation that a signed-in user and a newcomer both call: the
    /// use case sees either a session or an anonymous caller, never an API
    /// credential.
    OptionalSession,
}

/// Every method identityd serves and its policy. A method not listed here is
/// denied to everybody; a test fails if a served method is missing.
pub const POLICIES: &[(&str, Policy)] = &[
    ("/grpc.health.v1.Health/Check", Policy::Public),
    ("/grpc.health.v1.Health/Watch", Policy::Public),
    (
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        Policy::Public,
    ),
    (
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        Policy::Public,
    ),
    (
        "/identity.v1.AdminService/ListPermissions",
        Policy::Staff(Permission::RolesRead),
    ),
    (
        "/identity.v1.AdminService/CreateRole",
        Policy::Staff(Permission::RolesWrite),
    ),
    (
        "/identity.v1.AdminService/GetRole",
        Policy::Staff(Permission::RolesRead),
    ),
    (
        "/identity.v1.AdminService/ListRoles",
        Policy::Staff(Permission::RolesRead),
    ),
    (
        "/identity.v1.AdminService/UpdateRole",
        Policy::Staff(Permission::RolesWrite),
    ),
    (
        "/identity.v1.AdminService/DeleteRole",
        Policy::Staff(Permission::RolesWrite),
    ),
    (
        "/identity.v1.AdminService/DuplicateRole",
        Policy::Staff(Permission::RolesWrite),
    ),
    (
        "/identity.v1.AdminService/CreateStaffUser",
        Policy::Staff(Permission::StaffWrite),
    ),
    (
        "/identity.v1.AdminService/GetStaffUser",
        Policy::Staff(Permission::StaffRead),
    ),
    (
        "/identity.v1.AdminService/ListStaffUsers",
        Policy::Staff(Permission::StaffRead),
    ),
    (
        "/identity.v1.AdminService/AssignAdminRole",
        Policy::Staff(Permission::StaffWrite),
    ),
    (
        "/identity.v1.AdminService/UnassignAdminRole",
        Policy::Staff(Permission::StaffWrite),
    ),
    (
        "/identity.v1.AdminService/CreateApiCredential",
        Policy::Staff(Permission::CredentialsWrite),
    ),
    (
        "/identity.v1.AdminService/GetApiCredential",
        Policy::Staff(Permission::CredentialsRead),
    ),
    (
        "/identity.v1.AdminService/ListApiCredentials",
        Policy::Staff(Permission::CredentialsRead),
    ),
    (
        "/identity.v1.AdminService/RevokeApiCredential",
        Policy::Staff(Permission::CredentialsWrite),
    ),
    (
        "/identity.v1.AdminService/ListActivity",
        Policy::Staff(Permission::ActivityRead),
    ),
    (
        "/identity.v1.AdminService/ListActivityActions",
        Policy::Staff(Permission::ActivityRead),
    ),
    (
        "/identity.v1.AdminService/ListMails",
        Policy::Staff(Permission::MailRead),
    ),
    (
        "/identity.v1.AdminService/RetryMail",
        Policy::Staff(Permission::MailWrite),
    ),
    (
        "/identity.v1.AdminService/RetryFailedMails",
        Policy::Staff(Permission::MailWrite),
    ),
    (
        "/identity.v1.AdminService/ListSignInProviderConfigs",
        Policy::Staff(Permission::SettingsRead),
    ),
    (
        "/identity.v1.AdminService/PutSignInProviderConfig",
        Policy::Staff(Permission::SettingsWrite),
    ),
    (
        "/identity.v1.AdminService/DeleteSignInProviderConfig",
        Policy::Staff(Permission::SettingsWrite),
    ),
    (
        "/identity.v1.AdminService/GetSettings",
        Policy::Staff(Permission::SettingsRead),
    ),
    (
        "/identity.v1.AdminService/UpdateSettings",
        Policy::Staff(Permission::SettingsWrite),
    ),
    (
        "/identity.v1.AdminService/ListMailTemplates",
        Policy::Staff(Permission::SettingsRead),
    ),
    (
        "/identity.v1.AdminService/GetMailTemplate",
        Policy::Staff(Permission::SettingsRead),
    ),
    (
        "/identity.v1.AdminService/UpdateMailTemplate",
        Policy::Staff(Permission::SettingsWrite),
    ),
    (
        "/identity.v1.AdminService/ResetMailTemplate",
        Policy::Staff(Permission::SettingsWrite),
    ),
    (
        "/identity.v1.AdminService/PreviewMailTemplate",
        Policy::Staff(Permission::SettingsRead),
    ),
    (
        "/identity.v1.AdminService/SendTestMail",
        Policy::Staff(Permission::SettingsWrite),
    ),
    (
        "/identity.v1.AdminService/PreviewRetention",
        Policy::Staff(Permission::RetentionRead),
    ),
    (
        "/identity.v1.AdminService/RunRetention",
        Policy::Staff(Permission::RetentionRun),
    ),
    (
        "/identity.v1.AdminService/GetRetentionStatus",
        Policy::Staff(Permission::RetentionRead),
    ),
    (
        "/identity.v1.AccountService/RecordAccountActivity",
        Policy::Staff(Permission::AccountsWrite),
    ),
    (
        "/identity.v1.AccountService/SetRetentionHold",
        Policy::Staff(Permission::AccountsWrite),
    ),
    (
        "/identity.v1.UserService/CreateUser",
        Policy::Staff(Permission::UsersWrite),
    ),
    (
        "/identity.v1.UserService/GetUser",
        Policy::Staff(Permission::UsersRead),
    ),
    (
        "/identity.v1.UserService/LookupUser",
        Policy::Staff(Permission::UsersRead),
    ),
    (
        "/identity.v1.UserService/ListUsers",
        Policy::Staff(Permission::UsersRead),
    ),
    (
        "/identity.v1.UserService/UpdateUser",
        Policy::Staff(Permission::UsersWrite),
    ),
    (
        "/identity.v1.UserService/SuspendUser",
        Policy::Staff(Permission::UsersWrite),
    ),
    (
        "/identity.v1.UserService/ActivateUser",
        Policy::Staff(Permission::UsersWrite),
    ),
    (
        "/identity.v1.UserService/DeleteUser",
        Policy::Staff(Permission::UsersWrite),
    ),
    (
        "/identity.v1.AccountService/CreateAccount",
        Policy::Staff(Permission::AccountsWrite),
    ),
    (
        "/identity.v1.AccountService/GetAccount",
        Policy::StaffOrSession(Permission::AccountsRead),
    ),
    (
        "/identity.v1.AccountService/ListAccounts",
        Policy::Staff(Permission::AccountsRead),
    ),
    (
        "/identity.v1.AccountService/UpdateAccount",
        Policy::StaffOrSession(Permission::AccountsWrite),
    ),
    (
        "/identity.v1.AccountService/CloseAccount",
        Policy::Staff(Permission::AccountsWrite),
    ),
    (
        "/identity.v1.AccountService/ReopenAccount",
        Policy::Staff(Permission::AccountsWrite),
    ),
    (
        "/identity.v1.AccountService/DeleteAccount",
        Policy::Staff(Permission::AccountsWrite),
    ),
    (
        "/identity.v1.AccountService/TransferOwnership",
        Policy::Staff(Permission::AccountsWrite),
    ),
    (
        "/identity.v1.AccountService/ListMembers",
        Policy::StaffOrSession(Permission::AccountsRead),
    ),
    (
        "/identity.v1.AccountService/AddMember",
        Policy::Staff(Permission::AccountsWrite),
    ),
    (
        "/identity.v1.AccountService/UpdateMemberPermissions",
        Policy::StaffOrSession(Permission::AccountsWrite),
    ),
    (
        "/identity.v1.AccountService/RemoveMember",
        Policy::StaffOrSession(Permission::AccountsWrite),
    ),
    (
        "/identity.v1.AccountService/ListUserAccounts",
        Policy::StaffOrSession(Permission::AccountsRead),
    ),
    (
        "/identity.v1.AccountService/ListAccountPermissions",
        Policy::StaffOrSession(Permission::AccountsRead),
    ),
    ("/identity.v1.AuthService/Register", Policy::Public),
    ("/identity.v1.AuthService/VerifyEmail", Policy::Public),
    (
        "/identity.v1.AuthService/ResendVerification",
        Policy::Public,
    ),
    ("/identity.v1.AuthService/Login", Policy::Public),
    ("/identity.v1.AuthService/SelectAccount", Policy::Session),
    ("/identity.v1.AuthService/SwitchAccount", Policy::Session),
    ("/identity.v1.AuthService/Logout", Policy::EnrollingSession),
    ("/identity.v1.AuthService/CompleteLogin", Policy::Public),
    (
        "/identity.v1.AuthService/GetMfaStatus",
        Policy::EnrollingSession,
    ),
    (
        "/identity.v1.AuthService/StartTotpEnrollment",
        Policy::EnrollingSession,
    ),
    (
        "/identity.v1.AuthService/ConfirmTotpEnrollment",
        Policy::EnrollingSession,
    ),
    ("/identity.v1.AuthService/DisableTotp", Policy::Session),
    (
        "/identity.v1.AuthService/RegenerateBackupCodes",
        Policy::Session,
    ),
    (
        "/identity.v1.AuthService/ListSessions",
        Policy::StaffOrSession(Permission::SessionsRead),
    ),
    (
        "/identity.v1.AuthService/RevokeSession",
        Policy::StaffOrSession(Permission::SessionsWrite),
    ),
    ("/identity.v1.AuthService/ChangePassword", Policy::Session),
    (
        "/identity.v1.AuthService/IntrospectSession",
        Policy::Staff(Permission::SessionsRead),
    ),
    (
        "/identity.v1.AuthService/CheckPermission",
        Policy::Staff(Permission::SessionsRead),
    ),
    (
        "/identity.v1.AuthService/RequestPasswordReset",
        Policy::Public,
    ),
    ("/identity.v1.AuthService/ResetPassword", Policy::Public),
    (
        "/identity.v1.AuthService/CreateSsoToken",
        Policy::Staff(Permission::SsoCreate),
    ),
    ("/identity.v1.AuthService/RedeemSsoToken", Policy::Public),
    (
        "/identity.v1.AccountService/ListContacts",
        Policy::StaffOrSession(Permission::AccountsRead),
    ),
    (
        "/identity.v1.AccountService/AddContact",
        Policy::StaffOrSession(Permission::AccountsWrite),
    ),
    (
        "/identity.v1.AccountService/UpdateContact",
        Policy::StaffOrSession(Permission::AccountsWrite),
    ),
    (
        "/identity.v1.AccountService/RemoveContact",
        Policy::StaffOrSession(Permission::AccountsWrite),
    ),
    (
        "/identity.v1.AccountService/ClassifyCorrespondent",
        Policy::Staff(Permission::AccountsRead),
    ),
    (
        "/identity.v1.AuthService/ListSignInProviders",
        Policy::Public,
    ),
    (
        "/identity.v1.AuthService/StartExternalSignIn",
        Policy::Public,
    ),
    (
        "/identity.v1.AuthService/CompleteExternalSignIn",
        Policy::Public,
    ),
    (
        "/identity.v1.AuthService/ListExternalIdentities",
        Policy::StaffOrSession(Permission::UsersRead),
    ),
    (
        "/identity.v1.AuthService/UnlinkExternalIdentity",
        Policy::StaffOrSession(Permission::UsersWrite),
    ),
    (
        "/identity.v1.UserService/ExportUser",
        Policy::Staff(Permission::UsersRead),
    ),
    (
        "/identity.v1.UserService/ResetUserMfa",
        Policy::Staff(Permission::UsersMfaReset),
    ),
    (
        "/identity.v1.AuthService/SendPasswordReset",
        Policy::Staff(Permission::UsersWrite),
    ),
    (
        "/identity.v1.InvitationService/CreateInvitation",
        Policy::StaffOrSession(Permission::InvitationsWrite),
    ),
    (
        "/identity.v1.InvitationService/GetInvitation",
        Policy::StaffOrSession(Permission::InvitationsRead),
    ),
    (
        "/identity.v1.InvitationService/ListInvitations",
        Policy::StaffOrSession(Permission::InvitationsRead),
    ),
    (
        "/identity.v1.InvitationService/ResendInvitation",
        Policy::StaffOrSession(Permission::InvitationsWrite),
    ),
    (
        "/identity.v1.InvitationService/CancelInvitation",
        Policy::StaffOrSession(Permission::InvitationsWrite),
    ),
    (
        "/identity.v1.InvitationService/PreviewInvitation",
        Policy::Public,
    ),
    (
        "/identity.v1.InvitationService/AcceptInvitation",
        Policy::OptionalSession,
    ),
];

/// The policy of the method at `path` (`/package.Service/Method`), if it has one.
/// Whether identityd serves the method at `path`.
pub fn is_served_method(path: &str) -> bool {
    POLICIES.iter().any(|(method, _)| *method == path)
}

/// The policy of the method at `path`, if identityd serves it.
pub fn policy_for(path: &str) -> Option<Policy> {
    POLICIES
        .iter()
        .find(|(method, _)| *method == path)
        .map(|(_, policy)| *policy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_have_no_policy() {
        assert_eq!(policy_for("/identity.v1.AdminService/DropDatabase"), None);
        assert_eq!(policy_for(""), None);
    }

    #[test]
    fn each_method_is_listed_once() {
        let mut paths: Vec<&str> = POLICIES.iter().map(|(path, _)| *path).collect();
        paths.sort_unstable();
        paths.dedup();
        assert_eq!(paths.len(), POLICIES.len());
    }
}
