//! Compiles the public API in `proto/` with the pure-Rust `protox` compiler, so
//! building identityd needs no system `protoc`, and writes the encoded file
//! descriptor set that the reflection service and the policy-table test read.

use std::{env, fs, path::PathBuf};

/// The messages whose `Debug` is written by hand, without their secrets.
const SECRET_MESSAGES: &[&str] = &[
    "RegisterRequest",
    "VerifyEmailRequest",
    "LoginRequest",
    "LoginResponse",
    "ChangePasswordRequest",
    "IntrospectSessionRequest",
    "CheckPermissionRequest",
    "ResetPasswordRequest",
    "CreateApiCredentialResponse",
    "CreateInvitationResponse",
    "ResendInvitationResponse",
    "PreviewInvitationRequest",
    "AcceptInvitationRequest",
    "InvitedUser",
    "NewOwner",
    "CreateUserRequest",
];

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

    tonic_prost_build::configure()
        // Messages carrying a password, token, code, secret or link get a
        // hand-written Debug that hides it (src/grpc/redact.rs).
        .skip_debug(
            SECRET_MESSAGES
                .iter()
                .map(|name| format!(".identity.v1.{name}")),
        )
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)?;
    Ok(())
}
