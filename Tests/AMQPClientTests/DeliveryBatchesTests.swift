import Testing

@testable import AMQPClient

@Suite("A consumer's delivery buffer without a broker", .timeLimit(.minutes(1)))
struct DeliveryBatchesTests {
    func delivery(_ tag: UInt64) -> AMQPDelivery {
        AMQPDelivery(
            message: AMQPMessage(body: [UInt8(tag % 256)]), deliveryTag: tag, redelivered: false, exchange: "",
            routingKey: "q", connectionEpoch: 1)
    }

    @Test("Batches take what arrived, in order, up to the limit, and never wait for more")
    func batchesInOrder() async throws {
        let batches = DeliveryBatches()
        for tag in UInt64(1)...7 { batches.append(delivery(tag)) }
        #expect(await batches.next(upTo: 3)?.map(\.deliveryTag) == [1, 2, 3])
        batches.append(delivery(8))
        #expect(await batches.next(upTo: 10)?.map(\.deliveryTag) == [4, 5, 6, 7, 8])
        batches.append(delivery(9))
        #expect(await batches.next(upTo: 1)?.map(\.deliveryTag) == [9])
    }

    @Test("A task waiting for deliveries gets those that arrive; one by one they come in order")
    func waiting() async throws {
        let batches = DeliveryBatches()
        let waiter = Task { await batches.next(upTo: 100)?.map(\.deliveryTag) }
        try await Task.sleep(for: .milliseconds(50))
        batches.append(delivery(1))
        #expect(await waiter.value?.first == 1)
        let reader = Task {
            var tags: [UInt64] = []
            for await delivery in AMQPDeliveries(batches: batches) {
                tags.append(delivery.deliveryTag)
                if tags.count == 200 { break }
            }
            return tags
        }
        for tag in 2...201 { batches.append(delivery(UInt64(tag))) }
        #expect(await reader.value == Array(2...201))
    }

    @Test("Finishing ends a waiting task and every later take; what was buffered is not handed out")
    func finish() async throws {
        let batches = DeliveryBatches()
        let waiter = Task { await batches.next(upTo: 10) }
        try await Task.sleep(for: .milliseconds(50))
        batches.finish()
        #expect(await waiter.value == nil)

        let buffered = DeliveryBatches()
        buffered.append(delivery(1))
        buffered.finish()
        buffered.append(delivery(2))
        #expect(await buffered.next(upTo: 10) == nil)
        var iterator = AMQPDeliveries(batches: buffered).makeAsyncIterator()
        #expect(await iterator.next() == nil)
    }
}
