public import BillingDomain
import CovenantMessages
import Foundation
import GRDB

/// The embedded store: one SQLite file per role, in WAL mode, shared safely by several
/// processes of the role on one machine (every write is a `BEGIN IMMEDIATE` transaction, so
/// writers queue on SQLite's lock with a busy timeout instead of failing to upgrade).
public final class SQLiteWorkerStore: WorkerStore {
    public let role: StoreRole
    private let pool: DatabasePool
    private let handoff = OutboxHandoff()

    /// Opens (creating if needed) `<directory>/<role>.sqlite`.
    public init(directory: String, role: StoreRole, busyTimeout: Duration = .seconds(30)) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.busyMode = .timeout(TimeInterval(busyTimeout.components.seconds))
        configuration.label = "covenant.\(role.rawValue)"
        self.role = role
        self.pool = try Self.open("\(directory)/\(role.rawValue).sqlite", configuration, patience: busyTimeout)
        // GRDB opens a pool in WAL mode with synchronous=NORMAL: a commit would not wait for the
        // disk, and a machine that lost power could lose transactions already acknowledged to
        // the broker. Every commit is flushed before the worker acknowledges.
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
    }

    /// The writer's `PRAGMA synchronous` (2: FULL).
    func synchronousSetting() throws -> Int {
        try pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    /// Opens the pool, waiting while another process holds the lock that switching a new file
    /// to WAL needs (replicas starting together): SQLite reports that as `SQLITE_BUSY` at once,
    /// without calling the busy handler.
    private static func open(_ path: String, _ configuration: Configuration, patience: Duration) throws -> DatabasePool
    {
        let deadline = ContinuousClock.now + patience
        while true {
            do {
                return try DatabasePool(path: path, configuration: configuration)
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY && ContinuousClock.now < deadline
            {
                Thread.sleep(forTimeInterval: 0.02 + Double.random(in: 0..<0.03))
            }
        }
    }

    public func migrate() async throws {
        let migrations = Migrations.all(for: role)
        try await pool.writeWithoutTransaction { db in
            try db.inTransaction(.immediate) {
                try db.execute(
                    sql:
                        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)"
                )
                let applied = Set(try Int.fetchAll(db, sql: "SELECT version FROM schema_migrations"))
                for migration in migrations where !applied.contains(migration.version) {
                    for statement in migration.sqlite { try db.execute(sql: statement) }
                    try db.execute(
                        sql: "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                        arguments: [migration.version, migration.name])
                }
                return .commit
            }
        }
    }

    public func commit(batch units: [UnitOfWork]) async throws -> [CommitOutcome] {
        let (outcomes, written) = try await pool.writeWithoutTransaction { db in
            var outcomes: [CommitOutcome] = []
            var written = OutboxWrites(self.handoff)
            try db.inTransaction(.immediate) {
                var totals = try Self.storedTotals(addedToBy: units, db)
                for unit in units {
                    // A unit that writes no documents can only be refused as a repeat, by its
                    // first statement, before it wrote anything: it needs no savepoint.
                    guard unit.needsSavepoint else {
                        outcomes.append(try Self.apply(unit, db, &written, &totals))
                        continue
                    }
                    var outcome = CommitOutcome.committed
                    let mark = written.records.count
                    let totalsBefore = totals
                    try db.inSavepoint {
                        outcome = try Self.apply(unit, db, &written, &totals)
                        return outcome == .committed ? .commit : .rollback
                    }
                    if outcome != .committed {
                        written.records.removeSubrange(mark...)
                        totals = totalsBefore
                    }
                    outcomes.append(outcome)
                }
                return .commit
            }
            return (outcomes, written)
        }
        written.handOver()
        return outcomes
    }

    public func commit(together units: [UnitOfWork]) async throws -> CommitOutcome {
        let (outcome, written) = try await pool.writeWithoutTransaction { db in
            var outcome = CommitOutcome.committed
            var written = OutboxWrites(self.handoff)
            try db.inTransaction(.immediate) {
                var totals = try Self.storedTotals(addedToBy: units, db)
                if units.areAdditions {
                    outcome = try Self.apply(additions: units, db, &written, &totals)
                    return outcome == .committed ? .commit : .rollback
                }
                for unit in units {
                    outcome = try Self.apply(unit, db, &written, &totals)
                    if outcome != .committed { return .rollback }
                }
                return .commit
            }
            return (outcome, written)
        }
        if outcome == .committed { written.handOver() }
        return outcome
    }

    /// The stored totals the units' usage adds to, read at once inside the write transaction:
    /// each unit then writes its totals without reading them first.
    private static func storedTotals(
        addedToBy units: [UnitOfWork], _ db: Database
    ) throws -> [UsageMonthKey: Rational] {
        let keys = units.flatMap { $0.usage.map { $0.key } }
        return keys.isEmpty ? [:] : try readTotals(of: keys, db).mapValues(parseDecimal)
    }

    /// Applies a unit; `totals` holds every total its usage adds to (absent: none stored yet)
    /// and is kept current.
    private static func apply(
        _ unit: UnitOfWork, _ db: Database, _ written: inout OutboxWrites,
        _ totals: inout [UsageMonthKey: Rational]
    ) throws
        -> CommitOutcome
    {
        if let messageId = unit.messageId {
            try db.cachedStatement(
                sql: "INSERT INTO inbox (message_id, handled_at) VALUES (?, ?) ON CONFLICT DO NOTHING"
            ).execute(arguments: [messageId, Int64(Date().timeIntervalSince1970)])
            if db.changesCount == 0 { return .alreadyHandled }
        }
        for write in unit.documents {
            if write.expectedVersion == 0 {
                try db.cachedStatement(
                    sql: "INSERT INTO documents (kind, key, version, body) VALUES (?, ?, 1, ?) ON CONFLICT DO NOTHING"
                ).execute(arguments: [write.kind, write.key, Data(write.body)])
            } else {
                try db.cachedStatement(
                    sql:
                        "UPDATE documents SET body = ?, version = version + 1 WHERE kind = ? AND key = ? AND version = ?"
                ).execute(arguments: [Data(write.body), write.kind, write.key, write.expectedVersion])
            }
            if db.changesCount == 0 { return .versionConflict(kind: write.kind, key: write.key) }
        }
        for increment in unit.usage {
            // Exact decimal text, added in Swift inside the write lock.
            let key = increment.key
            let total = totals[key, default: .zero] + increment.quantity
            if let conflict = increment.conflict(at: total) { return conflict }
            try db.cachedStatement(
                sql: """
                    INSERT INTO usage_totals (tenant_id, service_id, metric, month, quantity) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (tenant_id, service_id, metric, month) DO UPDATE SET quantity = excluded.quantity
                    """
            ).execute(arguments: [
                key.tenantId, key.serviceId, key.metric, key.month.description, try decimalText(total),
            ])
            totals[key] = total
        }
        try writeRecords(of: unit, db, &written)
        return .committed
    }

    /// Applies units of additions (`Array.areAdditions`), all together, in two statements for all their
    /// inbox ids and all their totals however many units there are (a statement per row had
    /// cost more in binding its arguments than SQLite spent running it). A repeat among them
    /// is found by the count of ids inserted, a total past its limit as it is summed: the
    /// caller rolls back.
    private static func apply(
        additions units: [UnitOfWork], _ db: Database, _ written: inout OutboxWrites,
        _ totals: inout [UsageMonthKey: Rational]
    ) throws -> CommitOutcome {
        let messageIds = units.compactMap(\.messageId)
        if !messageIds.isEmpty {
            try db.cachedStatement(
                sql: """
                    INSERT INTO inbox (message_id, handled_at) SELECT value, ? FROM json_each(?) WHERE true
                    ON CONFLICT DO NOTHING
                    """
            ).execute(arguments: [Int64(Date().timeIntervalSince1970), jsonArray(messageIds)])
            if db.changesCount != messageIds.count { return .alreadyHandled }
        }
        // Each total once, at its stored value plus its sum over the units.
        var rows: [JSONValue] = []
        for added in units.usageSums {
            let total = totals[added.key, default: .zero] + added.sum
            if let conflict = added.increment.conflict(at: total) { return conflict }
            totals[added.key] = total
            rows.append(
                .array([
                    .string(added.key.tenantId), .string(added.key.serviceId), .string(added.key.metric),
                    .string(added.key.month.description), .string(try decimalText(total)),
                ]))
        }
        if !rows.isEmpty {
            try db.cachedStatement(
                sql: """
                    INSERT INTO usage_totals (tenant_id, service_id, metric, month, quantity)
                    SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each(?) WHERE true
                    ON CONFLICT (tenant_id, service_id, metric, month) DO UPDATE SET quantity = excluded.quantity
                    """
            ).execute(arguments: [String(decoding: JSONValue.array(rows).serialized(), as: UTF8.self)])
        }
        for unit in units { try writeRecords(of: unit, db, &written) }
        return .committed
    }

    /// A unit's invoices, delivery attempts and outbox messages: rows only added, never refused.
    private static func writeRecords(of unit: UnitOfWork, _ db: Database, _ written: inout OutboxWrites) throws {
        let now = Int64(Date().timeIntervalSince1970)
        for invoice in unit.invoices {
            try db.cachedStatement(
                sql: """
                    INSERT INTO invoices (tenant_id, invoice_id, customer_id, currency, issue_date, subtotal,
                        discount_total, total, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
            ).execute(arguments: [
                invoice.tenantId, invoice.invoiceId, invoice.customerId, invoice.currency,
                invoice.issueDate.description, try decimalText(invoice.subtotal),
                try decimalText(invoice.discountTotal), try decimalText(invoice.total), Data(invoice.body),
            ])
        }
        for delivery in unit.deliveries {
            try db.cachedStatement(
                sql: """
                    INSERT INTO deliveries (event_id, target, attempt, status, response_code, at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """
            ).execute(arguments: [
                delivery.eventId, delivery.target, delivery.attempt, delivery.status, delivery.responseCode,
                delivery.at,
            ])
        }
        for message in unit.outbox {
            try db.cachedStatement(
                sql: """
                    INSERT INTO outbox (exchange, routing_key, message_id, type, content_type, headers, body, created_at,
                        claimed_by, claimed_until)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
            ).execute(arguments: [
                message.exchange, message.routingKey, message.messageId, message.type, message.contentType,
                HeaderCoding.encode(message.headers), Data(message.body), now, written.claim?.claimant,
                written.claim?.until,
            ])
            written.wrote(OutboxRecord(id: db.lastInsertedRowID, message: message))
        }
    }

    public func handledMessages(among messageIds: [String]) async throws -> Set<String> {
        guard !messageIds.isEmpty else { return [] }
        return try await pool.read { db in
            Set(
                try String.fetchAll(
                    try db.cachedStatement(
                        sql: "SELECT message_id FROM inbox WHERE message_id IN (SELECT value FROM json_each(?))"),
                    arguments: [Self.jsonArray(messageIds)]))
        }
    }

    /// `values` as one JSON array, for `IN (SELECT value FROM json_each(?))`: a statement whose
    /// text does not change with the number of values is prepared once and kept. Prepared with
    /// a `?` per value for each batch, the statements had cost more than running them.
    private static func jsonArray(_ values: some Sequence<String>) -> String {
        String(decoding: JSONValue.array(values.map(JSONValue.string)).serialized(), as: UTF8.self)
    }

    /// The documents of a kind with any of `keys`, in one statement.
    public func documents(kind: String, keys: [String]) async throws -> [String: StoredDocument] {
        guard !keys.isEmpty else { return [:] }
        return try await pool.read { db in
            var documents: [String: StoredDocument] = [:]
            documents.reserveCapacity(keys.count)
            let rows = try Row.fetchCursor(
                try db.cachedStatement(
                    sql: """
                        SELECT kind, key, version, body FROM documents
                        WHERE kind = ? AND key IN (SELECT value FROM json_each(?))
                        """),
                arguments: [kind, Self.jsonArray(keys)])
            while let row = try rows.next() {
                let document = try Self.document(row)
                documents[document.key] = document
            }
            return documents
        }
    }

    public func documents(
        kind: String, keyPrefix: String, after: String?, limit: Int
    ) async throws -> [StoredDocument] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT kind, key, version, body FROM documents
                    WHERE kind = ? AND substr(key, 1, ?) = ? AND key > ? ORDER BY key LIMIT ?
                    """,
                arguments: [kind, keyPrefix.unicodeScalars.count, keyPrefix, after ?? "", limit]
            ).map(Self.document)
        }
    }

    /// A row of `SELECT kind, key, version, body`, its columns read by position and the body
    /// copied once (by name and through `Data`, the lookups had cost more than the rows).
    private static func document(_ row: Row) throws -> StoredDocument {
        StoredDocument(
            kind: row[0], key: row[1], body: try row.withUnsafeData(atIndex: 3) { [UInt8]($0 ?? Data()) },
            version: row[2])
    }

    public func usageTotals(of keys: [UsageMonthKey]) async throws -> [UsageMonthKey: Rational] {
        try await pool.read { db in try Self.readTotals(of: keys, db) }.mapValues(parseDecimal)
    }

    /// Stored totals as decimal text (a key with none is absent): a statement per tenant, metric
    /// and month (a batch has few), with its services.
    private static func readTotals(of keys: [UsageMonthKey], _ db: Database) throws -> [UsageMonthKey: String] {
        let months = Dictionary(grouping: Set(keys)) {
            UsageMonthKey(tenantId: $0.tenantId, serviceId: "", metric: $0.metric, month: $0.month)
        }
        var texts: [UsageMonthKey: String] = [:]
        for (month, keys) in months {
            let rows = try Row.fetchCursor(
                try db.cachedStatement(
                    sql: """
                        SELECT service_id, quantity FROM usage_totals WHERE tenant_id = ? AND metric = ?
                        AND month = ? AND service_id IN (SELECT value FROM json_each(?))
                        """),
                arguments: [
                    month.tenantId, month.metric, month.month.description, jsonArray(keys.map { $0.serviceId }),
                ])
            while let row = try rows.next() {
                var key = month
                key.serviceId = row[0]
                texts[key] = row[1]
            }
        }
        return texts
    }

    public func invoice(tenantId: String, invoiceId: String) async throws -> StoredInvoice? {
        try await pool.read { db in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT * FROM invoices WHERE tenant_id = ? AND invoice_id = ?",
                    arguments: [tenantId, invoiceId])
            else { return nil }
            guard let issueDate = CalendarDate(iso: row["issue_date"] as String) else {
                throw StoreError("invoice \(invoiceId) has an unreadable issue date")
            }
            return StoredInvoice(
                tenantId: row["tenant_id"], invoiceId: row["invoice_id"], customerId: row["customer_id"],
                currency: row["currency"], issueDate: issueDate, subtotal: try parseDecimal(row["subtotal"]),
                discountTotal: try parseDecimal(row["discount_total"]), total: try parseDecimal(row["total"]),
                body: [UInt8](row["body"] as Data))
        }
    }

    public func deliveries(eventId: String) async throws -> [DeliveryRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM deliveries WHERE event_id = ? ORDER BY target, attempt", arguments: [eventId]
            ).map { row in
                DeliveryRecord(
                    eventId: row["event_id"], target: row["target"], attempt: row["attempt"], status: row["status"],
                    responseCode: row["response_code"], at: row["at"])
            }
        }
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
        let now = Date().timeIntervalSince1970
        let until = now + lease.inSeconds
        return try await pool.writeWithoutTransaction { db in
            var records: [OutboxRecord] = []
            try db.inTransaction(.immediate) {
                records = try Row.fetchAll(
                    db,
                    sql: """
                        UPDATE outbox SET claimed_by = ?, claimed_until = ?
                        WHERE id IN (
                            SELECT id FROM outbox
                            WHERE sent_at IS NULL AND (claimed_until IS NULL OR claimed_until < ?)
                            ORDER BY id LIMIT ?)
                        RETURNING id, exchange, routing_key, message_id, type, content_type, headers, body
                        """,
                    arguments: [claimant, until, now, limit]
                ).map(Self.outboxRecord)
                return .commit
            }
            return records.sorted { $0.id < $1.id }
        }
    }

    private static func outboxRecord(_ row: Row) throws -> OutboxRecord {
        OutboxRecord(
            id: row["id"],
            message: OutboxMessage(
                exchange: row["exchange"], routingKey: row["routing_key"], messageId: row["message_id"],
                type: row["type"], contentType: row["content_type"], headers: try HeaderCoding.decode(row["headers"]),
                body: [UInt8](row["body"] as Data)))
    }

    public func releaseOutboxClaims(of claimant: String) async throws -> Int {
        handoff.release(claimant)
        return try await pool.write { db in
            try db.execute(
                sql: "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ?",
                arguments: [claimant])
            return db.changesCount
        }
    }

    /// Deletes the rows without waiting for the disk: if the machine loses the deletion, the
    /// rows are published again after their lease (at least once, as after a relay's crash).
    /// The write-ahead log keeps order, so the next commit's flush makes the deletion durable too.
    public func markSent(ids: [Int64]) async throws {
        guard !ids.isEmpty else { return }
        try await pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            let deleted = Result {
                try db.inTransaction(.immediate) {
                    try db.cachedStatement(sql: "DELETE FROM outbox WHERE id IN (SELECT value FROM json_each(?))")
                        .execute(arguments: ["[" + ids.map(String.init).joined(separator: ",") + "]"])
                    return .commit
                }
            }
            // Every other write waits for the disk before it returns.
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try deleted.get()
        }
    }

    public func outboxBacklog() async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM outbox WHERE sent_at IS NULL") ?? 0
        }
    }

    public func close() async throws {
        try pool.close()
    }
}

/// Exact decimal text for storage; a value with no finite decimal form is a programming error
/// the store refuses rather than rounds.
func decimalText(_ value: Rational) throws -> String {
    guard let text = value.exactDecimalText else { throw StoreError("\(value) has no exact decimal form") }
    return text
}

func parseDecimal(_ text: String) throws -> Rational {
    // NUMERIC text may carry more digits than input limits allow; parse without them.
    guard let value = Rational(storedDecimal: text) else { throw StoreError("unreadable decimal \(text)") }
    return value
}

/// Outbox headers as JSON text (an object of strings).
enum HeaderCoding {
    static func encode(_ headers: [String: String]) -> String {
        // Most rows (every event) have none.
        headers.isEmpty
            ? "{}"
            : String(
                decoding: JSONValue.object(JSONObject(headers.mapValues(JSONValue.string))).serialized(), as: UTF8.self)
    }

    static func decode(_ text: String) throws -> [String: String] {
        guard case .object(let members) = JSONValue.parse(Array(text.utf8)) else {
            throw StoreError("unreadable outbox headers \(text)")
        }
        return try Dictionary(
            uniqueKeysWithValues: members.map { key, value in
                guard case .string(let text) = value else { throw StoreError("an outbox header is not text: \(value)") }
                return (key, text)
            })
    }
}
