import BillingDomain
import Foundation
import Testing
import WorkerStores

/// The outbox: claims, leases, the hand-off to a worker's own relay, relays side by side.
extension WorkerStoreConformanceTests {
    @Test("Outbox rows are claimed oldest first, leased, and published once", arguments: Backend.allCases)
    func outboxClaims(backend: Backend) async throws {
        let (store, _) = try await backend.freshStore()
        _ = try await store.commit(
            UnitOfWork(messageId: "m", outbox: [message("e-1", body: "one"), message("e-2"), message("e-3")]))
        let first = try await store.claimOutbox(limit: 2, claimant: "relay-a", lease: .seconds(60))
        #expect(first.map(\.message.messageId) == ["e-1", "e-2"])
        #expect(first[0].message.body == Array("one".utf8) && first[0].message.routingKey == "invoice.ready")
        // Leased rows are not handed to another relay.
        let second = try await store.claimOutbox(limit: 10, claimant: "relay-b", lease: .seconds(60))
        #expect(second.map(\.message.messageId) == ["e-3"])
        try await store.markSent(ids: first.map(\.id) + second.map(\.id))
        #expect(try await store.outboxBacklog() == 0)
        #expect(try await store.claimOutbox(limit: 10, claimant: "relay-a", lease: .seconds(60)).isEmpty)
        try await store.close()
    }

    @Test(
        "Rows committed but never published (the relay died) are published after the lease, once",
        arguments: Backend.allCases)
    func crashBetweenCommitAndPublish(backend: Backend) async throws {
        let (store, location) = try await backend.freshStore()
        _ = try await store.commit(UnitOfWork(messageId: "m", outbox: [message("e-1"), message("e-2")]))
        // A relay claims the rows and dies before publishing: it never marks them sent.
        let lost = try await store.claimOutbox(limit: 10, claimant: "relay-dead", lease: .milliseconds(300))
        #expect(lost.count == 2)
        try await store.close()
        // Another process opens the store after the lease ran out and publishes them.
        try await Task.sleep(for: .milliseconds(1200))
        let survivor = try backend.store(.invoicing, at: location)
        let reclaimed = try await survivor.claimOutbox(limit: 10, claimant: "relay-b", lease: .seconds(60))
        #expect(reclaimed.map(\.message.messageId) == ["e-1", "e-2"])
        try await survivor.markSent(ids: reclaimed.map(\.id))
        #expect(try await survivor.claimOutbox(limit: 10, claimant: "relay-c", lease: .seconds(60)).isEmpty)
        try await survivor.close()
    }

    @Test(
        "Rows a commit hands off go to its own relay without a claim; rolled-back units hand nothing; a row left there returns after its lease, or at once when its relay releases it",
        arguments: Backend.allCases)
    func outboxHandoff(backend: Backend) async throws {
        let (store, location) = try await backend.freshStore()
        let other = try backend.store(.invoicing, at: location)
        // Written before the hand-off began: an unclaimed row any relay takes from the table.
        _ = try await store.commit(UnitOfWork(messageId: "old", outbox: [message("e-old")]))
        store.handOffOutbox(to: "relay-a", lease: .seconds(60))
        func unit(_ id: String, expecting version: Int64) -> UnitOfWork {
            UnitOfWork(
                messageId: id,
                documents: [
                    DocumentWrite(kind: "ledger", key: "acme/c-1", body: Array(id.utf8), expectedVersion: version)
                ],
                outbox: [message("e-\(id)", body: "{\"id\":\"\(id)\"}")])
        }
        // A batch: the second unit conflicts and is rolled back to its savepoint; a repeat in a
        // rolled-back commit together: neither hands anything off.
        #expect(
            try await store.commit(batch: [unit("a", expecting: 0), unit("b", expecting: 0), unit("c", expecting: 1)])
                == [.committed, .versionConflict(kind: "ledger", key: "acme/c-1"), .committed])
        #expect(
            try await store.commit(together: [unit("d", expecting: 2), unit("a", expecting: 3)]) == .alreadyHandled)
        // The rows are claimed: another relay, on another connection, gets only the old row.
        let others = try await other.claimOutbox(limit: 10, claimant: "relay-b", lease: .seconds(60))
        #expect(others.map(\.message.messageId) == ["e-old"])
        let mine = try await store.claimOutbox(limit: 10, claimant: "relay-a", lease: .seconds(60))
        #expect(mine.map(\.message.messageId) == ["e-a", "e-c"])
        #expect(mine.map(\.message.body) == [Array("{\"id\":\"a\"}".utf8), Array("{\"id\":\"c\"}".utf8)])
        #expect(try await store.outboxBacklog() == 3)
        try await store.markSent(ids: mine.map(\.id) + others.map(\.id))
        #expect(try await store.outboxBacklog() == 0)
        #expect(try await store.claimOutbox(limit: 10, claimant: "relay-a", lease: .seconds(60)).isEmpty)

        // A relay that stalls: past half the lease its handed rows are given up, and after the
        // lease any relay claims them from the table, once. (Leases of 400 ms, then of 2 s, had
        // run out before the next claim, with the suite and a fault test loading both cores.)
        store.handOffOutbox(to: "relay-a", lease: .seconds(5))
        _ = try await store.commit(UnitOfWork(messageId: "late", outbox: [message("e-late")]))
        #expect(try await other.claimOutbox(limit: 10, claimant: "relay-b", lease: .seconds(60)).isEmpty)
        try await Task.sleep(for: .milliseconds(6000))
        let taken = try await other.claimOutbox(limit: 10, claimant: "relay-b", lease: .seconds(60))
        #expect(taken.map(\.message.messageId) == ["e-late"])
        #expect(try await store.claimOutbox(limit: 10, claimant: "relay-a", lease: .seconds(60)).isEmpty)

        // A relay stopping gives its rows back: another takes them at once, and they are no
        // longer handed to the first.
        store.handOffOutbox(to: "relay-a", lease: .seconds(60))
        _ = try await store.commit(UnitOfWork(messageId: "last", outbox: [message("e-last")]))
        #expect(try await other.claimOutbox(limit: 10, claimant: "relay-b", lease: .seconds(60)).isEmpty)
        #expect(try await store.releaseOutboxClaims(of: "relay-a") == 1)
        let released = try await other.claimOutbox(limit: 10, claimant: "relay-b", lease: .seconds(60))
        #expect(released.map(\.message.messageId) == ["e-last"])
        #expect(try await store.claimOutbox(limit: 10, claimant: "relay-a", lease: .seconds(60)).isEmpty)
        #expect(try await store.releaseOutboxClaims(of: "relay-a") == 0)
        try await other.close()
        try await store.close()
    }

    @Test("Concurrent relays on separate connections never claim a row twice", arguments: Backend.allCases)
    func concurrentRelays(backend: Backend) async throws {
        let (store, location) = try await backend.freshStore()
        let total = 600
        for batch in 0..<(total / 100) {
            _ = try await store.commit(
                UnitOfWork(messageId: "b-\(batch)", outbox: (0..<100).map { message("e-\(batch)-\($0)") }))
        }
        let relays = try (0..<4).map { _ in try backend.store(.invoicing, at: location) }
        let claimed = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for (index, relay) in relays.enumerated() {
                group.addTask {
                    var mine: [Int64] = []
                    while true {
                        let batch = try await relay.claimOutbox(
                            limit: 17, claimant: "relay-\(index)", lease: .seconds(60))
                        if batch.isEmpty { return mine }
                        mine += batch.map(\.id)
                        try await relay.markSent(ids: batch.map(\.id))
                    }
                }
            }
            var all: [Int64] = []
            for try await ids in group { all += ids }
            return all
        }
        #expect(claimed.count == total)
        #expect(Set(claimed).count == total)
        #expect(try await store.outboxBacklog() == 0)
        for relay in relays { try await relay.close() }
        try await store.close()
    }
}
