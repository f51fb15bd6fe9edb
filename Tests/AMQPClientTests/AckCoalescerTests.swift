import Testing

@testable import AMQPClient

@Suite("Acknowledgement bookkeeping without a broker")
struct AckCoalescerTests {
    @Test("A run of acks from the lowest unsettled tag becomes one multiple ack")
    func contiguousRun() {
        var coalescer = AckCoalescer()
        let plan = coalescer.plan(acks: [3, 1, 2, 4], settledOtherwise: [])
        #expect(plan.multipleUpTo == 4 && plan.single.isEmpty)
    }

    @Test("Acks past a gap go out one by one; the gap closing later covers what is left")
    func gap() {
        var coalescer = AckCoalescer()
        let first = coalescer.plan(acks: [1, 3, 4], settledOtherwise: [])
        #expect(first.multipleUpTo == 1 && first.single == [3, 4])
        let second = coalescer.plan(acks: [2, 5], settledOtherwise: [])
        // 2 closes the gap; 3 and 4 were sent already; 5 follows: one multiple ack up to 5.
        #expect(second.multipleUpTo == 5 && second.single.isEmpty)
    }

    @Test("Rejected tags are skipped over, never acknowledged")
    func rejected() {
        var coalescer = AckCoalescer()
        let plan = coalescer.plan(acks: [1, 3], settledOtherwise: [2])
        #expect(plan.multipleUpTo == 3 && plan.single.isEmpty)
        let none = coalescer.plan(acks: [], settledOtherwise: [5])
        #expect(none.multipleUpTo == nil && none.single.isEmpty)
        // 5 is settled already: the multiple ack stops at 4, the last tag still outstanding.
        #expect(coalescer.plan(acks: [4], settledOtherwise: []).multipleUpTo == 4)
    }

    @Test("A multiple ack never names a tag settled before: RabbitMQ would close the channel")
    func neverAnAcknowledgedTag() {
        var coalescer = AckCoalescer()
        // 2 is acknowledged alone past the gap at 1; then 1 closes the gap.
        #expect(coalescer.plan(acks: [2], settledOtherwise: []).single == [2])
        let closing = coalescer.plan(acks: [1], settledOtherwise: [])
        #expect(closing.multipleUpTo == 1 && closing.single.isEmpty)
        // Every tag a plan names was outstanding: each goes out once, in one frame or another.
        var outstanding = Set<UInt64>(1...40)
        var sent = Set<UInt64>()
        var acknowledged = Set<UInt64>()
        var fresh = AckCoalescer()
        var generator = SystemRandomNumberGenerator()
        for batch in Array(UInt64(1)...40).shuffled(using: &generator).chunked(by: 7) {
            acknowledged.formUnion(batch)
            let plan = fresh.plan(acks: batch, settledOtherwise: [])
            if let upTo = plan.multipleUpTo {
                #expect(outstanding.contains(upTo), "multiple ack of \(upTo), settled before")
                let covered = outstanding.filter { $0 <= upTo }
                #expect(covered.isSubset(of: acknowledged), "a multiple ack over tags not acknowledged")
                outstanding.subtract(covered)
                sent.formUnion(covered)
            }
            for tag in plan.single {
                #expect(outstanding.remove(tag) != nil, "single ack of \(tag), settled before")
                sent.insert(tag)
            }
        }
        #expect(outstanding.isEmpty && sent == Set(1...40))
    }
}

extension Array {
    fileprivate func chunked(by size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
