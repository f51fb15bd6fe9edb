import BillingDomain
import Foundation
import Glibc
import Testing
import WorkerStores

@Suite("SQLite shared by several processes")
struct SQLiteProcessesTests {
    /// Runs the store-throughput tool in a child process and waits for it.
    func spawnWriter(_ arguments: [String]) throws -> pid_t {
        let bin = try #require(
            ProcessInfo.processInfo.environment["COVENANT_BIN"], "COVENANT_BIN is not set: run through scripts/test")
        let tool = "\(bin)/StoreThroughput"
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = ([tool] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        #expect(posix_spawn(&pid, tool, nil, nil, argv, environ) == 0)
        return pid
    }

    func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        return status
    }

    @Test("Two processes and this one write one file at once: every message counted once, none lost")
    func threeWriters() async throws {
        let directory = NSTemporaryDirectory() + "covenant-multiprocess-\(UUID().uuidString)"
        let store = try SQLiteWorkerStore(directory: directory, role: .rating)
        try await store.migrate()
        // Both children send the same 300 message ids (a redelivery race between replicas).
        let first = try spawnWriter(["write-usage", directory, "300", "shared"])
        let second = try spawnWriter(["write-usage", directory, "300", "shared"])
        let month = CalendarDate(year: 2025, month: 1, day: 1)!
        for index in 0..<100 {
            _ = try await store.commit(
                UnitOfWork(
                    messageId: "own-\(index)",
                    usage: [
                        UsageIncrement(
                            tenantId: "acme", serviceId: "sim-0", metric: "gb", month: month, quantity: Rational(1))
                    ],
                    outbox: [OutboxMessage(exchange: "x", routingKey: "k", messageId: "own-\(index)", body: [])]))
        }
        #expect(await Task.detached { wait(first) }.value == 0)
        #expect(await Task.detached { wait(second) }.value == 0)
        var total = Rational.zero
        for service in 0..<100 {
            total += try await store.usageTotal(
                tenantId: "acme", serviceId: "sim-\(service)", metric: "gb", month: month)
        }
        // 300 shared messages once each, plus this process's 100.
        #expect(total == Rational(400))
        #expect(try await store.outboxBacklog() == 400)
        try await store.close()
    }
}
