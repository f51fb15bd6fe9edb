import AMQPClient
import Foundation
import Synchronization
import Testing

@Suite("A consumer holds at most its byte limit of unsettled deliveries")
struct HeldBytesTests {
    @Test(
        "Past the limit it reads nothing more, for longer than the heartbeat timeout, and keeps its connection; settling lets the rest in"
    )
    func boundedByBytes() async throws {
        var configuration = try Broker.configuration(name: "held-bytes-test")
        configuration.heartbeatSeconds = 1
        let queue = Broker.uniqueName("test.held-bytes")
        let topology = AMQPTopology(queues: [.init(name: queue, kind: .classic)])
        let publisher = AMQPPublisher(configuration: configuration, topology: topology)
        let body = [UInt8](repeating: 0x61, count: 256 << 10)
        _ = try await publisher.publish(
            (0..<20).map { index in
                OutgoingMessage(
                    AMQPMessage(body: body, messageId: "m-\(index)"), exchange: "", routingKey: queue)
            })
        let events = Mutex<[String]>([])
        let consumer = AMQPConsumer(
            configuration: configuration, queue: queue, topology: topology, prefetch: 100,
            maximumHeldBytes: 1 << 20,
            onConnectionEvent: { event in
                events.withLock {
                    switch event {
                    case .connected: $0.append("connected")
                    case .disconnected: $0.append("disconnected")
                    }
                }
            })
        // Take everything that comes, settling nothing for 4 s: four heartbeat intervals, twice
        // the broker's timeout.
        let taken = Mutex<[AMQPDelivery]>([])
        let taking = Task {
            while let batch = await consumer.next(upTo: 100) { taken.withLock { $0 += batch } }
        }
        try await Task.sleep(for: .seconds(4))
        // 1 MiB is four bodies of 256 KiB: the fourth reaches the limit.
        #expect(taken.withLock { $0.count } == 4)
        #expect(events.withLock { $0 } == ["connected"])
        // Settling each as it comes lets the rest in.
        var settled = 0
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let all = taken.withLock { $0 }
            for delivery in all[settled...] { consumer.acknowledge(delivery) }
            settled = all.count
            if settled >= 20 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(Set(taken.withLock { $0 }.compactMap(\.message.messageId)).count == 20)
        #expect(events.withLock { $0 } == ["connected"])
        consumer.finishDeliveries()
        await taking.value
        await consumer.stop()
        await publisher.close()
    }
}
