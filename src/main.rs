//! The `identityd` command: serve, migrate or bootstrap.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use identityd::app::{BootstrapStaff, TokenSink};
use identityd::config::Settings;
use identityd::startup::{Application, build_app, open_database};

/// identityd: users, client accounts, staff roles and API credentials over gRPC.
///
/// Settings come from compiled-in defaults, then identityd.toml in the working
/// directory (or --config), then IDENTITYD__SECTION__KEY environment variables,
/// e.g. IDENTITYD__SERVER__LISTEN=0.0.0.0:50051.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// A TOML settings file to read instead of ./identityd.toml.
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve gRPC (the default). Creates and migrates the database; on the first
    /// start with no staff, writes a bootstrap API credential to
    /// <data_dir>/bootstrap-token (mode 0600).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Give a staff user (by default the first start's `admin`) full access and
    /// a new API credential, creating the user if the username is free, and
    /// print the credential's bearer token once, alone on stdout (logs go to
    /// stderr). Works at any time, for example when every credential is lost.
    Bootstrap {
        /// The staff user's email address.
        #[arg(long, default_value = "admin@identityd.invalid")]
        email: String,
        /// The staff user's username.
        #[arg(long, default_value = "admin")]
        username: String,
        /// The staff user's full name.
        #[arg(long, default_value = "Bootstrap Administrator")]
        full_name: String,
    },
    /// Ask a running server whether it serves (grpc.health.v1 Check of the
    /// whole server) and exit 0 when it does, 1 otherwise: for container
    /// health checks. Prints the status on stdout.
    Health {
        /// The server's address; by default `server.listen`, with an
        /// unspecified host (0.0.0.0 or ::) taken as this machine.
        #[arg(long, value_name = "HOST:PORT")]
        addr: Option<String>,
        /// With TLS on (`server.tls_cert_path`), the name the server's
        /// certificate carries; the certificates in that file are trusted.
        #[arg(long, value_name = "NAME", default_value = "localhost")]
        tls_name: String,
    },
}

/// Prints nothing before commit: the token is printed once the credential exists.
struct PrintAfterCommit;

impl TokenSink for PrintAfterCommit {
    fn keep(&mut self, _bearer: &str) -> std::io::Result<()> {
        Ok(())
    }

    fn discard(&mut self) {}
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (settings, unknown) = match Settings::load_reporting_unknown(cli.config.as_deref()) {
        Ok(loaded) => loaded,
        Err(err) => {
            eprintln!("identityd: {err}");
            return ExitCode::from(2);
        }
    };
    identityd::telemetry::init(&settings.log);
    // An unknown key is most likely a typo that leaves a setting at its
    // default: say so, but start, so a variable meant for another version
    // does not stop a rollout.
    for setting in &unknown {
        tracing::warn!(
            key = %setting.key,
            source = %setting.source,
            "unknown setting ignored; check its spelling"
        );
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("identityd: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli.command.unwrap_or(Command::Serve), settings));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let mut message = err.to_string();
            let mut source = err.source();
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            tracing::error!(error = %message, "identityd failed");
            eprintln!("identityd: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        Command::Serve => {
            let application = Application::build(settings).await?;
            application.run_until_stopped().await?;
        }
        Command::Migrate => {
            open_database(&settings).await?;
            tracing::info!("database is up to date");
        }
        Command::Bootstrap {
            email,
            username,
            full_name,
        } => {
            let staff = BootstrapStaff::parse(&email, &username, &full_name)?;
            let app = build_app(&settings, open_database(&settings).await?).await?;
            let created = app.bootstrap(staff, &mut PrintAfterCommit).await?;
            eprintln!(
                "Issued API credential {} with full access to staff user {}. The bearer token on stdout is shown only now.",
                created.credential_id, created.staff_user_id
            );
            println!("{}", created.token.bearer());
        }
        Command::Health { addr, tls_name } => {
            let addr = addr.unwrap_or_else(|| local_address(settings.server.listen));
            let tls = settings
                .server
                .tls_cert_path
                .as_deref()
                .map(|cert| (cert, tls_name.as_str()));
            let status = identityd::startup::check_health(&addr, tls).await?;
            println!("{status}");
            if status != "SERVING" {
                return Err(format!("the server at {addr} is {status}").into());
            }
        }
    }
    Ok(())
}

/// `listen` as an address to call from this machine.
fn local_address(listen: std::net::SocketAddr) -> String {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    std::net::SocketAddr::new(ip, listen.port()).to_string()
}
