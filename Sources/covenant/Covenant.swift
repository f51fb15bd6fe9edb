import AMQPClient
import ArgumentParser
import CovenantMessages
import Foundation
import Synchronization
import WorkerRuntime

/// The operators' command line: topology, commands, billing runs, dead letters, queue depths.
@main
struct Covenant: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "covenant", abstract: "Operate a Covenant cluster.",
        subcommands: [
            TopologyCommand.self, Publish.self, Billing.self, InvoiceCommand.self, Dead.self, Queues.self, Watch.self,
        ])
}

/// Options every subcommand shares.
struct Connection: ParsableArguments {
    @Option(help: "The broker's URL (default: $COVENANT_AMQP_URL).")
    var amqpURL: String?

    func configuration() throws -> AMQPConfiguration {
        guard let url = amqpURL ?? ProcessInfo.processInfo.environment["COVENANT_AMQP_URL"] else {
            throw ValidationError("give --amqp-url or set COVENANT_AMQP_URL")
        }
        return try AMQPConfiguration(url: url, connectionName: "covenant-cli")
    }
}

/// Deliveries gathered by one task and read by another.
final class Taken: Sendable {
    private let items = Mutex<[AMQPDelivery]>([])
    func append(_ delivery: AMQPDelivery) { items.withLock { $0.append(delivery) } }
    var count: Int { items.withLock { $0.count } }
    var all: [AMQPDelivery] { items.withLock { $0 } }
}

/// The worker queues of the interface.
let workerQueues = ["provisioning", "rating", "commitments", "invoicing", "notification"].map { "covenant.\($0)" }

struct TopologyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology", abstract: "Declare the exchanges (workers declare their own queues).",
        subcommands: [Declare.self])

    struct Declare: AsyncParsableCommand {
        @OptionGroup var connection: Connection

        func run() async throws {
            try AMQPTopology(exchanges: Topology.exchanges).declare(using: try connection.configuration())
            print("declared \(Topology.exchanges.map(\.name).joined(separator: ", "))")
        }
    }
}

struct Publish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish commands from JSON files: each an envelope, or a list of envelopes.")

    @OptionGroup var connection: Connection
    @Argument(help: "JSON files of CloudEvents commands.") var files: [String]
    @Flag(
        help: """
            Publish messages as given, unchecked (to test how Covenant treats bad input): each line of \
            the files a JSON object with routing_key, and optionally message_id, content_type and body \
            (text) or body_base64.
            """)
    var raw = false

    func run() async throws {
        if raw {
            try await Self.publish(try files.flatMap(Self.rawMessages), using: try connection.configuration())
            return
        }
        var outgoing: [OutgoingMessage] = []
        for file in files {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
            guard let json = JSONValue.parse(bytes) else { throw ValidationError("\(file) is not JSON") }
            let items: [JSONValue]
            if case .array(let list) = json { items = list } else { items = [json] }
            for item in items {
                let event = try CloudEvent.decode(item.serialized()).get()
                outgoing.append(Self.message(event))
            }
        }
        try await Self.publish(outgoing, using: try connection.configuration())
    }

    /// The messages of a `--raw` file, one JSON object per line.
    static func rawMessages(_ file: String) throws -> [OutgoingMessage] {
        let text = try String(contentsOfFile: file, encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            guard let item = JSONValue.parse(Array(line.utf8)), case .string(let key) = item["routing_key"] else {
                throw ValidationError("\(file): a line is not an object with a routing_key")
            }
            func text(_ name: String) -> String? {
                if case .string(let value) = item[name] { return value }
                return nil
            }
            let body =
                text("body_base64").flatMap { Data(base64Encoded: $0) }.map { [UInt8]($0) }
                ?? Array((text("body") ?? "").utf8)
            return OutgoingMessage(
                AMQPMessage(body: body, messageId: text("message_id"), contentType: text("content_type")),
                exchange: Topology.commandsExchange, routingKey: key)
        }
    }

    static func message(_ event: CloudEvent) -> OutgoingMessage {
        OutgoingMessage(
            AMQPMessage(
                body: event.encoded(), messageId: event.id, contentType: CloudEvent.contentType, type: event.type,
                timestamp: UInt64(Date().timeIntervalSince1970)),
            exchange: Topology.commandsExchange, routingKey: event.type)
    }

    static func publish(_ messages: [OutgoingMessage], using configuration: AMQPConfiguration) async throws {
        let publisher = AMQPPublisher(
            configuration: configuration, topology: AMQPTopology(exchanges: Topology.exchanges))
        let confirmations = try await publisher.publish(messages)
        await publisher.close()
        for (message, confirmation) in zip(messages, confirmations) {
            let outcome = confirmation == .confirmed ? "confirmed" : "unroutable (no worker queue bound)"
            print("\(message.message.messageId ?? "-") \(message.routingKey): \(outcome)")
        }
    }
}

struct Billing: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Billing runs.", subcommands: [Run.self])

    struct Run: AsyncParsableCommand {
        @OptionGroup var connection: Connection
        @Option(help: "The tenant.") var tenant: String
        @Option(help: "The run's date, YYYY-MM-DD.") var asOf: String

        func run() async throws {
            let event = CloudEvent(
                id: "run-\(tenant)-\(asOf)-\(UUID().uuidString.prefix(8))", source: "covenant-cli", type: "billing.run",
                time: Worker.now(), tenantId: tenant, data: .object(["as_of": .string(asOf)]))
            guard case .success = Command.decode(event) else {
                throw ValidationError("--as-of must be a date YYYY-MM-DD")
            }
            try await Publish.publish([Publish.message(event)], using: try connection.configuration())
        }
    }
}

struct Dead: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Dead letters of a worker queue.", subcommands: [List.self, Replay.self])

    /// Takes what the dead-letter queue holds now (up to `limit`): deliveries are gathered
    /// until a second passes without a new one. They stay unacknowledged for the caller.
    static func drain(
        _ queue: String, _ configuration: AMQPConfiguration, limit: Int
    ) async -> (
        AMQPConsumer, [AMQPDelivery]
    ) {
        let consumer = AMQPConsumer(
            configuration: configuration, queue: "\(queue).dead", prefetch: UInt16(max(1, min(limit, 1000))))
        let taken = Taken()
        Task {
            for await delivery in consumer.deliveries {
                taken.append(delivery)
                if taken.count >= limit { break }
            }
        }
        var seen = -1
        while taken.count < limit {
            try? await Task.sleep(for: .seconds(1))
            if taken.count == seen { break }
            seen = taken.count
        }
        return (consumer, Array(taken.all.prefix(limit)))
    }

    struct List: AsyncParsableCommand {
        @OptionGroup var connection: Connection
        @Argument(help: "The worker queue, e.g. covenant.rating.") var queue: String
        @Option(help: "At most this many.") var limit = 100

        func run() async throws {
            let (consumer, letters) = await Dead.drain(queue, try connection.configuration(), limit: limit)
            for letter in letters {
                let headers = letter.message.headers
                print(
                    "\(letter.message.messageId ?? "-") \(headers["x-covenant-original-routing-key"]?.stringValue ?? letter.routingKey) "
                        + "\(headers["x-covenant-reason-code"]?.stringValue ?? "-"): \(headers["x-covenant-reason"]?.stringValue ?? "")"
                )
                consumer.requeue(letter)  // listing leaves them where they are
            }
            await consumer.stop()
            print("\(letters.count) dead letter(s) in \(queue).dead")
        }
    }

    struct Replay: AsyncParsableCommand {
        @OptionGroup var connection: Connection
        @Argument(help: "The worker queue, e.g. covenant.rating.") var queue: String
        @Option(help: "At most this many.") var limit = 100

        func run() async throws {
            let configuration = try connection.configuration()
            let (consumer, letters) = await Dead.drain(queue, configuration, limit: limit)
            let publisher = AMQPPublisher(configuration: configuration)
            for letter in letters {
                var message = letter.message
                let headers = message.headers
                for key in headers.keys where key.hasPrefix("x-covenant-") || key == "x-death" {
                    message.headers[key] = nil
                }
                _ = try await publisher.publish(
                    message,
                    exchange: headers["x-covenant-original-exchange"]?.stringValue ?? Topology.commandsExchange,
                    routingKey: headers["x-covenant-original-routing-key"]?.stringValue ?? letter.routingKey)
                consumer.acknowledge(letter)  // only once the broker confirmed the replay
            }
            await consumer.stop()
            await publisher.close()
            print("replayed \(letters.count) message(s) from \(queue).dead")
        }
    }
}

struct Queues: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Depths and consumers of the worker queues, their dead letters and their retry queues.")
    @OptionGroup var connection: Connection

    func run() async throws {
        let configuration = try connection.configuration()
        let queues = workerQueues.flatMap { name in
            let queue = Topology.workerQueue(name).queues[0]
            return [name, queue.deadLetterQueueName] + queue.retryDelaysMilliseconds.map(queue.retryQueueName)
        }
        for name in queues {
            let result = Result { () throws(AMQPError) in try inspectQueues([name], using: configuration) }
            switch result {
            case .success(let rows):
                for row in rows { print("\(row.queue)\tmessages \(row.messages)\tconsumers \(row.consumers)") }
            case .failure(let error) where error.replyCode == 404:
                print("\(name)\t(not declared yet)")
            case .failure(let error):
                throw error
            }
        }
    }
}

struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print events as they arrive, through a queue bound the way an integrator binds one.")

    @OptionGroup var connection: Connection
    @Option(help: "Routing keys to bind (default: every event).") var bind: [String] = ["#"]
    @Option(help: "Stop after this many events (0: never).") var count = 0
    @Option(help: "Write a line to this file once the queue is bound (for scripts).") var readyFile: String?
    @Option(help: "The queue's name: a durable queue a later watch can take over (default: a new one).")
    var queue: String?
    @Flag(help: "Print each event as one line of CloudEvents JSON.") var json = false

    func run() async throws {
        let configuration = try connection.configuration()
        let queue = self.queue ?? "watch.\(UUID().uuidString.prefix(8))"
        let consumer = AMQPConsumer(
            configuration: configuration, queue: queue,
            topology: AMQPTopology(
                exchanges: Topology.exchanges,
                queues: [.init(name: queue, kind: .classic, bindings: bind.map { (Topology.eventsExchange, $0) })]))
        // The queue exists once the consumer's first connection declared it.
        while (try? inspectQueues([queue], using: configuration)) == nil {
            try await Task.sleep(for: .milliseconds(50))
        }
        if let readyFile { try "ready\n".write(toFile: readyFile, atomically: true, encoding: .utf8) }
        var seen = 0
        for await delivery in consumer.deliveries {
            consumer.acknowledge(delivery)
            guard let event = try? CloudEvent.decode(delivery.message.body).get() else { continue }
            // Unbuffered, so a script piping the output sees each event as it arrives.
            let line = json ? String(decoding: event.encoded(), as: UTF8.self) : EventText.render(event)
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
            seen += 1
            if count > 0 && seen >= count { break }
        }
        await consumer.stop()
    }
}

/// Events as people read them in a terminal; invoices in full.
enum EventText {
    static func render(_ event: CloudEvent) -> String {
        guard event.type == "invoice.ready" else {
            return "\(event.type) [\(event.tenantId)] \(String(decoding: event.data.serialized(), as: UTF8.self))"
        }
        return "invoice.ready " + invoice(event.data)
    }

    /// An invoice's `invoice.ready` data: its header, each line, the totals.
    static func invoice(_ data: JSONValue) -> String {
        func text(_ value: JSONValue?) -> String {
            if case .string(let string) = value { return string }
            return "-"
        }
        var lines = [
            "\(text(data["invoice_id"]))  customer \(text(data["customer_id"]))  issued \(text(data["issue_date"]))  \(text(data["currency"]))"
        ]
        if case .array(let items) = data["lines"] {
            for item in items {
                let late = item["late"] == .bool(true) ? " (late)" : ""
                lines.append(
                    "  \(text(item["type"]))\(late)  \(text(item["service_id"]))  \(text(item["description"]))")
                lines.append(
                    "      gross \(text(item["gross_amount"]))  discount \(text(item["discount_amount"]))  amount \(text(item["amount"]))"
                )
            }
        }
        lines.append(
            "  subtotal \(text(data["subtotal"]))  discount \(text(data["discount_total"]))  total \(text(data["total"]))"
        )
        return lines.joined(separator: "\n")
    }
}
