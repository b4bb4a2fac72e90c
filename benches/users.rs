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

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use identityd::domain::{AccountId, AccountStatus, UserId, UserStatus as StoredStatus};
use identityd::proto::user_service_client::UserServiceClient;
use identityd::proto::{GetUserRequest, ListUsersRequest, UserStatus};
use identityd::store::entities::{account, membership, user};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, IntoActiveModel, TransactionTrait,
};

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

/// One user in this many is a member of the large account.
const LARGE_ACCOUNT_EVERY: usize = 100;

/// Members of the small account: a household or a small business.
const SMALL_ACCOUNT_MEMBERS: usize = 5;

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
    /// An account that one user in [`LARGE_ACCOUNT_EVERY`] belongs to.
    large_account: Option<(AccountId, usize)>,
    /// An account with [`SMALL_ACCOUNT_MEMBERS`] members.
    small_account: Option<(AccountId, usize)>,
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
        large_account: None,
        small_account: None,
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
    seed_accounts(db, &mut seeded).await;
    if db.get_database_backend() == DbBackend::Postgres {
        // Autovacuum would soon vacuum and analyze a table that just grew by
        // this much, and would compete with the measurements while doing it.
        // Doing it now gives the planner its statistics and moves the rows
        // waiting in the trigram index's pending list into the index proper,
        // as on a live server.
        db.execute_unprepared("VACUUM ANALYZE users, memberships, accounts")
            .await
            .expect("vacuum and analyze the seeded tables");
    }
    seeded
}

/// Two accounts for the account filter: a large one (a reseller's staff,
/// one user in [`LARGE_ACCOUNT_EVERY`]) and a small one spread across the
/// table, each owned by its first member.
async fn seed_accounts(db: &DatabaseConnection, seeded: &mut Seeded) {
    let ids: Vec<UserId> = seeded
        .ids
        .iter()
        .map(|id| id.parse().expect("a seeded id"))
        .collect();
    let large: Vec<UserId> = ids.iter().step_by(LARGE_ACCOUNT_EVERY).copied().collect();
    let step = (ids.len() / SMALL_ACCOUNT_MEMBERS).max(1);
    let small: Vec<UserId> = ids.iter().skip(step / 2).step_by(step).copied().collect();
    let txn = db.begin().await.expect("begin seeding accounts");
    for (members, slot) in [
        (large, &mut seeded.large_account),
        (small, &mut seeded.small_account),
    ] {
        let Some(&owner) = members.first() else {
            continue;
        };
        let now = now_micros();
        let id = AccountId::generate();
        let row = account::Model {
            id,
            display_name: "Bench Hosting".into(),
            full_name: String::new(),
            company: "Bench Hosting Ltd".into(),
            email: "billing@bench.example".into(),
            address_line1: String::new(),
            address_line2: String::new(),
            city: String::new(),
            state: String::new(),
            postcode: String::new(),
            country: "GB".into(),
            phone: String::new(),
            tax_id: String::new(),
            status: AccountStatus::Active,
            owner_user_id: owner,
            search_text: "bench hosting bench hosting ltd billing@bench.example".into(),
            created_at: now,
            updated_at: now,
            closed_at: None,
            last_activity_at: None,
            retention_hold: false,
            retention_hold_reason: String::new(),
            inactivity_warned_at: None,
        };
        account::Entity::insert(row.into_active_model())
            .exec_without_returning(&txn)
            .await
            .expect("insert an account");
        for chunk in members.chunks(ROWS_PER_STATEMENT) {
            let rows = chunk.iter().map(|&user_id| {
                membership::Model {
                    account_id: id,
                    user_id,
                    permissions: String::new(),
                    created_at: now,
                    updated_at: now,
                }
                .into_active_model()
            });
            membership::Entity::insert_many(rows)
                .exec_without_returning(&txn)
                .await
                .expect("insert memberships");
        }
        *slot = Some((id, members.len()));
    }
    txn.commit().await.expect("commit the accounts");
}

/// One ListUsers scenario.
#[derive(Clone)]
struct Listing {
    /// What the table calls it, after `UserService/ListUsers`.
    label: String,
    /// The search text; empty for none.
    query: String,
    /// The status filter; unspecified for none.
    status: UserStatus,
    /// The account filter; empty for none.
    account_id: String,
    /// Where the page starts; empty for the first page.
    page_token: String,
    /// How many users match.
    matching: usize,
    /// How many users the page must hold.
    expected: usize,
}

/// Runs the benchmark.
fn main() {
    common::block_on(run());
}

/// The page token for the page after the user `after_id` under no filters:
/// a real token from the server with its position moved. Tokens name the
/// last row's id and a fingerprint of the filters, so this starts a page
/// deep in the table without paging there first.
async fn token_after(users: &mut UsersClient, after_id: &str) -> String {
    let first = users
        .list_users(ListUsersRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("list users")
        .into_inner();
    let body = URL_SAFE_NO_PAD
        .decode(&first.next_page_token)
        .expect("a base64 token");
    let mut body: serde_json::Value = serde_json::from_slice(&body).expect("a JSON token");
    body["k"] = serde_json::Value::String(after_id.to_owned());
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&body).expect("JSON"))
}

/// A UserService client authenticated with the bootstrap credential.
type UsersClient = UserServiceClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, common::Bearer>,
>;

/// Seeds the users, starts the server, measures each scenario in
/// `IDENTITYD_BENCH_ROUNDS` rounds (default 3) and prints each round's table
/// and the median. `IDENTITYD_BENCH_ONLY` keeps only the scenarios whose name
/// contains it (the baseline always runs), for profiling one call type.
async fn run() {
    let count = usize::try_from(common::env_number("IDENTITYD_BENCH_USERS", 100_000))
        .expect("a user count that fits in memory");
    assert!(count > 0, "IDENTITYD_BENCH_USERS must be at least 1");
    let rounds = common::env_number("IDENTITYD_BENCH_ROUNDS", 3).max(1);
    let only = std::env::var("IDENTITYD_BENCH_ONLY").unwrap_or_default();
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
    let mut users = server.client(UserServiceClient::with_interceptor);
    let listings = listings(&seeded, count, &mut users).await;
    let wanted = |name: &str| only.is_empty() || name.contains(&only);

    let facts = [format!("{count} users")];
    let mut results = Vec::new();
    for round in 1..=rounds {
        let baseline = bench.measure_health(&server).await;
        let mut figures = vec![baseline];

        let get_user = "UserService/GetUser (random id)";
        if wanted(get_user) {
            let client = users.clone();
            let seeded_ids = Arc::clone(&seeded);
            let next = Arc::new(AtomicU64::new(0));
            let fetched = bench
                .measure(get_user, move || {
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
            figures.push(fetched);
        }

        for listing in &listings {
            let name = format!(
                "UserService/ListUsers {} ({} matching)",
                listing.label, listing.matching
            );
            if !wanted(&name) {
                continue;
            }
            // Every call must return this many users, so errors and empty
            // pages cannot pass for fast answers.
            let expected = listing.expected;
            let client = users.clone();
            let request = ListUsersRequest {
                page_size: PAGE_SIZE as i32,
                query: listing.query.clone(),
                status: listing.status.into(),
                account_id: listing.account_id.clone(),
                page_token: listing.page_token.clone(),
                ..Default::default()
            };
            let listed = bench
                .measure(name, move || {
                    let mut client = client.clone();
                    let request = request.clone();
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
        if rounds > 1 {
            bench.print_table(
                "identityd user benchmark",
                &[facts[0].clone(), format!("round {round} of {rounds}")],
                &figures,
            );
        }
        results.push(figures);
    }
    if rounds > 1 {
        bench.print_median_table("identityd user benchmark", &facts, &results);
    } else {
        bench.print_table("identityd user benchmark", &facts, &results[0]);
    }
    bench.finish().await;
}

/// The ListUsers scenarios: the first page, a page deep in the keyset, a
/// common and a rare search, a status filter and the account filter.
async fn listings(seeded: &Seeded, count: usize, users: &mut UsersClient) -> Vec<Listing> {
    if count >= 10_000 {
        assert!(
            seeded.matching(COMMON_FRAGMENT) >= PAGE_SIZE,
            "the common search must fill a page"
        );
    }
    // The bootstrap staff user is there too, so every user is count + 1.
    let first_page = Listing {
        label: "no filter".to_owned(),
        query: String::new(),
        status: UserStatus::Unspecified,
        account_id: String::new(),
        page_token: String::new(),
        matching: count + 1,
        expected: PAGE_SIZE.min(count + 1),
    };
    // Newest first, so the page after the middle user holds older users.
    let middle = count / 2;
    let deep_page = Listing {
        label: format!("page after user {middle} of {count}"),
        page_token: token_after(users, &seeded.ids[middle]).await,
        expected: PAGE_SIZE.min(middle),
        ..first_page.clone()
    };
    let mut listings = vec![first_page, deep_page];
    for query in [COMMON_FRAGMENT.to_owned(), seeded.rare_fragment.clone()] {
        let matching = seeded.matching(&query);
        listings.push(Listing {
            label: format!("query {query:?}"),
            query,
            status: UserStatus::Unspecified,
            account_id: String::new(),
            page_token: String::new(),
            matching,
            expected: matching.min(PAGE_SIZE),
        });
    }
    listings.push(Listing {
        label: "status SUSPENDED".to_owned(),
        query: String::new(),
        status: UserStatus::Suspended,
        account_id: String::new(),
        page_token: String::new(),
        matching: seeded.suspended,
        expected: seeded.suspended.min(PAGE_SIZE),
    });
    for (size, account) in [
        ("large", seeded.large_account),
        ("small", seeded.small_account),
    ] {
        if let Some((id, members)) = account {
            listings.push(Listing {
                label: format!("{size} account's members"),
                query: String::new(),
                status: UserStatus::Unspecified,
                account_id: id.to_string(),
                page_token: String::new(),
                matching: members,
                expected: members.min(PAGE_SIZE),
            });
        }
    }
    for listing in &listings {
        assert!(
            listing.matching > 0,
            "ListUsers {} must find someone",
            listing.label
        );
    }
    listings
}
