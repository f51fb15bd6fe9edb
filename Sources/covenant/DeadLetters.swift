import AMQPClient
import ArgumentParser
import CovenantMessages
import Foundation
import Synchronization
import WorkerRuntime

struct Dead: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Dead letters of a worker queue.", subcommands: [List.self, Replay.self])

    /// Takes what the dead-letter queue holds now (up to `limit`): once the consumer is connected,
    /// deliveries are gathered until a second passes without a new one. They stay unacknowledged
    /// for the caller. Fails when the queue cannot be consumed within the deadline.
    static func drain(
        _ queue: String, _ configuration: AMQPConfiguration, limit: Int, deadline: BrokerDeadline
    ) async throws -> (AMQPConsumer, [AMQPDelivery]) {
        let consumer = AMQPConsumer(
            configuration: configuration, queue: "\(queue).dead", prefetch: UInt16(max(1, min(limit, 1000))),
            onConnectionEvent: deadline.observer)
        try await deadline.connected("consuming \(queue).dead")
        let taken = Taken()
        try await deadline.run("reading \(queue).dead") {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    while taken.count < limit, let batch = await consumer.next(upTo: limit - taken.count) {
                        taken.append(batch)
                    }
                }
                // A second without a new delivery: the queue has given what it holds.
                var seen = -1
                while taken.count < limit && taken.count != seen {
                    seen = taken.count
                    try? await Task.sleep(for: .seconds(1))
                }
                // Ends the collector's wait; what it did not take goes back to the queue.
                consumer.finishDeliveries()
            }
        }
        let letters = taken.all
        return (consumer, letters)
    }

    /// What `list` and `replay` share: the broker, the worker queue, how many.
    struct Letters: ParsableArguments {
        @OptionGroup var connection: Connection
        @Argument(help: "The worker queue, e.g. covenant.rating.") var queue: String
        @Option(help: "At most this many.") var limit = 100

        /// The dead letters taken (unacknowledged), with the consumer holding them.
        func take() async throws -> (AMQPConsumer, [AMQPDelivery], BrokerDeadline, AMQPConfiguration) {
            let configuration = try connection.configuration()
            let deadline = connection.deadline(configuration)
            let (consumer, letters) = try await Dead.drain(queue, configuration, limit: limit, deadline: deadline)
            return (consumer, letters, deadline, configuration)
        }
    }

    struct List: AsyncParsableCommand {
        @OptionGroup var letters: Letters

        func run() async throws {
            let (consumer, letters, deadline, _) = try await self.letters.take()
            let queue = self.letters.queue
            for letter in letters {
                let headers = letter.message.headers
                print(
                    "\(letter.message.messageId ?? "-") \(headers["x-covenant-original-routing-key"]?.stringValue ?? letter.routingKey) "
                        + "\(headers["x-covenant-reason-code"]?.stringValue ?? "-"): \(headers["x-covenant-reason"]?.stringValue ?? "")"
                )
                consumer.requeue(letter)  // listing leaves them where they are
            }
            try await deadline.run("returning the dead letters") { await consumer.stop() }
            print("\(letters.count) dead letter(s) in \(queue).dead")
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Publish dead letters again to their worker's queue; each is acknowledged only once the broker confirmed its replay.",
            discussion: """
                A replay goes to the worker queue named, through the default exchange, with where the message was \
                first published as Covenant recorded it (never an exchange or routing key the message names). \
                Exits non-zero when a dead letter was not replayed: its origin unknown, or the queue missing \
                (that dead letter stays where it was).
                """)

        @OptionGroup var letters: Letters

        func run() async throws {
            let (consumer, letters, deadline, configuration) = try await self.letters.take()
            let queue = self.letters.queue
            let publisher = AMQPPublisher(configuration: configuration, onConnectionEvent: deadline.observer)
            var replayed = 0
            var refused: [String] = []
            for letter in letters {
                // Back to the worker's queue, never where the message says (DeadLetterReplay).
                guard let replay = DeadLetterReplay.replay(of: letter.message, toQueue: queue) else {
                    consumer.requeue(letter)
                    refused.append("\(letter.message.messageId ?? "-") (no verified origin)")
                    continue
                }
                let confirmation = try await deadline.run("replaying \(replay.message.messageId ?? "a dead letter")") {
                    try await publisher.publish(replay.message, exchange: "", routingKey: replay.routingKey)
                }
                if confirmation == .confirmed {
                    consumer.acknowledge(letter)  // only once the broker confirmed the replay
                    replayed += 1
                } else {
                    consumer.requeue(letter)  // not republished: it stays a dead letter
                    refused.append("\(replay.message.messageId ?? "-") (\(queue) unroutable)")
                }
            }
            try await deadline.run("closing") {
                await consumer.stop()
                await publisher.close()
            }
            print("replayed \(replayed) message(s) from \(queue).dead")
            guard refused.isEmpty else {
                throw CommandFailure(
                    message: "\(refused.count) dead letter(s) not replayed, left in \(queue).dead: "
                        + refused.joined(separator: ", "))
            }
        }
    }
}

/// Deliveries gathered by one task and read by another.
final class Taken: Sendable {
    private let items = Mutex<[AMQPDelivery]>([])
    func append(_ deliveries: [AMQPDelivery]) { items.withLock { $0 += deliveries } }
    var count: Int { items.withLock { $0.count } }
    var all: [AMQPDelivery] { items.withLock { $0 } }
}
