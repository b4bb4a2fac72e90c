//! Where rendered mail goes: an SMTP server, a directory of .eml files, or the log.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType, MessageId};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::templates::Rendered;
use crate::config::{MailTransportKind, SmtpTls};
use crate::runtime::RuntimeSettings;

/// Why a mail could not be handed over.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The address or message could not be built; retrying will not help.
    #[error("invalid message: {0}")]
    Invalid(String),
    /// The transport failed; a later attempt may succeed.
    #[error("delivery failed: {0}")]
    Failed(String),
}

impl TransportError {
    /// Whether a later attempt may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, TransportError::Failed(_))
    }
}

/// A configured transport.
pub enum Transport {
    /// Send through an SMTP server.
    Smtp(Box<AsyncSmtpTransport<Tokio1Executor>>),
    /// Write one .eml file per mail (mode 0600) into a directory (mode 0700).
    File(PathBuf),
    /// Write the mail to the log: id and recipient at info; subject and body,
    /// which may carry codes and links with tokens, only at debug.
    Log,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Smtp(_) => f.write_str("Transport::Smtp"),
            Transport::File(dir) => write!(f, "Transport::File({})", dir.display()),
            Transport::Log => f.write_str("Transport::Log"),
        }
    }
}

impl Transport {
    /// The transport the run-time settings describe; the `file` transport
    /// writes into `file_dir`.
    pub fn from_settings(
        settings: &RuntimeSettings,
        file_dir: &Path,
    ) -> Result<Self, TransportError> {
        match settings.mail_transport {
            MailTransportKind::Log => Ok(Transport::Log),
            MailTransportKind::File => {
                crate::files::private_dir(file_dir)
                    .and_then(|()| crate::files::restrict_files_in(file_dir, "eml"))
                    .map_err(|e| TransportError::Invalid(format!("{}: {e}", file_dir.display())))?;
                Ok(Transport::File(file_dir.to_owned()))
            }
            MailTransportKind::Smtp => {
                let host = settings.smtp_host.as_str();
                let tls = |host: &str| {
                    TlsParameters::new(host.to_owned())
                        .map_err(|e| TransportError::Invalid(e.to_string()))
                };
                let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
                    .port(settings.smtp_port)
                    .timeout(Some(Duration::from_secs(settings.smtp_timeout_secs.max(1))));
                builder = match settings.smtp_tls {
                    SmtpTls::None => builder.tls(Tls::None),
                    SmtpTls::Starttls => builder.tls(Tls::Required(tls(host)?)),
                    SmtpTls::Tls => builder.tls(Tls::Wrapper(tls(host)?)),
                };
                if let (false, Some(password)) =
                    (settings.smtp_username.is_empty(), &settings.smtp_password)
                {
                    use secrecy::ExposeSecret;
                    builder = builder.credentials(Credentials::new(
                        settings.smtp_username.clone(),
                        password.expose_secret().to_owned(),
                    ));
                }
                Ok(Transport::Smtp(Box::new(builder.build())))
            }
        }
    }

    /// The transport's name, as settings write it.
    pub fn name(&self) -> &'static str {
        match self {
            Transport::Smtp(_) => "smtp",
            Transport::File(_) => "file",
            Transport::Log => "log",
        }
    }

    /// Hands one rendered mail over and returns what the other side said
    /// (the SMTP server's reply, or where the mail was written). `id`
    /// becomes the Message-ID, so a receiving system can tell a duplicate
    /// from a new mail.
    pub async fn send(
        &self,
        id: &str,
        from: &str,
        to: &str,
        rendered: &Rendered,
    ) -> Result<String, TransportError> {
        if let Transport::Log = self {
            // Subjects and bodies can carry codes and links with tokens
            // (a verification code is in its subject), so only debug shows them.
            tracing::info!(mail_id = id, to, "mail delivered to the log");
            tracing::debug!(mail_id = id, subject = %rendered.subject, text = %rendered.text, "mail content");
            return Ok("written to the log".to_owned());
        }
        let message = build_message(id, from, to, rendered)?;
        match self {
            Transport::Smtp(smtp) => smtp
                .send(message)
                .await
                .map(|response| {
                    let lines: Vec<&str> = response.message().collect();
                    format!("{} {}", response.code(), lines.join(" "))
                })
                .map_err(|e| TransportError::Failed(e.to_string())),
            Transport::File(dir) => {
                let path = dir.join(format!("{id}.eml"));
                write_private(&path, message.formatted())
                    .await
                    .map(|()| format!("written to {}", path.display()))
                    .map_err(|e| TransportError::Failed(format!("{}: {e}", path.display())))
            }
            Transport::Log => Ok("written to the log".to_owned()),
        }
    }
}

fn build_message(
    id: &str,
    from: &str,
    to: &str,
    rendered: &Rendered,
) -> Result<Message, TransportError> {
    let from: Mailbox = from
        .parse()
        .map_err(|e| TransportError::Invalid(format!("from address: {e}")))?;
    let to: Mailbox = to
        .parse()
        .map_err(|e| TransportError::Invalid(format!("recipient address: {e}")))?;
    Message::builder()
        .from(from)
        .to(to)
        .subject(rendered.subject.clone())
        .header(MessageId::from(format!("<{id}@identityd>")))
        .multipart(
            MultiPart::alternative()
                .singlepart(eight_bit_part(ContentType::TEXT_PLAIN, &rendered.text))
                .singlepart(eight_bit_part(ContentType::TEXT_HTML, &rendered.html)),
        )
        .map_err(|e| TransportError::Invalid(e.to_string()))
}

/// A text part sent as 8bit, so every line (a link with its token above
/// all) stays whole and readable in the raw message: quoted-printable would
/// break lines longer than 76 characters with `=` and turn `=` into `=3D`.
/// RFC 5322 allows lines of up to 998 bytes, and 8bit (RFC 6152) carries
/// UTF-8 as it is. A body that 8bit cannot carry (a longer line, a NUL or a
/// bare carriage return) falls back to lettre's own choice.
fn eight_bit_part(content_type: ContentType, text: &str) -> SinglePart {
    let body = eight_bit_body(text).unwrap_or_else(|| Body::new(text.to_owned()));
    SinglePart::builder().header(content_type).body(body)
}

/// The longest line RFC 5322 allows, without its CRLF.
const MAX_LINE_BYTES: usize = 998;

/// `text` with CRLF line endings as an 8bit body, if 8bit can carry it.
fn eight_bit_body(text: &str) -> Option<Body> {
    let mut encoded = Vec::with_capacity(text.len() + text.len() / 32);
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.len() > MAX_LINE_BYTES || line.bytes().any(|b| b == 0 || b == b'\r') {
            return None;
        }
        encoded.extend_from_slice(line.as_bytes());
        encoded.extend_from_slice(b"\r\n");
    }
    // `split` yields one empty piece after a final newline; drop its CRLF.
    if text.ends_with('\n') {
        encoded.truncate(encoded.len().saturating_sub(2));
    }
    Some(Body::dangerous_pre_encoded(
        encoded,
        ContentTransferEncoding::EightBit,
    ))
}

/// Writes `contents` to `path`, readable by the owner only: a mail can hold a
/// live link. The file is created with mode 0600 and tightened if it existed.
async fn write_private(path: &Path, contents: Vec<u8>) -> std::io::Result<()> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&path)?;
        crate::files::restrict_file(&path)?;
        std::io::Write::write_all(&mut file, &contents)?;
        file.sync_data()
    })
    .await
    .map_err(std::io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_link_stays_whole_on_one_line_in_8bit() {
        let link = format!("https://example.test/accept?token=idi_{}", "ab".repeat(40));
        let body = eight_bit_body(&format!("Hello,\n{link}\n")).expect("8bit fits");

        assert_eq!(body.encoding(), ContentTransferEncoding::EightBit);
        let text = String::from_utf8(body.into_vec()).expect("UTF-8");
        assert_eq!(text, format!("Hello,\r\n{link}\r\n"));
    }

    #[test]
    fn a_line_too_long_for_8bit_falls_back() {
        assert!(eight_bit_body(&"x".repeat(MAX_LINE_BYTES + 1)).is_none());
        assert!(eight_bit_body("nul\0byte").is_none());
        assert!(eight_bit_body(&"é".repeat(100)).is_some());
    }
}
