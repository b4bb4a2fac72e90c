//! Compiles the public API in `proto/` with the pure-Rust `protox` compiler, so
//! building identityd needs no system `protoc`, and writes the encoded file
//! descriptor set that the reflection service and the policy-table test read.

use std::{env, fs, path::PathBuf};

/// Whether a field holds a secret by its name: a password, a session or link
/// token, a mailed code, a credential secret, an accept link, a TOTP secret
/// in any of its forms, backup codes. Page tokens are cursors, not secrets.
fn is_secret_field(name: &str) -> bool {
    matches!(
        name,
        "password" | "code" | "token" | "secret" | "otpauth_uri" | "qr_code_svg" | "backup_codes"
    ) || (["_password", "_token", "_secret", "_code", "_link"]
        .iter()
        .any(|suffix| name.ends_with(suffix))
        && !matches!(name, "page_token" | "next_page_token"))
}

/// The full names (`.identity.v1.LoginRequest`) of the messages, nested ones
/// included, that have a string field holding a secret.
fn messages_with_secrets(
    prefix: &str,
    messages: &[protox::prost_reflect::prost_types::DescriptorProto],
    found: &mut Vec<String>,
) {
    use protox::prost_reflect::prost_types::field_descriptor_proto::Type;
    for message in messages {
        let name = format!("{prefix}.{}", message.name());
        if message
            .field
            .iter()
            .any(|field| field.r#type() == Type::String && is_secret_field(field.name()))
        {
            found.push(name.clone());
        }
        messages_with_secrets(&name, &message.nested_type, found);
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = PathBuf::from("proto");
    let mut files: Vec<PathBuf> = fs::read_dir(proto_dir.join("identity/v1"))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "proto"))
        .collect();
    files.sort();

    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=proto");
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }

    let descriptors = protox::compile(&files, [&proto_dir])?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join("identity_descriptor.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )?;

    // Every message with a secret field goes without a derived Debug, so it
    // has none until src/grpc/redact.rs writes one that hides the secret: a
    // new secret field fails the build instead of reaching a log line.
    let mut secret_messages = Vec::new();
    for file in &descriptors.file {
        messages_with_secrets(
            &format!(".{}", file.package()),
            &file.message_type,
            &mut secret_messages,
        );
    }
    tonic_prost_build::configure()
        .skip_debug(secret_messages)
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)?;
    Ok(())
}
