import AMQPClient
import Foundation

/// The Swift side of the AMQP client benchmark; the same work as `amqp-baseline/baseline.c`.
///
///     amqp-throughput publish URL QUEUE COUNT SIZE WINDOW   confirmed publishes per second
///     amqp-throughput publish-batched URL QUEUE COUNT SIZE WINDOW   the same, 100 per call
///     amqp-throughput consume URL QUEUE COUNT PREFETCH      acknowledged deliveries per second
@main
struct AMQPThroughput {
    static func main() async throws {
        let arguments = CommandLine.arguments
        guard arguments.count >= 6, let count = Int(arguments[4]) else {
            FileHandle.standardError.write(Data("usage: amqp-throughput publish|consume URL QUEUE COUNT …\n".utf8))
            exit(2)
        }
        let configuration = try AMQPConfiguration(url: arguments[2], connectionName: "benchmark")
        let queue = arguments[3]
        let topology = AMQPTopology(queues: [.init(name: queue)])
        switch arguments[1] {
        case "publish", "publish-batched":
            let size = Int(arguments[5]) ?? 256
            let window = Int(arguments.count > 6 ? arguments[6] : "1000") ?? 1000
            let batch = arguments[1] == "publish" ? 1 : 100
            print(Int(try await publish(configuration, topology, queue, count, size, window, batch: batch)))
        case "consume":
            let prefetch = UInt16(arguments[5]) ?? 1000
            print(Int(await consume(configuration, topology, queue, count, prefetch)))
        default:
            exit(2)
        }
    }

    /// Keeps `window` publishes in flight until `count` are confirmed, `batch` per call.
    static func publish(
        _ configuration: AMQPConfiguration, _ topology: AMQPTopology, _ queue: String, _ count: Int, _ size: Int,
        _ window: Int, batch: Int
    ) async throws -> Double {
        let publisher = AMQPPublisher(configuration: configuration, topology: topology, confirmWindow: window)
        let body = [UInt8](repeating: UInt8(ascii: "x"), count: size)
        func message(_ index: Int) -> AMQPMessage {
            AMQPMessage(body: body, messageId: "m-\(index)", contentType: "application/cloudevents+json")
        }
        // Connect before timing, as the C program does.
        _ = try await publisher.publish(message(-1), exchange: "", routingKey: queue)
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (call, first) in stride(from: 0, to: count, by: batch).enumerated() {
                if call >= window / batch { try await group.next() }
                if batch == 1 {
                    // One message per call, through the call for one message.
                    let single = message(first)
                    group.addTask { _ = try await publisher.publish(single, exchange: "", routingKey: queue) }
                    continue
                }
                let messages = (first..<min(first + batch, count)).map {
                    OutgoingMessage(message($0), exchange: "", routingKey: queue)
                }
                group.addTask { _ = try await publisher.publish(messages) }
            }
            try await group.waitForAll()
        }
        let elapsed = ContinuousClock.now - start
        await publisher.close()
        return Double(count) / seconds(elapsed)
    }

    static func consume(
        _ configuration: AMQPConfiguration, _ topology: AMQPTopology, _ queue: String, _ count: Int, _ prefetch: UInt16
    ) async -> Double {
        let consumer = AMQPConsumer(configuration: configuration, queue: queue, topology: topology, prefetch: prefetch)
        var received = 0
        var start = ContinuousClock.now
        for await delivery in consumer.deliveries {
            if received == 0 { start = .now }
            consumer.acknowledge(delivery)
            received += 1
            if received == count { break }
        }
        let elapsed = ContinuousClock.now - start
        await consumer.stop()
        return Double(count - 1) / seconds(elapsed)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
