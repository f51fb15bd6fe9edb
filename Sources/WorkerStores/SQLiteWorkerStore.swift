import BillingDomain
import CovenantMessages
import Foundation
import GRDB

/// The embedded store: one SQLite file per role, in WAL mode, shared safely by several
/// processes of the role on one machine (every write is a `BEGIN IMMEDIATE` transaction, so
/// writers queue on SQLite's lock with a busy timeout instead of failing to upgrade).
public final class SQLiteWorkerStore: WorkerStore {
    public let role: StoreRole
    let pool: DatabasePool
    let handoff = OutboxHandoff()

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
    static func open(_ path: String, _ configuration: Configuration, patience: Duration) throws -> DatabasePool {
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
    static func storedTotals(
        addedToBy units: [UnitOfWork], _ db: Database
    ) throws -> [UsageMonthKey: Rational] {
        let keys = units.flatMap { $0.usage.map { $0.key } }
        return keys.isEmpty ? [:] : try readTotals(of: keys, db).mapValues(parseDecimal)
    }

    /// Applies a unit; `totals` holds every total its usage adds to (absent: none stored yet)
    /// and is kept current.
    static func apply(
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
    static func apply(
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
    static func writeRecords(of unit: UnitOfWork, _ db: Database, _ written: inout OutboxWrites) throws {
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

    public func close() async throws {
        try pool.close()
    }
}

/// Exact decimal text for storage; a value with no finite decimal form is a programming error
/// the store refuses rather than rounds.
func decimalText(_ value: Rational) throws -> String {
    guard let text = value.exactDecimalText else {
        throw StoreError(.unrepresentable, "\(value) has no exact decimal form")
    }
    return text
}

func parseDecimal(_ text: String) throws -> Rational {
    // NUMERIC text may carry more digits than input limits allow; parse without them.
    guard let value = Rational(storedDecimal: text) else {
        throw StoreError(.corruptState, "unreadable decimal \(text)")
    }
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
            throw StoreError(.corruptState, "unreadable outbox headers \(text)")
        }
        return try Dictionary(
            uniqueKeysWithValues: members.map { key, value in
                guard case .string(let text) = value else {
                    throw StoreError(.corruptState, "an outbox header is not text: \(value)")
                }
                return (key, text)
            })
    }
}
