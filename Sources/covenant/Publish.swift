import AMQPClient
import ArgumentParser
import BillingDomain
import CovenantMessages
import Foundation
import WorkerRuntime

struct Publish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish commands from JSON files: each an envelope, or a list of envelopes.",
        discussion: "Exits non-zero when the broker returns a message as unroutable (no worker queue bound).")

    @OptionGroup var connection: Connection
    @Argument(help: "JSON files of CloudEvents commands.") var files: [String]
    @Flag(
        help: """
            Publish messages as given, unchecked (to test how Covenant treats bad input): each line of \
            the files a JSON object with routing_key, and optionally message_id, content_type, headers \
            (an object of strings) and body \
            (text) or body_base64.
            """)
    var raw = false

    func run() async throws {
        if raw {
            try await Self.publish(try files.flatMap(Self.rawMessages), connection)
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
        try await Self.publish(outgoing, connection)
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
            // String headers as given: what a publisher may set (Covenant's own change nothing).
            var headers: AMQPTable = [:]
            if case .object(let given)? = item["headers"] {
                for (name, value) in given.members {
                    if case .string(let text) = value { headers[name] = .string(text) }
                }
            }
            return OutgoingMessage(
                AMQPMessage(
                    body: body, messageId: text("message_id"), contentType: text("content_type"), headers: headers),
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

    /// Publishes with confirms and prints each message's outcome; fails when the broker cannot be
    /// reached in time or returned a message as unroutable.
    static func publish(_ messages: [OutgoingMessage], _ connection: Connection) async throws {
        let configuration = try connection.configuration()
        let deadline = connection.deadline(configuration)
        let confirmations = try await deadline.run("publishing \(messages.count) message(s)") {
            // Declares nothing: a tenant's upstream user may only write `covenant.commands`,
            // which the workers (or `covenant topology declare`) declared.
            let publisher = AMQPPublisher(configuration: configuration, onConnectionEvent: deadline.observer)
            let confirmations = try await publisher.publish(messages)
            await publisher.close()
            return confirmations
        }
        var unroutable = 0
        for (message, confirmation) in zip(messages, confirmations) {
            let outcome: String
            if case .unroutable(let code, let text) = confirmation {
                unroutable += 1
                outcome = "unroutable (no worker queue bound; \(code) \(text))"
            } else {
                outcome = "confirmed"
            }
            print("\(message.message.messageId ?? "-") \(message.routingKey): \(outcome)")
        }
        guard unroutable == 0 else {
            throw CommandFailure(
                message: "the broker returned \(unroutable) of \(messages.count) message(s) as unroutable")
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
            guard let date = CalendarDate(iso: asOf) else { throw ValidationError("--as-of must be a date YYYY-MM-DD") }
            let event = CloudEvent(
                id: "run-\(tenant)-\(date)-\(UUID().uuidString.prefix(8))", source: "covenant-cli",
                type: Command.billingRunType, time: EventClock.system.timestamp(), tenantId: tenant,
                data: Command.billingRunData(asOf: date))
            try await Publish.publish([Publish.message(event)], connection)
        }
    }
}
