import BillingDomain
import Foundation
import Logging
import Testing
import WorkerStores

/// The two backends every conformance test runs against.
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    var testDescription: String { rawValue }

    /// A fresh, empty place for a store: a new folder, or a new schema prefix.
    func newLocation() -> String {
        switch self {
        case .sqlite: NSTemporaryDirectory() + "covenant-store-\(UUID().uuidString)"
        case .postgres: "t\(UUID().uuidString.prefix(8).lowercased())_"
        }
    }

    /// A store of `role` at `location` (several stores at one location share the data, as
    /// replicas do).
    func store(_ role: StoreRole = .invoicing, at location: String) throws -> any WorkerStore {
        switch self {
        case .sqlite:
            return try SQLiteWorkerStore(directory: location, role: role)
        case .postgres:
            let url = try #require(
                ProcessInfo.processInfo.environment["DATABASE_URL"],
                "DATABASE_URL is not set: run the tests through scripts/test")
            return try PostgresWorkerStore(
                url: url, role: role, schemaPrefix: location, logger: Logger(label: "covenant.tests")
            ).running()
        }
    }

    /// A migrated store at a fresh location.
    func freshStore(_ role: StoreRole = .invoicing) async throws -> (any WorkerStore, String) {
        let location = newLocation()
        let store = try store(role, at: location)
        try await store.migrate()
        return (store, location)
    }
}

extension PostgresWorkerStore {
    /// The store with its pool running in a task of its own until ``close()``: tests open and
    /// close stores one statement apart, where ``withRunning(_:_:)`` would nest every test.
    func running() -> Self {
        Task { await run() }
        return self
    }
}

func message(_ id: String, body: String = "{}") -> OutboxMessage {
    OutboxMessage(exchange: "covenant.events", routingKey: "invoice.ready", messageId: id, body: Array(body.utf8))
}

func dec(_ text: String) -> Rational { Rational(decimal: text)! }

/// A message's unit of work adding `quantity` to each total it names, with its event
/// (`rated-<id>`) unless `event` is false.
func usageUnit(
    _ id: String, adding adds: [(key: UsageMonthKey, quantity: String)], maximumTotal: String? = nil,
    documents: [DocumentWrite] = [], event: Bool = true, speaksForBatch: Bool = false
) -> UnitOfWork {
    UnitOfWork(
        messageId: id, documents: documents,
        usage: adds.map { key, quantity in
            UsageIncrement(
                tenantId: key.tenantId, serviceId: key.serviceId, metric: key.metric, month: key.month,
                quantity: dec(quantity), maximumTotal: maximumTotal.map(dec))
        },
        outbox: event ? [message("rated-\(id)")] : [], speaksForBatch: speaksForBatch)
}
