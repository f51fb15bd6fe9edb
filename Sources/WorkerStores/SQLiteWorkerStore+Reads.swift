public import BillingDomain
import CovenantMessages
import Foundation
import GRDB

/// SQLite's reads: the inbox, documents, usage totals, invoices, deliveries, and the outbox's claims.
extension SQLiteWorkerStore {
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
    static func jsonArray(_ values: some Sequence<String>) -> String {
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
    static func document(_ row: Row) throws -> StoredDocument {
        StoredDocument(
            kind: row[0], key: row[1], body: try row.withUnsafeData(atIndex: 3) { [UInt8]($0 ?? Data()) },
            version: row[2])
    }

    public func usageTotals(of keys: [UsageMonthKey]) async throws -> [UsageMonthKey: Rational] {
        try await pool.read { db in try Self.readTotals(of: keys, db) }.mapValues(parseDecimal)
    }

    /// Stored totals as decimal text (a key with none is absent): a statement per tenant, metric
    /// and month (a batch has few), with its services.
    static func readTotals(of keys: [UsageMonthKey], _ db: Database) throws -> [UsageMonthKey: String] {
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
                throw StoreError(.corruptState, "invoice \(invoiceId) has an unreadable issue date")
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

    func claimTable(limit: Int, claimant: String, lease: Duration) async throws -> [OutboxRecord] {
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
                            SELECT id FROM (
                                SELECT id, sum(bytes) OVER (ORDER BY id) - bytes AS before FROM (
                                    SELECT id, length(body) AS bytes FROM outbox
                                    WHERE sent_at IS NULL AND (claimed_until IS NULL OR claimed_until < ?)
                                    ORDER BY id LIMIT ?))
                            WHERE before < ?)
                        RETURNING id, exchange, routing_key, message_id, type, content_type, headers, body
                        """,
                    arguments: [claimant, until, now, limit, OutboxHandoff.claimByteLimit]
                ).map(Self.outboxRecord)
                return .commit
            }
            return records.sorted { $0.id < $1.id }
        }
    }

    static func outboxRecord(_ row: Row) throws -> OutboxRecord {
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
}
