//! Account contacts (WHMCS "contacts"): people an account mails who are not
//! logins, and which mails each of them gets.

/// A kind of mail a contact may get (WHMCS's contact email preferences).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ContactMail {
    /// General account mail.
    General,
    /// Invoices and payment reminders.
    Invoices,
    /// Support ticket replies.
    Support,
    /// Product and service notices.
    Products,
    /// Domain notices.
    Domains,
}

impl ContactMail {
    /// Every kind, in stored order.
    pub const ALL: [ContactMail; 5] = [
        ContactMail::General,
        ContactMail::Invoices,
        ContactMail::Support,
        ContactMail::Products,
        ContactMail::Domains,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ContactMail::General => "general",
            ContactMail::Invoices => "invoices",
            ContactMail::Support => "support",
            ContactMail::Products => "products",
            ContactMail::Domains => "domains",
        }
    }

    /// The kind stored as `name`.
    pub fn from_stored(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// The mails one contact gets: each kind once, in a fixed order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactMails(Vec<ContactMail>);

impl ContactMails {
    /// These kinds, each once.
    pub fn of(kinds: impl IntoIterator<Item = ContactMail>) -> Self {
        let mut kinds: Vec<ContactMail> = kinds.into_iter().collect();
        kinds.sort_unstable();
        kinds.dedup();
        Self(kinds)
    }

    /// The kinds, in order.
    pub fn iter(&self) -> impl Iterator<Item = ContactMail> + '_ {
        self.0.iter().copied()
    }

    /// The stored form: names separated by spaces.
    pub fn to_stored(&self) -> String {
        let names: Vec<&str> = self.iter().map(ContactMail::as_str).collect();
        names.join(" ")
    }

    /// The stored form read back; unknown names (from a newer version) are
    /// skipped.
    pub fn from_stored(stored: &str) -> Self {
        Self::of(
            stored
                .split_whitespace()
                .filter_map(ContactMail::from_stored),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mails_are_kept_once_in_order_and_read_back() {
        let mails = ContactMails::of([
            ContactMail::Support,
            ContactMail::Invoices,
            ContactMail::Support,
        ]);
        assert_eq!(mails.to_stored(), "invoices support");
        assert_eq!(ContactMails::from_stored("support invoices later"), mails);
        assert_eq!(ContactMails::from_stored("").to_stored(), "");
    }
}
