import AMQPClient
import Foundation
import Glibc
import Synchronization
import Testing

/// The RabbitMQ that `scripts/test` started: its URL and folder come from the environment.
enum Broker {
    /// The shared test broker, or (`restartable`) the one the restart test may stop and start.
    static func configuration(name: String = "amqp-client-tests", restartable: Bool = false) throws -> AMQPConfiguration
    {
        let variable = restartable ? "RESTART_AMQP_URL" : "AMQP_URL"
        let url = try #require(
            ProcessInfo.processInfo.environment[variable], "\(variable) is not set: run the tests through scripts/test")
        var configuration = try AMQPConfiguration(url: url, connectionName: name, heartbeatSeconds: 5)
        configuration.reconnectDelay = .milliseconds(50)...(.seconds(1))
        return configuration
    }

    /// A queue name no other test uses.
    static func uniqueName(_ prefix: String) -> String {
        "\(prefix).\(UUID().uuidString.prefix(8))"
    }

    /// Runs `scripts/rabbitmq COMMAND` on the restartable test broker and waits for it.
    ///
    /// The script leaves a daemon behind, so it runs through `posix_spawn` and `waitpid` on a
    /// thread of its own rather than Foundation's `Process`, whose exit notification the
    /// daemon's inherited descriptors can hold up.
    static func control(_ command: String) async throws {
        let environment = ProcessInfo.processInfo.environment
        let folder = try #require(environment["RESTART_RABBITMQ_DIR"], "RESTART_RABBITMQ_DIR is not set")
        let script = try #require(environment["COVENANT_SCRIPTS"], "COVENANT_SCRIPTS is not set") + "/rabbitmq"
        let status: Int32 = await withCheckedContinuation { continuation in
            let thread = Thread {
                var pid: pid_t = 0
                let arguments: [UnsafeMutablePointer<CChar>?] = [strdup(script), strdup(command), strdup(folder), nil]
                defer { arguments.forEach { free($0) } }
                guard posix_spawn(&pid, script, nil, nil, arguments, environ) == 0 else {
                    continuation.resume(returning: -1)
                    return
                }
                var status: Int32 = 0
                while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
                continuation.resume(returning: status)
            }
            thread.start()
        }
        #expect(status == 0, "scripts/rabbitmq \(command) failed with \(status)")
    }

    /// The TLS listener's URL and the test certificates' folder.
    static func tls() throws -> (url: String, certificates: String) {
        let environment = ProcessInfo.processInfo.environment
        return (
            try #require(environment["AMQPS_URL"], "AMQPS_URL is not set: run the tests through scripts/test"),
            try #require(environment["COVENANT_TEST_CERTS"], "COVENANT_TEST_CERTS is not set")
        )
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

    /// Waits until every message id in `ids` was delivered (redeliveries count once) or
    /// `timeout` passed; returns the ids delivered.
    func wait(forIds ids: Set<String>, timeout: Duration = .seconds(60)) async -> Set<String> {
        let deadline = ContinuousClock.now + timeout
        var seen: Set<String> = []
        while ContinuousClock.now < deadline {
            seen = Set(deliveries.compactMap(\.message.messageId))
            if ids.isSubset(of: seen) { break }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return seen
    }

    /// Waits for the consumer's stream to end.
    func finished() async {
        await task.value
    }
}

/// A value tests share between tasks.
final class Shared<Value: Sendable>: Sendable {
    private let value: Mutex<Value>

    init(_ value: Value) { self.value = Mutex(value) }

    func update<Result>(_ body: (inout Value) -> Result) -> Result { value.withLock { body(&$0) } }

    var current: Value { value.withLock { $0 } }
}
