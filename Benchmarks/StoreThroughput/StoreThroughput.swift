import BillingDomain
import Foundation
import Logging
import WorkerStores

/// Drives a rating store the way a worker does: each message is one unit of work (inbox id,
/// a usage increment, an outbox message).
///
///     store-throughput write-usage DIR COUNT PREFIX          COUNT units to the SQLite store in DIR
///     store-throughput bench sqlite DIR COUNT BATCH          units per second, BATCH per transaction
///     store-throughput bench postgres URL COUNT BATCH
@main
struct StoreThroughput {
    static func main() async throws {
        let arguments = CommandLine.arguments
        switch (arguments.count, arguments.dropFirst().first) {
        case (5, "write-usage"):
            let store = try SQLiteWorkerStore(directory: arguments[2], role: .rating)
            try await store.migrate()
            try await write(store, count: Int(arguments[3])!, prefix: arguments[4], batch: 1)
            try await store.close()
        case (6, "bench"):
            let count = Int(arguments[4])!
            let batch = Int(arguments[5])!
            let store: any WorkerStore =
                arguments[2] == "sqlite"
                ? try SQLiteWorkerStore(directory: arguments[3], role: .rating)
                : try PostgresWorkerStore(
                    url: arguments[3], role: .rating, schemaPrefix: "bench\(UInt32.random(in: 0...UInt32.max))_",
                    logger: Logger(label: "bench"))
            // PostgreSQL's client runs while the store is used, until the store closes.
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await store.run() }
                try await store.migrate()
                let start = ContinuousClock.now
                try await write(store, count: count, prefix: "m", batch: batch)
                let elapsed = ContinuousClock.now - start
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                print(Int(Double(count) / seconds))
                try await store.close()
            }
        default:
            FileHandle.standardError.write(Data("usage: store-throughput write-usage|bench …\n".utf8))
            exit(2)
        }
    }

    static func write(_ store: any WorkerStore, count: Int, prefix: String, batch: Int) async throws {
        let month = CalendarDate(year: 2025, month: 1, day: 1)!
        for first in stride(from: 0, to: count, by: batch) {
            let units = (first..<min(first + batch, count)).map { index in
                UnitOfWork(
                    messageId: "\(prefix)-\(index)",
                    usage: [
                        UsageIncrement(
                            tenantId: "acme", serviceId: "sim-\(index % 100)", metric: "gb", month: month,
                            quantity: Rational(1))
                    ],
                    outbox: [
                        OutboxMessage(
                            exchange: "covenant.events", routingKey: "usage.rated",
                            messageId: "rated-\(prefix)-\(index)",
                            body: Array(#"{"records":[]}"#.utf8))
                    ])
            }
            _ = try await store.commit(batch: units)
        }
    }
}
