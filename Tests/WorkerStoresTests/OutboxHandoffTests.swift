import Testing

@testable import WorkerStores

@Suite("Outbox hand-off")
struct OutboxHandoffTests {
    func record(_ id: Int64, bytes: Int) -> OutboxRecord {
        OutboxRecord(
            id: id,
            message: OutboxMessage(
                exchange: "covenant.events", routingKey: "usage.rated", messageId: "e-\(id)",
                body: Array(repeating: UInt8(ascii: "x"), count: bytes)))
    }

    @Test("Rows stop being handed over once the waiting bodies reach the byte bound, and again once claimed")
    func byteBound() async throws {
        let handoff = OutboxHandoff(capacity: 100, byteCapacity: 1000)
        #expect(handoff.claimForCommit(now: 0) == nil)  // no relay takes hand-offs yet
        handoff.handOff(to: "relay-a", lease: .seconds(60))
        #expect(handoff.claimForCommit(now: 0) != nil)
        handoff.committed([record(1, bytes: 600), record(2, bytes: 300)], claimedAt: .now, lease: .seconds(60))
        // 900 bytes wait: one more commit is handed over.
        #expect(handoff.claimForCommit(now: 0) != nil)
        handoff.committed([record(3, bytes: 200)], claimedAt: .now, lease: .seconds(60))
        // 1,100 bytes: the next commit writes its rows unclaimed.
        #expect(handoff.claimForCommit(now: 0) == nil)
        let taken = try await handoff.claim(limit: 2, claimant: "relay-a") { _ in [] }
        #expect(taken.map(\.id) == [1, 2])
        // 200 bytes wait.
        #expect(handoff.claimForCommit(now: 0) != nil)
        handoff.release("relay-a")
        handoff.committed([record(4, bytes: 999)], claimedAt: .now, lease: .seconds(60))
        #expect(handoff.claimForCommit(now: 0) != nil)
        handoff.committed([record(5, bytes: 1)], claimedAt: .now, lease: .seconds(60))
        #expect(handoff.claimForCommit(now: 0) == nil)
    }

    @Test("A claim takes handed rows up to the claim's byte bound, at least one, the rest at the next claim")
    func claimByteBound() async throws {
        let handoff = OutboxHandoff(capacity: 100, byteCapacity: 1 << 30)
        handoff.handOff(to: "relay-a", lease: .seconds(60))
        let twenty = 20 << 20
        handoff.committed(
            [record(1, bytes: twenty), record(2, bytes: twenty), record(3, bytes: twenty), record(4, bytes: 1)],
            claimedAt: .now, lease: .seconds(60))
        // 20 MiB, then 40 MiB reached: past 32 MiB, the third waits.
        #expect(try await handoff.claim(limit: 10, claimant: "relay-a") { _ in [] }.map(\.id) == [1, 2])
        #expect(try await handoff.claim(limit: 10, claimant: "relay-a") { _ in [] }.map(\.id) == [3, 4])
    }

    @Test("At most the row bound waits, whatever the bytes")
    func rowBound() {
        let handoff = OutboxHandoff(capacity: 3, byteCapacity: 1 << 20)
        handoff.handOff(to: "relay-a", lease: .seconds(60))
        handoff.committed((1...3).map { record($0, bytes: 1) }, claimedAt: .now, lease: .seconds(60))
        #expect(handoff.claimForCommit(now: 0) == nil)
    }
}
