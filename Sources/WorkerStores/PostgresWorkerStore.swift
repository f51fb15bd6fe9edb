import BillingDomain
import Foundation
public import Logging
import PostgresNIO

/// The store at scale: PostgreSQL through postgres-nio, one schema per role, shared by every
/// replica of the role. Outbox rows are claimed with `FOR UPDATE SKIP LOCKED`, so concurrent
/// relays never take the same row; migrations run under a transaction-scoped advisory lock, so
/// replicas starting together apply each migration once.
public final class PostgresWorkerStore: WorkerStore {
    public let role: StoreRole
    let client: PostgresClient
    let started = StartSignal()
    let closing = StartSignal()
    let finished = StartSignal()
    let logger: Logger
    let schema: String
    let handoff = OutboxHandoff()

    /// Connects to `url` (`postgres://user:password@host:port/database?sslmode=…`, see ``PostgresTLS``); `schemaPrefix` lets
    /// tests keep apart several sets of schemas in one database.
    public init(url: String, role: StoreRole, schemaPrefix: String = "", logger: Logger) throws {
        guard let components = URLComponents(string: url), components.scheme?.hasPrefix("postgres") == true,
            let host = components.host
        else { throw StoreError(.configuration, "the database URL must look like postgres://user@host:port/database") }
        let database = String(components.path.dropFirst())
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: components.user ?? "postgres",
            password: components.password?.removingPercentEncoding, database: database.isEmpty ? nil : database,
            tls: try PostgresTLS.configuration(components))
        configuration.options.maximumConnections = 10
        self.role = role
        // postgres-nio's debug and trace lines carry queries' bound values and rows (tenant
        // documents, webhook secrets): never below info, whatever the worker logs.
        var logger = logger
        logger.logLevel = max(logger.logLevel, .info)
        self.logger = logger
        self.schema = "\(schemaPrefix)\(role.rawValue)"
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
    }

    /// Runs the connection pool (postgres-nio's `PostgresClient.run()`) as a child of the caller,
    /// until the caller is cancelled or ``close()`` is called.
    public func run() async {
        started.signal()
        await withDiscardingTaskGroup { group in
            group.addTask { [client] in await client.run() }
            await withTaskCancellationHandler {
                await closing.wait()
            } onCancel: {
                closing.signal()
            }
            group.cancelAll()
        }
        finished.signal()
    }

    /// The client, once ``run()`` has begun: a query issued before that waits in the pool, and
    /// postgres-nio logs a warning for each such query (it did, at every start, before this wait).
    func running() async -> PostgresClient {
        await started.wait()
        return client
    }

    /// `schema.table`, for queries.
    func table(_ name: String) -> String { "\"\(schema)\".\(name)" }

    /// A rolled-back unit's outcome, carried out of `withTransaction` by throwing.
    struct RolledBack: Error { let outcome: CommitOutcome }

    public func migrate() async throws {
        let migrations = Migrations.all(for: role)
        let lockKey = Int64(
            truncatingIfNeeded: schema.utf8.reduce(UInt64(14_695_981_039_346_656_037)) {
                ($0 ^ UInt64($1)) &* 1_099_511_628_211
            })
        let schema = self.schema
        try await running().withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(lockKey))", logger: logger)
            // A schema the operator made for the role (compose gives each role its own user,
            // owning its schema) is not created again: CREATE SCHEMA IF NOT EXISTS asks for
            // CREATE on the whole database even when the schema exists.
            let existing = try await connection.query(
                "SELECT 1 FROM pg_namespace WHERE nspname = \(schema)", logger: logger)
            var exists = false
            for try await _ in existing { exists = true }
            if !exists {
                try await connection.query("CREATE SCHEMA IF NOT EXISTS \(unescaped: "\"\(schema)\"")", logger: logger)
            }
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS \(unescaped: self.table("schema_migrations"))
                (version INTEGER PRIMARY KEY, name TEXT NOT NULL)
                """, logger: logger)
            var applied: Set<Int> = []
            for try await version in try await connection.query(
                "SELECT version FROM \(unescaped: self.table("schema_migrations"))", logger: logger
            ).decode(Int.self) {
                applied.insert(version)
            }
            try await connection.query("SET LOCAL search_path TO \(unescaped: "\"\(schema)\"")", logger: logger)
            for migration in migrations where !applied.contains(migration.version) {
                for statement in migration.postgres {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO \(unescaped: self.table("schema_migrations")) (version, name) VALUES (\(migration.version), \(migration.name))",
                    logger: logger)
            }
        }
    }

    public func commit(batch units: [UnitOfWork]) async throws -> [CommitOutcome] {
        // One unit: its own transaction, rolled back whole on a repeat or a conflict.
        if units.count == 1 { return [try await commit(together: units)] }
        let chains = units.bulkDocumentChains
        let (outcomes, written) = try await running().withTransaction(logger: logger) { connection in
            var written = OutboxWrites(self.handoff)
            // All the units at once, as though together (a statement per table, not per row);
            // if anything is refused, that is undone and the units go one by one, each with
            // the outcome it has alone.
            if let chains {
                try await connection.query("SAVEPOINT batch", logger: self.logger)
                if try await self.apply(bulk: units, chains, connection, &written) == nil {
                    return (Array(repeating: CommitOutcome.committed, count: units.count), written)
                }
                try await connection.query("ROLLBACK TO SAVEPOINT batch", logger: self.logger)
                written.records.removeAll()
            }
            var outcomes: [CommitOutcome] = []
            for unit in units {
                // No savepoint where a repeat is the only refusal (found before anything is written).
                guard unit.needsSavepoint else {
                    outcomes.append(try await self.apply(unit, connection, &written) ?? .committed)
                    continue
                }
                try await connection.query("SAVEPOINT unit", logger: self.logger)
                let mark = written.records.count
                if let outcome = try await self.apply(unit, connection, &written) {
                    try await connection.query("ROLLBACK TO SAVEPOINT unit", logger: self.logger)
                    written.records.removeSubrange(mark...)
                    outcomes.append(outcome)
                } else {
                    outcomes.append(.committed)
                }
                try await connection.query("RELEASE SAVEPOINT unit", logger: self.logger)
            }
            return (outcomes, written)
        }
        written.handOver()
        return outcomes
    }

    public func commit(together units: [UnitOfWork]) async throws -> CommitOutcome {
        do {
            let written = try await running().withTransaction(logger: logger) { connection in
                var written = OutboxWrites(self.handoff)
                if let chains = units.bulkDocumentChains {
                    if let outcome = try await self.apply(bulk: units, chains, connection, &written) {
                        throw RolledBack(outcome: outcome)
                    }
                    return written
                }
                for unit in units {
                    if let outcome = try await self.apply(unit, connection, &written) {
                        throw RolledBack(outcome: outcome)
                    }
                }
                return written
            }
            written.handOver()
            return .committed
        } catch let error as PostgresTransactionError {
            if let rolledBack = error.closureError as? RolledBack, error.rollbackError == nil {
                return rolledBack.outcome
            }
            throw error
        }
    }

    /// Ends ``run()`` and waits until the pool's connections are closed (at once if it never ran).
    public func close() async throws {
        closing.signal()
        if started.isGiven { await finished.wait() }
    }
}
