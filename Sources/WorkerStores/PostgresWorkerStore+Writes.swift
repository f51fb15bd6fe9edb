import BillingDomain
import Foundation
import Logging
import PostgresNIO

/// PostgreSQL's writes of a commit: the unit's documents, usage, records and outbox, a statement per table when they allow.
extension PostgresWorkerStore {
    /// Applies the unit; returns an outcome when it must be rolled back instead.
    func apply(
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
    func writeRecords(
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
            throw StoreError(.inconsistent, "the outbox took \(ids.count) of \(messages.count) messages")
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
    func apply(
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
    func write(_ chains: [DocumentChain], _ connection: PostgresConnection) async throws -> CommitOutcome? {
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
    func add(_ sums: [UsageSum], _ connection: PostgresConnection) async throws -> CommitOutcome? {
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
            guard let month = CalendarDate(iso: month) else {
                throw StoreError(.corruptState, "unreadable month \(month)")
            }
            updated.insert(UsageMonthKey(tenantId: tenant, serviceId: service, metric: metric, month: month))
        }
        if let skipped = sums.first(where: { !updated.contains($0.key) }) { return skipped.increment.pastLimit }
        return nil
    }

    func count(_ rows: PostgresRowSequence) async throws -> Int {
        var count = 0
        for try await _ in rows { count += 1 }
        return count
    }
}
