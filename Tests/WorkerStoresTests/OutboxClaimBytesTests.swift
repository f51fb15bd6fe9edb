import Foundation
import Testing
import WorkerStores

extension WorkerStoreConformanceTests {
    @Test(
        "A claim from the table takes at most 32 MiB of bodies, and at least one row however large",
        arguments: Backend.allCases)
    func claimBoundedByBytes(backend: Backend) async throws {
        let (store, _) = try await backend.freshStore()
        let twelve = String(repeating: "x", count: 12 << 20)
        _ = try await store.commit(
            UnitOfWork(
                messageId: "m",
                outbox: [
                    message("e-1", body: twelve), message("e-2", body: twelve), message("e-3", body: twelve),
                    message("e-4"),
                ]))
        // 12 + 12 MiB before the third: under 32 MiB, so it comes too; the fourth would start past 32.
        let first = try await store.claimOutbox(limit: 10, claimant: "relay-a", lease: .seconds(60))
        #expect(first.map(\.message.messageId) == ["e-1", "e-2", "e-3"])
        let second = try await store.claimOutbox(limit: 10, claimant: "relay-a", lease: .seconds(60))
        #expect(second.map(\.message.messageId) == ["e-4"])
        try await store.markSent(ids: (first + second).map(\.id))
        // One row larger than the limit still goes alone.
        let forty = String(repeating: "y", count: 40 << 20)
        _ = try await store.commit(UnitOfWork(messageId: "n", outbox: [message("e-5", body: forty), message("e-6")]))
        let large = try await store.claimOutbox(limit: 10, claimant: "relay-a", lease: .seconds(60))
        #expect(large.map(\.message.messageId) == ["e-5"])
        try await store.close()
    }
}
