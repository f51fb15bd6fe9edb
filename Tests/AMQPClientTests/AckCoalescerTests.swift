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
        #expect(coalescer.plan(acks: [4], settledOtherwise: []).multipleUpTo == 5)
    }
}
