//! How a run-time setting is written to the database and read back: JSON
//! by the setting's kind, with a secret sealed under the server key.

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::values::{Setting, SettingKind, SettingValue};
use crate::crypto::{KeyPurpose, ServerKey};

/// Why a stored value could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoredValueError {
    /// The JSON does not have the setting's shape.
    #[error("the stored value of {0} has the wrong shape")]
    Shape(&'static str),
    /// A sealed secret does not open with the server secrets this server
    /// knows (rotated away without `security.previous_server_secrets`).
    #[error("the stored secret {0} cannot be opened with this server's secrets")]
    Unsealable(&'static str),
    /// A secret could not be sealed.
    #[error("the secret {0} could not be sealed")]
    SealFailed(&'static str),
}

/// What a setting's sealed value is bound to, so a sealed value cannot be
/// moved to another setting or another kind of record.
fn seal_context(setting: &Setting) -> String {
    format!("runtime_setting:{}", setting.key)
}

/// `value` of `setting` as stored: JSON, a secret sealed.
pub fn encode(
    setting: &Setting,
    value: &SettingValue,
    key: &ServerKey,
) -> Result<String, StoredValueError> {
    let json = match value {
        SettingValue::Bool(b) => Value::Bool(*b),
        SettingValue::Number(n) => Value::from(*n),
        SettingValue::Text(text) => Value::String(text.clone()),
        SettingValue::List(items) => Value::from(items.clone()),
        SettingValue::Secret(None) => Value::Null,
        SettingValue::Secret(Some(secret)) => Value::String(
            key.seal(
                KeyPurpose::SettingSeal,
                secret.expose_secret().as_bytes(),
                &seal_context(setting),
            )
            .map_err(|_| StoredValueError::SealFailed(setting.key))?,
        ),
    };
    Ok(json.to_string())
}

/// The value of `setting` stored as `stored`. The caller still checks it
/// against the setting's rules.
pub fn decode(
    setting: &Setting,
    stored: &str,
    key: &ServerKey,
) -> Result<SettingValue, StoredValueError> {
    let shape = || StoredValueError::Shape(setting.key);
    let json: Value = serde_json::from_str(stored).map_err(|_| shape())?;
    Ok(match (setting.kind, json) {
        (SettingKind::Bool, Value::Bool(b)) => SettingValue::Bool(b),
        (SettingKind::Number { .. }, Value::Number(n)) => {
            SettingValue::Number(n.as_u64().ok_or_else(shape)?)
        }
        (SettingKind::Choice(_) | SettingKind::Text(_), Value::String(text)) => {
            SettingValue::Text(text)
        }
        (SettingKind::Domains, Value::Array(items)) => SettingValue::List(
            items
                .into_iter()
                .map(|item| match item {
                    Value::String(text) => Ok(text),
                    _ => Err(shape()),
                })
                .collect::<Result<_, _>>()?,
        ),
        (SettingKind::Secret, Value::Null) => SettingValue::Secret(None),
        (SettingKind::Secret, Value::String(sealed)) => {
            let opened = key
                .open(KeyPurpose::SettingSeal, &sealed, &seal_context(setting))
                .map_err(|_| StoredValueError::Unsealable(setting.key))?;
            let text = String::from_utf8(opened.plaintext).map_err(|_| shape())?;
            SettingValue::Secret(Some(SecretString::from(text)))
        }
        _ => return Err(shape()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::values::setting;

    fn server_key() -> ServerKey {
        ServerKey::from_secret(b"a server secret of 32 bytes!!!!!")
    }

    #[test]
    fn values_round_trip_and_secrets_are_sealed() {
        let key = server_key();
        let cases = [
            ("sign_up.open", SettingValue::Bool(false)),
            ("auth.session_idle_timeout_secs", SettingValue::Number(600)),
            ("auth.mfa_required", SettingValue::Text("staff".into())),
            (
                "sign_up.blocked_email_domains",
                SettingValue::List(vec!["spam.test".into()]),
            ),
            ("mail.smtp.password", SettingValue::Secret(None)),
            (
                "mail.smtp.password",
                SettingValue::Secret(Some(SecretString::from("p4ssw0rd-for-smtp"))),
            ),
        ];
        for (name, value) in cases {
            let setting = setting(name).unwrap();
            let stored = encode(setting, &value, &key).unwrap();
            assert!(!stored.contains("p4ssw0rd"), "{stored}");
            let back = decode(setting, &stored, &key).unwrap();
            assert!(back.same_as(&value), "{name}");
        }
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_setting_and_server() {
        let key = server_key();
        let password = setting("mail.smtp.password").unwrap();
        let stored = encode(
            password,
            &SettingValue::Secret(Some(SecretString::from("secret"))),
            &key,
        )
        .unwrap();
        let other = ServerKey::from_secret(b"another secret of 32 bytes!!!!!!");
        assert_eq!(
            decode(password, &stored, &other).unwrap_err(),
            StoredValueError::Unsealable("mail.smtp.password")
        );
        let host = setting("mail.smtp.host").unwrap();
        assert!(matches!(
            decode(host, "42", &key),
            Err(StoredValueError::Shape(_))
        ));
    }
}
