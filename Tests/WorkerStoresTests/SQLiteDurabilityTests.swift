import Foundation
import Testing

@testable import WorkerStores

@Suite("SQLite durability")
struct SQLiteDurabilityTests {
    @Test("Commits wait for the disk (synchronous=FULL), though GRDB opens WAL pools with NORMAL; a reopened file too")
    func flushedCommits() async throws {
        let directory = NSTemporaryDirectory() + "covenant-durability-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteWorkerStore(directory: directory, role: .rating)
        try await store.migrate()
        #expect(try store.synchronousSetting() == 2)
        _ = try await store.commit(UnitOfWork(messageId: "m"))
        // Deleting sent rows does not flush, and leaves the setting as it was.
        try await store.markSent(ids: [1])
        #expect(try store.synchronousSetting() == 2)
        try await store.close()
        let reopened = try SQLiteWorkerStore(directory: directory, role: .rating)
        #expect(try reopened.synchronousSetting() == 2)
        try await reopened.close()
    }
}
