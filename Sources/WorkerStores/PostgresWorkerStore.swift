public import BillingDomain
import Foundation
public import Logging
import PostgresNIO

/// The store at scale: PostgreSQL through postgres-nio, one schema per role, shared by every
/// replica of the role. Outbox rows are claimed with `FOR UPDATE SKIP LOCKED`, so concurrent
/// relays never take the same row; migrations run under a transaction-scoped advisory lock, so
/// replicas starting together apply each migration once.
public final class PostgresWorkerStore: WorkerStore {
    public let role: StoreRole
    private let client: PostgresClient
    private let runTask: Task<Void, Never>
    private let started: StartSignal
    private let logger: Logger
    private let schema: String
    private let handoff = OutboxHandoff()

    /// Connects to `url` (`postgres://user:password@host:port/database?sslmode=…`, see ``PostgresTLS``); `schemaPrefix` lets
    /// tests keep apart several sets of schemas in one database.
    public init(url: String, role: StoreRole, schemaPrefix: String = "", logger: Logger) throws {
        guard let components = URLComponents(string: url), components.scheme?.hasPrefix("postgres") == true,
            let host = components.host
        else { throw StoreError("the database URL must look like postgres://user@host:port/database") }
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
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        let started = StartSignal()
        self.started = started
        self.runTask = Task {
            started.signal()
            await client.run()
        }
    }

    /// The client, once its `run()` has begun: a query issued before that waits in the pool, and
    /// postgres-nio logs a warning for each such query (it did, at every start, before this wait).
    private func running() async -> PostgresClient {
        await started.wait()
        return client
    }

    /// `schema.table`, for queries.
    private func table(_ name: String) -> String { "\"\(schema)\".\(name)" }

    /// A rolled-back unit's outcome, carried out of `withTransaction` by throwing.
    private struct RolledBack: Error { let outcome: CommitOutcome }

    public func migrate() async throws {
        let migrations = Migrations.all(for: role)
        let lockKey = Int64(
            truncatingIfNeeded: schema.utf8.reduce(UInt64(14_695_981_039_346_656_037)) {
                ($0 ^ UInt64($1)) &* 1_099_511_628_211
            })
        let schema = self.schema
        try await running().withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(lockKey))", logger: logger)
            try await connection.query("CREATE SCHEMA IF NOT EXISTS \(unescaped: "\"\(schema)\"")", logger: logger)
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

    /// Applies the unit; returns an outcome when it must be rolled back instead.
    private func apply(
        _ unit: UnitOfWork, _ connection: PostgresConnection, _ written: inout OutboxWrites
    ) async throws -> CommitOutcome? {
        if let messageId = unit.messageId {
            let inserted = try await count(
                connection.query(
                    "INSERT INTO \(unescaped: table("inbox")) (message_id) VALUES (\(messageId)) ON CONFLICT DO NOTHING RETURNING 1",
                    logger: logger))
            if inserted == 0 { return .alreadyHandled }
        }
        for write in unit.documents {
            let body = Data(write.body)
            let changed: Int
            if write.expectedVersion == 0 {
                changed = try await count(
                    connection.query(
                        """
                        INSERT INTO \(unescaped: table("documents")) (kind, key, version, body)
                        VALUES (\(write.kind), \(write.key), 1, \(body)) ON CONFLICT DO NOTHING RETURNING 1
                        """, logger: logger))
            } else {
                changed = try await count(
                    connection.query(
                        """
                        UPDATE \(unescaped: table("documents")) SET body = \(body), version = version + 1
                        WHERE kind = \(write.kind) AND key = \(write.key) AND version = \(write.expectedVersion)
                        RETURNING 1
                        """, logger: logger))
            }
            if changed == 0 { return .versionConflict(kind: write.kind, key: write.key) }
        }
        for increment in unit.usage {
            // Added in the database (NUMERIC is exact); a total past its limit is not updated,
            // which returns no row.
            if let conflict = increment.conflict(at: increment.quantity) { return conflict }
            let quantity = try decimalText(increment.quantity)
            let maximum = try increment.maximumTotal.map(decimalText)
            let updated = try await count(
                connection.query(
                    """
                    INSERT INTO \(unescaped: table("usage_totals")) (tenant_id, service_id, metric, month, quantity)
                    VALUES (\(increment.tenantId), \(increment.serviceId), \(increment.metric),
                            \(increment.month.description)::date, \(quantity)::numeric)
                    ON CONFLICT (tenant_id, service_id, metric, month)
                    DO UPDATE SET quantity = usage_totals.quantity + EXCLUDED.quantity
                    WHERE \(maximum)::numeric IS NULL OR usage_totals.quantity + EXCLUDED.quantity <= \(maximum)::numeric
                    RETURNING 1
                    """, logger: logger))
            if updated == 0 { return increment.pastLimit }
        }
        try await writeRecords(of: [unit], connection, &written)
        return nil
    }

    /// The units' invoices, delivery attempts and outbox messages, in unit order: rows only
    /// added, never refused; a statement per table, whatever the number of rows.
    private func writeRecords(
        of units: [UnitOfWork], _ connection: PostgresConnection, _ written: inout OutboxWrites
    ) async throws {
        let invoices = units.flatMap(\.invoices)
        if !invoices.isEmpty {
            try await connection.query(
                """
                INSERT INTO \(unescaped: table("invoices")) (tenant_id, invoice_id, customer_id, currency, issue_date,
                    subtotal, discount_total, total, body)
                SELECT tenant_id, invoice_id, customer_id, currency, issue_date::date, subtotal::numeric,
                    discount_total::numeric, total::numeric, body
                FROM unnest(\(invoices.map(\.tenantId))::text[], \(invoices.map(\.invoiceId))::text[],
                    \(invoices.map(\.customerId))::text[], \(invoices.map(\.currency))::text[],
                    \(invoices.map(\.issueDate.description))::text[],
                    \(try invoices.map { try decimalText($0.subtotal) })::text[],
                    \(try invoices.map { try decimalText($0.discountTotal) })::text[],
                    \(try invoices.map { try decimalText($0.total) })::text[],
                    \(invoices.map { ByteBuffer(bytes: $0.body) })::bytea[])
                    AS i(tenant_id, invoice_id, customer_id, currency, issue_date, subtotal, discount_total, total, body)
                """, logger: logger)
        }
        let deliveries = units.flatMap(\.deliveries)
        if !deliveries.isEmpty {
            // A response code is NULL where none came back.
            try await connection.query(
                """
                INSERT INTO \(unescaped: table("deliveries")) (event_id, target, attempt, status, response_code, at)
                SELECT event_id, target, attempt, status, CASE WHEN has_code THEN response_code END, at
                FROM unnest(\(deliveries.map(\.eventId))::text[], \(deliveries.map(\.target))::text[],
                    \(deliveries.map { Int64($0.attempt) })::int8[], \(deliveries.map(\.status))::text[],
                    \(deliveries.map { $0.responseCode != nil })::bool[],
                    \(deliveries.map { Int64($0.responseCode ?? 0) })::int8[], \(deliveries.map(\.at))::int8[])
                    WITH ORDINALITY AS d(event_id, target, attempt, status, has_code, response_code, at, n)
                ORDER BY n
                """, logger: logger)
        }
        let messages = units.flatMap(\.outbox)
        guard !messages.isEmpty else { return }
        // Each message's id drawn from the sequence beside its position, in order, and read
        // back by position: the relay publishes by id. A hand-off claim's lease runs on the
        // database's clock, as a claim's does.
        let rows = try await connection.query(
            """
            WITH m AS (
                SELECT nextval(pg_get_serial_sequence(\(table("outbox")), 'id')) AS id, *
                FROM unnest(\(messages.map(\.exchange))::text[], \(messages.map(\.routingKey))::text[],
                    \(messages.map(\.messageId))::text[], \(messages.map { $0.type != nil })::bool[],
                    \(messages.map { $0.type ?? "" })::text[], \(messages.map(\.contentType))::text[],
                    \(messages.map { HeaderCoding.encode($0.headers) })::text[],
                    \(messages.map { ByteBuffer(bytes: $0.body) })::bytea[])
                    WITH ORDINALITY AS m(exchange, routing_key, message_id, has_type, type, content_type, headers, body, n)
                ORDER BY n),
            written AS (
                INSERT INTO \(unescaped: table("outbox")) (id, exchange, routing_key, message_id, type, content_type,
                    headers, body, claimed_by, claimed_until)
                SELECT id, exchange, routing_key, message_id, CASE WHEN has_type THEN type END, content_type, headers,
                    body, \(written.claim?.claimant), now() + make_interval(secs => \(written.claim?.lease.inSeconds))
                FROM m ORDER BY id)
            SELECT id FROM m ORDER BY n
            """, logger: logger)
        var ids: [Int64] = []
        for try await id in rows.decode(Int64.self) { ids.append(id) }
        guard ids.count == messages.count else {
            throw StoreError("the outbox took \(ids.count) of \(messages.count) messages")
        }
        for (id, message) in zip(ids, messages) { written.wrote(OutboxRecord(id: id, message: message)) }
    }

    /// Applies units all at once, in a statement per table for all their rows, however many
    /// units there are: all their inbox ids, their documents (``DocumentChain``: each once, new
    /// ones in one statement and changed ones in another), their totals (each once, at its
    /// sum), then their records. Ids, new documents and totals are written in key order, so that
    /// replicas writing the same rows lock them in the same order and do not deadlock (a
    /// changed document is updated through a join, in the order the plan takes; a deadlock
    /// fails the transaction, and the worker goes one by one). (A
    /// statement per row had cost 470 µs a usage: `PipelineBenchmark in-process postgres://…
    /// 2000 20000`.) Returns an outcome when it must be rolled back instead: a repeat (fewer
    /// ids inserted than given), a document not at the version its first write expects (not
    /// written, so not returned), or a total that would pass its limit (not updated, so not
    /// returned).
    private func apply(
        bulk units: [UnitOfWork], _ chains: [DocumentChain], _ connection: PostgresConnection,
        _ written: inout OutboxWrites
    ) async throws -> CommitOutcome? {
        let messageIds = units.compactMap(\.messageId)
        if !messageIds.isEmpty {
            let inserted = try await count(
                connection.query(
                    """
                    INSERT INTO \(unescaped: table("inbox")) (message_id)
                    SELECT id FROM unnest(\(messageIds)::text[]) AS i(id) ORDER BY id
                    ON CONFLICT DO NOTHING RETURNING 1
                    """, logger: logger))
            if inserted != messageIds.count { return .alreadyHandled }
        }
        if let conflict = try await write(chains, connection) { return conflict }
        if let refused = try await add(units.usageSums, connection) { return refused }
        try await writeRecords(of: units, connection, &written)
        return nil
    }

    /// Writes each chain's document at its last write; the first chain, in order, whose
    /// document was not at the version it expects, as a conflict.
    private func write(_ chains: [DocumentChain], _ connection: PostgresConnection) async throws -> CommitOutcome? {
        guard !chains.isEmpty else { return nil }
        var written = Set<DocumentChain.Key>()
        let new = chains.filter { $0.expectedVersion == 0 }.sorted { ($0.kind, $0.key) < ($1.kind, $1.key) }
        if !new.isEmpty {
            let rows = try await connection.query(
                """
                INSERT INTO \(unescaped: table("documents")) (kind, key, version, body)
                SELECT kind, key, version, body
                FROM unnest(\(new.map(\.kind))::text[], \(new.map(\.key))::text[], \(new.map(\.version))::int8[],
                    \(new.map { ByteBuffer(bytes: $0.body) })::bytea[])
                    WITH ORDINALITY AS d(kind, key, version, body, n)
                ORDER BY n
                ON CONFLICT DO NOTHING RETURNING kind, key
                """, logger: logger)
            for try await (kind, key) in rows.decode((String, String).self) {
                written.insert(DocumentChain.Key(kind: kind, key: key))
            }
        }
        let changed = chains.filter { $0.expectedVersion != 0 }.sorted { ($0.kind, $0.key) < ($1.kind, $1.key) }
        if !changed.isEmpty {
            let rows = try await connection.query(
                """
                UPDATE \(unescaped: table("documents")) AS d SET body = u.body, version = u.version
                FROM unnest(\(changed.map(\.kind))::text[], \(changed.map(\.key))::text[],
                    \(changed.map(\.expectedVersion))::int8[], \(changed.map(\.version))::int8[],
                    \(changed.map { ByteBuffer(bytes: $0.body) })::bytea[])
                    AS u(kind, key, expected, version, body)
                WHERE d.kind = u.kind AND d.key = u.key AND d.version = u.expected
                RETURNING d.kind, d.key
                """, logger: logger)
            for try await (kind, key) in rows.decode((String, String).self) {
                written.insert(DocumentChain.Key(kind: kind, key: key))
            }
        }
        guard let missing = chains.first(where: { !written.contains(DocumentChain.Key(kind: $0.kind, key: $0.key)) })
        else { return nil }
        return .versionConflict(kind: missing.kind, key: missing.key)
    }

    /// Adds each total once, at its sum (`Array.usageOnlyAdds`: one limit for all); a total
    /// that would pass its limit, as the outcome.
    private func add(_ sums: [UsageSum], _ connection: PostgresConnection) async throws -> CommitOutcome? {
        guard let first = sums.first else { return nil }
        // A new total is its sum: past the limit already, nothing need be written.
        for added in sums {
            if let conflict = added.increment.conflict(at: added.sum) { return conflict }
        }
        let maximum = try first.increment.maximumTotal.map(decimalText)
        let order = sums.map(\.key)
        let rows = try await connection.query(
            """
            INSERT INTO \(unescaped: table("usage_totals")) AS t (tenant_id, service_id, metric, month, quantity)
            SELECT tenant_id, service_id, metric, month::date, quantity::numeric
            FROM unnest(\(order.map(\.tenantId))::text[], \(order.map(\.serviceId))::text[],
                \(order.map(\.metric))::text[], \(order.map(\.month.description))::text[],
                \(try sums.map { try decimalText($0.sum) })::text[])
                AS u(tenant_id, service_id, metric, month, quantity)
            ORDER BY tenant_id, service_id, metric, month
            ON CONFLICT (tenant_id, service_id, metric, month)
            DO UPDATE SET quantity = t.quantity + EXCLUDED.quantity
            WHERE \(maximum)::numeric IS NULL OR t.quantity + EXCLUDED.quantity <= \(maximum)::numeric
            RETURNING t.tenant_id, t.service_id, t.metric, t.month::text
            """, logger: logger)
        var updated = Set<UsageMonthKey>()
        for try await (tenant, service, metric, month) in rows.decode((String, String, String, String).self) {
            guard let month = CalendarDate(iso: month) else { throw StoreError("unreadable month \(month)") }
            updated.insert(UsageMonthKey(tenantId: tenant, serviceId: service, metric: metric, month: month))
        }
        if let skipped = sums.first(where: { !updated.contains($0.key) }) { return skipped.increment.pastLimit }
        return nil
    }

    private func count(_ rows: PostgresRowSequence) async throws -> Int {
        var count = 0
        for try await _ in rows { count += 1 }
        return count
    }

    public func handledMessages(among messageIds: [String]) async throws -> Set<String> {
        guard !messageIds.isEmpty else { return [] }
        var handled = Set<String>()
        let rows = try await running().query(
            "SELECT message_id FROM \(unescaped: table("inbox")) WHERE message_id = ANY(\(messageIds))", logger: logger)
        for try await id in rows.decode(String.self) { handled.insert(id) }
        return handled
    }

    public func documents(kind: String, keys: [String]) async throws -> [String: StoredDocument] {
        guard !keys.isEmpty else { return [:] }
        let found = try await documents(
            running().query(
                """
                SELECT kind, key, version, body FROM \(unescaped: table("documents"))
                WHERE kind = \(kind) AND key = ANY(\(Array(Set(keys))))
                """, logger: logger))
        return Dictionary(found.map { ($0.key, $0) }) { first, _ in first }
    }

    public func documents(
        kind: String, keyPrefix: String, after: String?, limit: Int
    ) async throws -> [StoredDocument] {
        try await documents(
            running().query(
                """
                SELECT kind, key, version, body FROM \(unescaped: table("documents"))
                WHERE kind = \(kind) AND starts_with(key, \(keyPrefix)) AND key COLLATE "C" > \(after ?? "")
                ORDER BY key COLLATE "C" LIMIT \(limit)
                """, logger: logger))
    }

    private func documents(_ rows: PostgresRowSequence) async throws -> [StoredDocument] {
        var result: [StoredDocument] = []
        for try await (kind, key, version, body) in rows.decode((String, String, Int64, Data).self) {
            result.append(StoredDocument(kind: kind, key: key, body: [UInt8](body), version: version))
        }
        return result
    }

    public func usageTotals(of keys: [UsageMonthKey]) async throws -> [UsageMonthKey: Rational] {
        let keys = Array(Set(keys))
        guard !keys.isEmpty else { return [:] }
        let rows = try await running().query(
            """
            SELECT u.tenant_id, u.service_id, u.metric, to_char(u.month, 'YYYY-MM-DD'), u.quantity::text
            FROM \(unescaped: table("usage_totals")) u
            JOIN unnest(\(keys.map(\.tenantId))::text[], \(keys.map(\.serviceId))::text[],
                        \(keys.map(\.metric))::text[], \(keys.map(\.month.description))::text[]) AS k(t, s, m, d)
              ON u.tenant_id = k.t AND u.service_id = k.s AND u.metric = k.m AND u.month = k.d::date
            """, logger: logger)
        var totals: [UsageMonthKey: Rational] = [:]
        for try await (tenant, service, metric, month, text) in rows.decode(
            (String, String, String, String, String).self)
        {
            guard let month = CalendarDate(iso: month) else { throw StoreError("unreadable month \(month)") }
            totals[UsageMonthKey(tenantId: tenant, serviceId: service, metric: metric, month: month)] =
                try parseDecimal(text)
        }
        return totals
    }

    public func invoice(tenantId: String, invoiceId: String) async throws -> StoredInvoice? {
        let rows = try await running().query(
            """
            SELECT customer_id, currency, issue_date::text, subtotal::text, discount_total::text, total::text, body
            FROM \(unescaped: table("invoices")) WHERE tenant_id = \(tenantId) AND invoice_id = \(invoiceId)
            """, logger: logger)
        for try await (customer, currency, issue, subtotal, discount, total, body) in rows.decode(
            (String, String, String, String, String, String, Data).self)
        {
            guard let issueDate = CalendarDate(iso: issue) else {
                throw StoreError("invoice \(invoiceId) has an unreadable issue date")
            }
            return StoredInvoice(
                tenantId: tenantId, invoiceId: invoiceId, customerId: customer, currency: currency,
                issueDate: issueDate, subtotal: try parseDecimal(subtotal), discountTotal: try parseDecimal(discount),
                total: try parseDecimal(total), body: [UInt8](body))
        }
        return nil
    }

    public func deliveries(eventId: String) async throws -> [DeliveryRecord] {
        let rows = try await running().query(
            """
            SELECT target, attempt, status, response_code, at FROM \(unescaped: table("deliveries"))
            WHERE event_id = \(eventId) ORDER BY target, attempt
            """, logger: logger)
        var result: [DeliveryRecord] = []
        for try await (target, attempt, status, code, at) in rows.decode((String, Int, String, Int?, Int64).self) {
            result.append(
                DeliveryRecord(
                    eventId: eventId, target: target, attempt: attempt, status: status, responseCode: code, at: at))
        }
        return result
    }

    public func handOffOutbox(to claimant: String, lease: Duration) {
        handoff.handOff(to: claimant, lease: lease)
    }

    public func claimOutbox(limit: Int, claimant: String, lease: Duration) async throws -> [OutboxRecord] {
        try await handoff.claim(limit: limit, claimant: claimant) { limit in
            try await self.claimTable(limit: limit, claimant: claimant, lease: lease)
        }
    }

    private func claimTable(limit: Int, claimant: String, lease: Duration) async throws -> [OutboxRecord] {
        let rows = try await running().query(
            """
            UPDATE \(unescaped: table("outbox")) SET claimed_by = \(claimant),
                claimed_until = now() + make_interval(secs => \(lease.inSeconds))
            WHERE id IN (
                SELECT id FROM \(unescaped: table("outbox"))
                WHERE sent_at IS NULL AND (claimed_until IS NULL OR claimed_until < now())
                ORDER BY id LIMIT \(limit) FOR UPDATE SKIP LOCKED)
            RETURNING id, exchange, routing_key, message_id, type, content_type, headers, body
            """, logger: logger)
        var records: [OutboxRecord] = []
        for try await (id, exchange, routingKey, messageId, type, contentType, headers, body) in rows.decode(
            (Int64, String, String, String, String?, String, String, Data).self)
        {
            records.append(
                OutboxRecord(
                    id: id,
                    message: OutboxMessage(
                        exchange: exchange, routingKey: routingKey, messageId: messageId, type: type,
                        contentType: contentType, headers: try HeaderCoding.decode(headers), body: [UInt8](body))))
        }
        return records.sorted { $0.id < $1.id }
    }

    public func releaseOutboxClaims(of claimant: String) async throws -> Int {
        handoff.release(claimant)
        return try await count(
            running().query(
                """
                UPDATE \(unescaped: table("outbox")) SET claimed_by = NULL, claimed_until = NULL
                WHERE claimed_by = \(claimant) RETURNING 1
                """, logger: logger))
    }

    public func markSent(ids: [Int64]) async throws {
        guard !ids.isEmpty else { return }
        try await running().query(
            "DELETE FROM \(unescaped: table("outbox")) WHERE id = ANY(\(ids))", logger: logger)
    }

    public func outboxBacklog() async throws -> Int {
        let rows = try await running().query(
            "SELECT count(*)::bigint FROM \(unescaped: table("outbox")) WHERE sent_at IS NULL", logger: logger)
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }

    /// Whether this store's connection to the server is encrypted (for `sslmode`'s tests and an
    /// operator's check).
    public func usesTLS() async throws -> Bool {
        let rows = try await running().query(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", logger: logger)
        for try await encrypted in rows.decode(Bool.self) { return encrypted }
        return false
    }

    public func close() async throws {
        runTask.cancel()
        await runTask.value
    }
}

/// An error for a log line. PostgreSQL's errors print only a "generic description"; their
/// debug description carries the query's bound values, which can be a tenant's documents and
/// its webhook secret, so neither is logged: the code, SQLSTATE, the server's message and the
/// underlying network error are.
public func loggableDescription(of error: any Error) -> String {
    if let transaction = error as? PostgresTransactionError {
        // Its own description prints the errors inside it in full.
        let parts: [(String, (any Error)?)] = [
            ("begin", transaction.beginError), ("statement", transaction.closureError),
            ("rollback", transaction.rollbackError), ("commit", transaction.commitError),
        ]
        return "PostgreSQL transaction failed: "
            + parts.compactMap { name, error in error.map { "\(name): \(loggableDescription(of: $0))" } }
            .joined(separator: "; ")
    }
    guard let error = error as? PSQLError else { return "\(error)" }
    var text = "PostgreSQL \(error.code)"
    if let state = error.serverInfo?[.sqlState] { text += " SQLSTATE \(state)" }
    if let message = error.serverInfo?[.message] { text += ": \(message)" }
    if let underlying = error.underlying { text += " (\(underlying))" }
    return text
}
