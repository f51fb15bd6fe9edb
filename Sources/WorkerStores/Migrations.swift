/// The schema of each role, as numbered migrations. Both backends apply the same list in their
/// own SQL dialect; a migration once shipped is never edited, only followed by a new one.
struct Migration: Sendable {
    let version: Int
    let name: String
    /// Statements for SQLite and for PostgreSQL (inside the role's schema).
    let sqlite: [String]
    let postgres: [String]
}

enum Migrations {
    static func all(for role: StoreRole) -> [Migration] {
        var migrations = [common]
        switch role {
        case .rating: migrations.append(usageTotals)
        case .invoicing: migrations.append(invoices)
        case .notification: migrations.append(deliveries)
        case .provisioning, .commitments, .documents: break
        }
        return migrations + [scopedInbox]
    }

    static let common = Migration(
        version: 1, name: "inbox, outbox, documents",
        sqlite: [
            "CREATE TABLE inbox (message_id TEXT PRIMARY KEY, handled_at INTEGER NOT NULL)",
            """
            CREATE TABLE outbox (
                id INTEGER PRIMARY KEY AUTOINCREMENT, exchange TEXT NOT NULL, routing_key TEXT NOT NULL,
                message_id TEXT NOT NULL, type TEXT, content_type TEXT NOT NULL, headers TEXT NOT NULL,
                body BLOB NOT NULL, created_at INTEGER NOT NULL, claimed_by TEXT, claimed_until REAL,
                sent_at INTEGER)
            """,
            "CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL",
            """
            CREATE TABLE documents (
                kind TEXT NOT NULL, key TEXT NOT NULL, version INTEGER NOT NULL, body BLOB NOT NULL,
                PRIMARY KEY (kind, key))
            """,
        ],
        postgres: [
            "CREATE TABLE inbox (message_id TEXT PRIMARY KEY, handled_at TIMESTAMPTZ NOT NULL DEFAULT now())",
            """
            CREATE TABLE outbox (
                id BIGSERIAL PRIMARY KEY, exchange TEXT NOT NULL, routing_key TEXT NOT NULL,
                message_id TEXT NOT NULL, type TEXT, content_type TEXT NOT NULL, headers TEXT NOT NULL,
                body BYTEA NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now(), claimed_by TEXT,
                claimed_until TIMESTAMPTZ, sent_at TIMESTAMPTZ)
            """,
            "CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL",
            """
            CREATE TABLE documents (
                kind TEXT NOT NULL, key TEXT NOT NULL, version BIGINT NOT NULL, body BYTEA NOT NULL,
                PRIMARY KEY (kind, key))
            """,
        ])

    static let usageTotals = Migration(
        version: 2, name: "usage totals",
        sqlite: [
            // Quantities as exact decimal text: SQLite has no decimal type.
            """
            CREATE TABLE usage_totals (
                tenant_id TEXT NOT NULL, service_id TEXT NOT NULL, metric TEXT NOT NULL, month TEXT NOT NULL,
                quantity TEXT NOT NULL, PRIMARY KEY (tenant_id, service_id, metric, month))
            """
        ],
        postgres: [
            """
            CREATE TABLE usage_totals (
                tenant_id TEXT NOT NULL, service_id TEXT NOT NULL, metric TEXT NOT NULL, month DATE NOT NULL,
                quantity NUMERIC NOT NULL, PRIMARY KEY (tenant_id, service_id, metric, month))
            """
        ])

    static let invoices = Migration(
        version: 2, name: "invoices",
        sqlite: [
            """
            CREATE TABLE invoices (
                tenant_id TEXT NOT NULL, invoice_id TEXT NOT NULL, customer_id TEXT NOT NULL, currency TEXT NOT NULL,
                issue_date TEXT NOT NULL, subtotal TEXT NOT NULL, discount_total TEXT NOT NULL, total TEXT NOT NULL,
                body BLOB NOT NULL, PRIMARY KEY (tenant_id, invoice_id))
            """
        ],
        postgres: [
            """
            CREATE TABLE invoices (
                tenant_id TEXT NOT NULL, invoice_id TEXT NOT NULL, customer_id TEXT NOT NULL, currency TEXT NOT NULL,
                issue_date DATE NOT NULL, subtotal NUMERIC NOT NULL, discount_total NUMERIC NOT NULL,
                total NUMERIC NOT NULL, body BYTEA NOT NULL, PRIMARY KEY (tenant_id, invoice_id))
            """
        ])

    static let deliveries = Migration(
        version: 2, name: "webhook deliveries",
        sqlite: [
            """
            CREATE TABLE deliveries (
                event_id TEXT NOT NULL, target TEXT NOT NULL, attempt INTEGER NOT NULL, status TEXT NOT NULL,
                response_code INTEGER, at INTEGER NOT NULL, PRIMARY KEY (event_id, target, attempt))
            """
        ],
        postgres: [
            """
            CREATE TABLE deliveries (
                event_id TEXT NOT NULL, target TEXT NOT NULL, attempt INTEGER NOT NULL, status TEXT NOT NULL,
                response_code INTEGER, at BIGINT NOT NULL, PRIMARY KEY (event_id, target, attempt))
            """
        ])

    /// Inbox keys became `<tenant>/<id>` (ids are scoped by tenant); the bare ids recorded
    /// before are kept as `~<id>`, which no scoped key can be (a tenant id has no `~`), and still
    /// count as handled (`Inbox.swift` in WorkerRuntime).
    static let scopedInbox = Migration(
        version: 3, name: "inbox keys scoped by tenant",
        sqlite: ["UPDATE inbox SET message_id = '~' || message_id"],
        postgres: ["UPDATE inbox SET message_id = '~' || message_id"])
}
