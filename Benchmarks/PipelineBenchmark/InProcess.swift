import CovenantMessages
import Foundation
import Logging
import RatingWorker
import WorkerRuntime
import WorkerStores

/// The rating worker's work without the broker, phase by phase, on one SQLite store: what
/// `Benchmarks/run`'s rating figure costs the worker besides consuming and publishing.
enum InProcess {
    /// Rates `count` usage commands over `services` services in batches as the worker takes
    /// them, on SQLite in `directory` or on PostgreSQL at a `postgres://` URL, and prints each phase's wall time and the process's CPU time per event, in µs.
    static func run(
        directory: String, services: Int, count: Int, batchSize: Int = RatingHandler.batchSize
    ) async throws {
        // A database URL instead of a folder: PostgreSQL, in schemas of the run's own.
        let store: any WorkerStore =
            directory.hasPrefix("postgres")
            ? try PostgresWorkerStore(
                url: directory, role: .rating, schemaPrefix: "bench\(UInt32.random(in: 0...UInt32.max))_",
                logger: Logger(label: "in-process"))
            : try SQLiteWorkerStore(directory: directory, role: .rating)
        // PostgreSQL's client runs while the store is used, until the store closes.
        var phases = Phases()
        let cpu = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await store.run() }
            try await store.migrate()
            let handler = RatingHandler(
                store: store, events: EventFactory(source: "covenant/rating"), now: { "2025-02-01T00:00:00Z" })
            // The tenant and its services, learned as the worker learns them.
            let learned = [PipelineBenchmark.tenantUpdated] + (0..<services).map(PipelineBenchmark.serviceActivated)
            for message in learned {
                guard case .success(let event) = CloudEvent.decode(message.body),
                    case .commit(let unit) = try await handler.handle(event)
                else { fatalError("the benchmark's setup was not accepted") }
                _ = try await store.commit(unit)
            }
            store.handOffOutbox(to: "relay", lease: .seconds(600))
            let bodies = (0..<count).map { PipelineBenchmark.usageRecord($0, services: services).body }

            let cpuBefore = cpuSeconds()
            for first in stride(from: 0, to: count, by: batchSize) {
                let batch = bodies[first..<min(first + batchSize, count)]
                let events = await phases.time("decode") {
                    batch.map { body -> CloudEvent in
                        guard case .success(let event) = CloudEvent.decode(body) else { fatalError("undecodable") }
                        return event
                    }
                }
                let handled = try await phases.time("inbox") {
                    try await store.handledMessages(among: events.map(\.id))
                }
                precondition(handled.isEmpty)
                let outcomes = try await phases.time("handle") { try await handler.handle(batch: events) }
                let units = outcomes.map { outcome -> UnitOfWork in
                    guard case .commit(let unit) = outcome else { fatalError("rejected: \(outcome)") }
                    return unit
                }
                let committed = try await phases.time("commit") { try await store.commit(decided: units) }
                precondition(committed.allSatisfy { $0 == .committed })
                let claimed = try await phases.time("relay claim") {
                    try await store.claimOutbox(limit: 500, claimant: "relay", lease: .seconds(600))
                }
                try await phases.time("relay sent") { try await store.markSent(ids: claimed.map(\.id)) }
            }
            let cpu = cpuSeconds() - cpuBefore
            try await store.close()
            return cpu
        }
        for (name, seconds) in phases.totals {
            print(String(format: "%@: %.1f µs/event", name, seconds * 1e6 / Double(count)))
        }
        print(String(format: "cpu: %.1f µs/event", cpu * 1e6 / Double(count)))
    }

    struct Phases {
        var totals: [(String, Double)] = []

        mutating func time<T>(_ name: String, _ body: () async throws -> T) async rethrows -> T {
            let start = ContinuousClock.now
            let result = try await body()
            let seconds = PipelineBenchmark.seconds(ContinuousClock.now - start)
            if let index = totals.firstIndex(where: { $0.0 == name }) {
                totals[index].1 += seconds
            } else {
                totals.append((name, seconds))
            }
            return result
        }
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}
