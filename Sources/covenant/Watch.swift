import AMQPClient
import ArgumentParser
import CovenantMessages
import Foundation
import WorkerRuntime

struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print events as they arrive, through a queue bound the way an integrator binds one.",
        discussion: """
            The queue is exclusive to this watch and goes with it (the broker names it), unless --queue \
            names a durable one that a later watch can take over. Ends with an error when the broker \
            cannot be reached for --timeout seconds.
            """)

    @OptionGroup var connection: Connection
    @Option(help: "Event types to bind, or # (default: every event).") var bind: [String] = ["#"]
    @Option(
        help:
            "Only this tenant's events (`<tenant>.<type>`): an integrator's user may bind no other (default: every tenant, for operators)."
    )
    var tenant: String?
    @Option(help: "Stop after this many events (0: never).") var count = 0
    @Option(help: "Write a line to this file once the queue is bound (for scripts).") var readyFile: String?
    @Option(help: "A durable queue of this name, left in place for a later watch (default: none kept).")
    var queue: String?
    @Flag(help: "With --queue: a quorum queue, replicated on the broker cluster's nodes (survives a node's loss).")
    var quorum = false
    @Flag(help: "Print each event as one line of CloudEvents JSON.") var json = false

    func validate() throws {
        if quorum && queue == nil { throw ValidationError("--quorum needs --queue: a quorum queue is durable") }
    }

    func run() async throws {
        let configuration = try connection.configuration()
        let deadline = connection.deadline(configuration)
        // Events are routed `<tenantid>.<type>`.
        let bindings = bind.map { type in
            (
                exchange: Topology.eventsExchange,
                routingKey: type == "#" ? tenant.map { "\($0).#" } ?? "#" : "\(tenant ?? "*").\(type)"
            )
        }
        // An integrator's user may declare only queues named after itself (`<user>.…`): with
        // --tenant, the queue is so named.
        let name =
            queue ?? (tenant == nil ? "" : "\(configuration.user).watch-\(UUID().uuidString.prefix(8).lowercased())")
        let declared = AMQPTopology.Queue(
            name: name, kind: quorum ? .quorum : .classic, bindings: bindings, exclusive: queue == nil)
        let connections = ConnectionState()
        let consumer = AMQPConsumer(
            configuration: configuration, queue: declared.name,
            // Declares its queue alone: the exchanges are the workers' (`covenant topology declare`).
            topology: AMQPTopology(exchanges: [], queues: [declared]),
            onConnectionEvent: { event in
                deadline.observer(event)
                connections.record(event)
            })
        // Declared, bound and consumed once the consumer's first connection is up.
        try await deadline.connected("binding a queue to \(Topology.eventsExchange)")
        if let readyFile { try "ready\n".write(toFile: readyFile, atomically: true, encoding: .utf8) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
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
            }
            group.addTask {
                // A broker gone for longer than the limit ends the watch with an error.
                while true {
                    try await Task.sleep(for: .seconds(1))
                    if let since = connections.disconnectedSince, ContinuousClock.now - since > deadline.limit {
                        consumer.finishDeliveries()  // ends the other task's wait
                        throw deadline.expired("watching (the connection was lost)")
                    }
                }
            }
            defer { group.cancelAll() }
            try await group.next()
        }
        consumer.finishDeliveries()
        await consumer.stop()
    }
}
