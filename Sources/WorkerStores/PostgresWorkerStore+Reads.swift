public import BillingDomain
import Foundation
import Logging
import PostgresNIO

/// PostgreSQL's reads: the inbox, documents, usage totals, invoices, deliveries, and the outbox's claims.
extension PostgresWorkerStore {
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

    func documents(_ rows: PostgresRowSequence) async throws -> [StoredDocument] {
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
            guard let month = CalendarDate(iso: month) else {
                throw StoreError(.corruptState, "unreadable month \(month)")
            }
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
                throw StoreError(.corruptState, "invoice \(invoiceId) has an unreadable issue date")
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

    func claimTable(limit: Int, claimant: String, lease: Duration) async throws -> [OutboxRecord] {
        let rows = try await running().query(
            """
            UPDATE \(unescaped: table("outbox")) SET claimed_by = \(claimant),
                claimed_until = now() + make_interval(secs => \(lease.inSeconds))
            WHERE id IN (
                SELECT id FROM (
                    SELECT id, sum(bytes) OVER (ORDER BY id) - bytes AS before FROM (
                        SELECT id, octet_length(body) AS bytes FROM \(unescaped: table("outbox"))
                        WHERE sent_at IS NULL AND (claimed_until IS NULL OR claimed_until < now())
                        ORDER BY id LIMIT \(limit) FOR UPDATE SKIP LOCKED) AS candidates) AS sized
                WHERE before < \(OutboxHandoff.claimByteLimit))
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
}
