import AMQPClient
import Foundation
import Synchronization
import Testing

/// The RabbitMQ that `scripts/test` started: its URL and folder come from the environment.
enum Broker {
    static func configuration(name: String = "amqp-client-tests") throws -> AMQPConfiguration {
        let url = try #require(
            ProcessInfo.processInfo.environment["AMQP_URL"], "AMQP_URL is not set: run the tests through scripts/test")
        var configuration = try AMQPConfiguration(url: url, connectionName: name, heartbeatSeconds: 5)
        configuration.reconnectDelay = .milliseconds(50)...(.seconds(1))
        return configuration
    }

    /// A queue name no other test uses.
    static func uniqueName(_ prefix: String) -> String {
        "\(prefix).\(UUID().uuidString.prefix(8))"
    }

    /// Runs `scripts/rabbitmq` on the test broker (`restart`, `stop`, `start`).
    static func control(_ command: String) throws {
        let environment = ProcessInfo.processInfo.environment
        let folder = try #require(environment["RABBITMQ_DIR"], "RABBITMQ_DIR is not set")
        let script = try #require(environment["COVENANT_SCRIPTS"], "COVENANT_SCRIPTS is not set") + "/rabbitmq"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: script)
        process.arguments = [command, folder]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "scripts/rabbitmq \(command) failed")
    }

    /// A topic exchange and a quorum queue bound to it with `#`, with a dead-letter queue.
    static func topology(exchange: String, queue: String, kind: AMQPTopology.Queue.Kind = .quorum) -> AMQPTopology {
        AMQPTopology(
            exchanges: [.init(name: exchange), .init(name: "\(exchange).dead")],
            queues: [
                .init(
                    name: queue, kind: kind, bindings: [(exchange, "#")], deadLetterExchange: "\(exchange).dead")
            ])
    }
}

/// Gathers a consumer's deliveries in the background (acknowledging each, unless told not
/// to), so a test can wait for a number of them with a time limit.
final class DeliveryCollector: Sendable {
    private final class Store: Sendable {
        let items = Mutex<[AMQPDelivery]>([])
    }

    private let received = Store()
    private let task: Task<Void, Never>

    init(_ consumer: AMQPConsumer, acknowledge: Bool = true) {
        let store = received
        task = Task {
            for await delivery in consumer.deliveries {
                if acknowledge { consumer.acknowledge(delivery) }
                store.items.withLock { $0.append(delivery) }
            }
        }
    }

    var deliveries: [AMQPDelivery] { received.items.withLock { $0 } }

    /// Waits until at least `count` deliveries arrived or `timeout` passed; returns them all.
    func wait(for count: Int, timeout: Duration = .seconds(30)) async -> [AMQPDelivery] {
        let deadline = ContinuousClock.now + timeout
        while received.items.withLock({ $0.count }) < count && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return deliveries
    }

    /// Waits for the consumer's stream to end.
    func finished() async {
        await task.value
    }
}
