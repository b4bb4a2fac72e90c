//! What UserService reads cost with many users: GetUser and ListUsers (first
//! page, text search, status filter), beside the gRPC health check as a
//! baseline measured in the same run on the same server.
//!
//! `cargo bench --bench users` (SQLite in a temporary directory), or with
//! `IDENTITYD_BENCH_POSTGRES_URL=postgres://user@host/postgres`, an account
//! that may create databases: the run creates `identityd_bench_*` and drops it.
//! `IDENTITYD_BENCH_USERS` (default 100 000) users are inserted straight into
//! the database before the server starts; `IDENTITYD_BENCH_SECONDS` (default 5)
//! and `IDENTITYD_BENCH_CONCURRENCY` (default 16) shape each scenario.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use identityd::domain::{UserId, UserStatus as StoredStatus};
use identityd::proto::user_service_client::UserServiceClient;
use identityd::proto::{GetUserRequest, ListUsersRequest, UserStatus};
use identityd::store::entities::user;
use sea_orm::ActiveValue::Set;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, TransactionTrait};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use common::Bench;

/// Given names, at most 10 characters so every username fits in 32.
#[rustfmt::skip]
const FIRST_NAMES: &[&str] = &[
    "james", "mary", "john", "patricia", "robert", "jennifer", "michael", "linda", "william",
    "elizabeth", "david", "barbara", "richard", "susan", "joseph", "jessica", "thomas", "sarah",
    "charles", "karen", "daniel", "nancy", "matthew", "lisa", "anthony", "betty", "mark",
    "margaret", "donald", "sandra", "steven", "ashley", "paul", "kimberly", "andrew", "emily",
    "joshua", "donna", "kenneth", "michelle", "kevin", "carol", "brian", "amanda", "george",
    "melissa", "timothy", "deborah", "ronald", "stephanie", "maria", "jose", "juan", "ana",
    "carlos", "lucia", "miguel", "sofia", "pedro", "camila", "joao", "beatriz", "rafael",
    "mariana", "lukas", "hannah", "felix", "lena", "jonas", "anna", "pierre", "camille", "louis",
    "chloe", "giulia", "marco", "wei", "fang", "hiroshi", "yuki", "min-jun", "seo-yeon", "arjun",
    "priya", "rahul", "ananya", "omar", "fatima", "ahmed", "aisha", "ivan", "olga", "dmitri",
    "katarzyna", "piotr", "sven", "ingrid", "kwame", "amara", "tariq",
];

/// Family names, at most 10 characters so every username fits in 32.
#[rustfmt::skip]
const LAST_NAMES: &[&str] = &[
    "smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis", "rodriguez",
    "martinez", "hernandez", "lopez", "gonzalez", "wilson", "anderson", "thomas", "taylor",
    "moore", "jackson", "martin", "lee", "perez", "thompson", "white", "harris", "sanchez",
    "clark", "ramirez", "lewis", "robinson", "walker", "young", "allen", "king", "wright", "scott",
    "torres", "nguyen", "hill", "flores", "green", "adams", "nelson", "baker", "hall", "rivera",
    "campbell", "mitchell", "carter", "roberts", "silva", "santos", "oliveira", "souza", "pereira",
    "costa", "ferreira", "almeida", "mueller", "schmidt", "schneider", "fischer", "weber", "meyer",
    "wagner", "becker", "dubois", "lefebvre", "moreau", "laurent", "rossi", "russo", "ferrari",
    "esposito", "bianchi", "wang", "zhang", "chen", "yamamoto", "tanaka", "watanabe", "kim",
    "park", "choi", "sharma", "patel", "singh", "gupta", "khan", "hassan", "ivanov", "petrov",
    "kowalski", "nowak", "andersson", "johansson", "mensah", "okafor", "novak", "horvat",
];

/// Mail domains; reserved example names, none containing a name above.
const DOMAINS: &[&str] = &[
    "example.com",
    "example.org",
    "example.net",
    "mail.example.com",
    "corp.example",
    "example.co.uk",
    "inbox.example",
];

/// Language tags, `None` for users who never chose one.
const LOCALES: &[Option<&str>] = &[
    None,
    None,
    Some("en"),
    Some("en-GB"),
    Some("de"),
    Some("fr"),
    Some("es"),
    Some("pt-BR"),
];

/// The family name the common search looks for; about 1% of users have it.
const COMMON_FRAGMENT: &str = "garcia";

/// Users per INSERT statement: 16 columns each, so 16 000 values, under
/// SQLite's 32 766 and PostgreSQL's 65 535 bound parameters.
const ROWS_PER_STATEMENT: usize = 1_000;

/// Statements per transaction.
const STATEMENTS_PER_TRANSACTION: usize = 10;

/// The page size every ListUsers call asks for.
const PAGE_SIZE: usize = 50;

/// A small deterministic generator (SplitMix64), so every run seeds the same users.
struct SplitMix64(u64);

impl SplitMix64 {
    /// The next 64 random bits.
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// A number below `n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// One of `items`.
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// SplitMix64's output function: scrambles `z` into well-spread bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Microseconds since the Unix epoch.
fn now_micros() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970");
    i64::try_from(since_epoch.as_micros()).expect("a time before the year 294 247")
}

/// What seeding wrote, for choosing requests and checking responses.
struct Seeded {
    /// Every seeded user's id, oldest first.
    ids: Vec<String>,
    /// Each seeded user's search text, as the store derives it.
    search_texts: Vec<String>,
    /// How many seeded users are suspended.
    suspended: usize,
    /// A full name that a handful of users share: the rare search.
    rare_fragment: String,
}

impl Seeded {
    /// How many seeded users ListUsers finds for `query`.
    fn matching(&self, query: &str) -> usize {
        let text = query.to_lowercase();
        self.search_texts
            .iter()
            .filter(|t| t.contains(&text))
            .count()
    }
}

/// One user: `first.last.<n>` at one of several domains, mostly active.
fn user_row(n: usize, rng: &mut SplitMix64) -> user::Model {
    let first = *rng.pick(FIRST_NAMES);
    let last = *rng.pick(LAST_NAMES);
    let username = format!("{first}.{last}.{n}");
    let email = format!("{username}@{}", rng.pick(DOMAINS));
    let status = match rng.below(100) {
        0..90 => StoredStatus::Active,
        90..97 => StoredStatus::PendingVerification,
        _ => StoredStatus::Suspended,
    };
    let now = now_micros();
    let mut row = user::Model {
        id: UserId::generate(),
        email_normalized: email.to_lowercase(),
        email,
        username_normalized: username.to_lowercase(),
        username,
        full_name: format!("{} {}", capitalised(first), capitalised(last)),
        photo_url: (rng.below(4) == 0).then(|| format!("https://images.example.com/u/{n}.jpg")),
        locale: rng.pick(LOCALES).map(str::to_owned),
        status,
        email_verified: status != StoredStatus::PendingVerification,
        password_hash: None,
        admin_role_id: None,
        created_at: now,
        updated_at: now,
        last_login_at: None,
        mfa_enabled_at: None,
        primary_account_id: None,
        search_text: String::new(),
    };
    row.search_text = search_text(&row);
    row
}

/// The text ListUsers searches, derived exactly as `store::users` does:
/// lower-cased full name, normalized username and normalized email.
fn search_text(row: &user::Model) -> String {
    format!(
        "{} {} {}",
        row.full_name.to_lowercase(),
        row.username_normalized,
        row.email_normalized
    )
}

/// `name` with its first letter and each letter after a hyphen in upper case.
fn capitalised(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        if upper {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        upper = c == '-';
    }
    out
}

/// Every field of `row` set, for an insert.
fn active_model(row: user::Model) -> user::ActiveModel {
    user::ActiveModel {
        id: Set(row.id),
        email: Set(row.email),
        email_normalized: Set(row.email_normalized),
        username: Set(row.username),
        username_normalized: Set(row.username_normalized),
        full_name: Set(row.full_name),
        photo_url: Set(row.photo_url),
        locale: Set(row.locale),
        status: Set(row.status),
        email_verified: Set(row.email_verified),
        password_hash: Set(row.password_hash),
        admin_role_id: Set(row.admin_role_id),
        created_at: Set(row.created_at),
        updated_at: Set(row.updated_at),
        last_login_at: Set(row.last_login_at),
        mfa_enabled_at: Set(row.mfa_enabled_at),
        primary_account_id: Set(row.primary_account_id),
        search_text: Set(row.search_text),
    }
}

/// Inserts `count` users straight into the database, in multi-row INSERTs
/// inside transactions, and on PostgreSQL vacuums and analyzes the table.
async fn seed(db: &DatabaseConnection, count: usize) -> Seeded {
    let mut rng = SplitMix64(0x1d3e_771e_5eed);
    let mut seeded = Seeded {
        ids: Vec::with_capacity(count),
        search_texts: Vec::with_capacity(count),
        suspended: 0,
        rare_fragment: String::new(),
    };
    let mut n = 0;
    while n < count {
        let txn = db.begin().await.expect("begin a seeding transaction");
        for _ in 0..STATEMENTS_PER_TRANSACTION {
            let batch = ROWS_PER_STATEMENT.min(count - n);
            if batch == 0 {
                break;
            }
            let mut rows = Vec::with_capacity(batch);
            for _ in 0..batch {
                let row = user_row(n, &mut rng);
                if n == count / 2 {
                    seeded.rare_fragment = row.full_name.clone();
                }
                if row.status == StoredStatus::Suspended {
                    seeded.suspended += 1;
                }
                seeded.ids.push(row.id.to_string());
                seeded.search_texts.push(row.search_text.clone());
                rows.push(active_model(row));
                n += 1;
            }
            user::Entity::insert_many(rows)
                .exec_without_returning(&txn)
                .await
                .expect("insert a batch of users");
        }
        txn.commit().await.expect("commit a seeding transaction");
    }
    if db.get_database_backend() == DbBackend::Postgres {
        // Autovacuum would soon vacuum and analyze a table that just grew by
        // this much, and would compete with the measurements while doing it.
        // Doing it now gives the planner its statistics and moves the rows
        // waiting in the trigram index's pending list into the index proper,
        // as on a live server.
        db.execute_unprepared("VACUUM ANALYZE users")
            .await
            .expect("vacuum and analyze the users table");
    }
    seeded
}

/// One ListUsers scenario.
struct Listing {
    /// What the table calls it, after `UserService/ListUsers`.
    label: String,
    /// The search text; empty for none.
    query: String,
    /// The status filter; unspecified for none.
    status: UserStatus,
    /// How many users match, so how full the page must be.
    matching: usize,
}

/// Runs the benchmark.
fn main() {
    common::block_on(run());
}

/// Seeds the users, starts the server, measures each scenario and prints the table.
async fn run() {
    let count = usize::try_from(common::env_number("IDENTITYD_BENCH_USERS", 100_000))
        .expect("a user count that fits in memory");
    assert!(count > 0, "IDENTITYD_BENCH_USERS must be at least 1");
    let bench = Bench::from_env().await;
    let application = bench.build().await;
    let started = Instant::now();
    let seeded = Arc::new(seed(application.app().db(), count).await);
    let seeding = started.elapsed();
    println!(
        "seeded {count} users on {} in {:.1} s",
        bench.backend,
        seeding.as_secs_f64()
    );
    let server = bench.serve(application).await;
    let users = server.client(UserServiceClient::with_interceptor);

    let health = HealthClient::new(server.channel.clone());
    let baseline = bench
        .measure("grpc.health.v1.Health/Check (baseline)", move || {
            let mut health = health.clone();
            async move {
                health
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                    .expect("health check");
            }
        })
        .await;

    let client = users.clone();
    let seeded_ids = Arc::clone(&seeded);
    let next = Arc::new(AtomicU64::new(0));
    let fetched = bench
        .measure("UserService/GetUser (random id)", move || {
            let mut client = client.clone();
            let turn = next.fetch_add(1, Ordering::Relaxed);
            let ids = &seeded_ids.ids;
            let user_id = ids[(mix(turn) % ids.len() as u64) as usize].clone();
            async move {
                let user = client
                    .get_user(GetUserRequest {
                        user_id: user_id.clone(),
                    })
                    .await
                    .expect("get user")
                    .into_inner()
                    .user
                    .expect("a user");
                assert_eq!(user.id, user_id, "GetUser answered another user");
            }
        })
        .await;

    // The bootstrap staff user is there too, so every user is count + 1.
    let listings = [
        Listing {
            label: "no filter".to_owned(),
            query: String::new(),
            status: UserStatus::Unspecified,
            matching: count + 1,
        },
        Listing {
            label: format!("query {COMMON_FRAGMENT:?}"),
            query: COMMON_FRAGMENT.to_owned(),
            status: UserStatus::Unspecified,
            matching: seeded.matching(COMMON_FRAGMENT),
        },
        Listing {
            label: format!("query {:?}", seeded.rare_fragment),
            query: seeded.rare_fragment.clone(),
            status: UserStatus::Unspecified,
            matching: seeded.matching(&seeded.rare_fragment),
        },
        Listing {
            label: "status SUSPENDED".to_owned(),
            query: String::new(),
            status: UserStatus::Suspended,
            matching: seeded.suspended,
        },
    ];
    if count >= 10_000 {
        assert!(
            seeded.matching(COMMON_FRAGMENT) >= PAGE_SIZE,
            "the common search must fill a page"
        );
    }
    let mut figures = vec![baseline, fetched];
    for Listing {
        label,
        query,
        status,
        matching,
    } in listings
    {
        assert!(matching > 0, "ListUsers {label} must find someone");
        // Every call must return this many users, so errors and empty pages
        // cannot pass for fast answers.
        let expected = matching.min(PAGE_SIZE);
        let client = users.clone();
        let name = format!("UserService/ListUsers {label} ({matching} matching)");
        let listed = bench
            .measure(name, move || {
                let mut client = client.clone();
                let request = ListUsersRequest {
                    page_size: PAGE_SIZE as i32,
                    query: query.clone(),
                    status: status.into(),
                    ..Default::default()
                };
                async move {
                    let page = client
                        .list_users(request)
                        .await
                        .expect("list users")
                        .into_inner();
                    assert_eq!(page.users.len(), expected, "a page of the expected size");
                }
            })
            .await;
        figures.push(listed);
    }

    bench.print_table(
        "identityd user benchmark",
        &[format!("{count} users")],
        &figures,
    );
    bench.finish().await;
}
