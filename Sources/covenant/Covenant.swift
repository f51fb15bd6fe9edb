import AMQPClient
import ArgumentParser
import CovenantMessages
import Foundation
import Synchronization
import WorkerRuntime
import WorkerStores

/// The operators' command line: topology, commands, billing runs, dead letters, queue depths.
///
/// Every command that talks to the broker ends within `--timeout` seconds: done, or with one line
/// naming what it could not reach and a non-zero exit code.
@main
struct Covenant: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "covenant", abstract: "Operate a Covenant cluster.", version: "covenant \(BuildInfo.version)",
        subcommands: [
            TopologyCommand.self, Publish.self, Billing.self, InvoiceCommand.self, Dead.self, Queues.self, Watch.self,
            WebhookCommand.self, AccessCommand.self,
        ])
}

/// Options every subcommand that talks to the broker shares.
struct Connection: ParsableArguments {
    @Option(help: "The broker's URL (default: $COVENANT_AMQP_URL).")
    var amqpURL: String?

    @Option(help: "Give up after this many seconds without finishing (exit code 1).")
    var timeout = 30

    func configuration() throws -> AMQPConfiguration {
        guard let url = amqpURL ?? ProcessInfo.processInfo.environment["COVENANT_AMQP_URL"] else {
            throw ValidationError("give --amqp-url or set COVENANT_AMQP_URL")
        }
        guard timeout > 0 else { throw ValidationError("--timeout must be at least 1 second") }
        return try AMQPConfiguration(
            url: url, connectionName: "covenant-cli", connectTimeoutSeconds: min(10, timeout))
    }

    /// The limit every broker call of the command runs under.
    func deadline(_ configuration: AMQPConfiguration) -> BrokerDeadline {
        BrokerDeadline(seconds: timeout, broker: configuration.description)
    }
}

/// The worker queues: one per role (`covenant.<role>`).
let workerQueues = StoreRole.allCases.map { "covenant.\($0.rawValue)" }

struct TopologyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology", abstract: "Declare the exchanges (workers declare their own queues).",
        subcommands: [Declare.self])

    struct Declare: AsyncParsableCommand {
        @OptionGroup var connection: Connection

        func run() async throws {
            let configuration = try connection.configuration()
            try await connection.deadline(configuration).blocking("declaring the exchanges") {
                try AMQPTopology(exchanges: Topology.exchanges).declare(using: configuration)
            }
            print("declared \(Topology.exchanges.map(\.name).joined(separator: ", "))")
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
        let rows = try await connection.deadline(configuration).blocking("reading the queues") {
            var rows: [String] = []
            for name in queues {
                switch Result(catching: { () throws(AMQPError) in try inspectQueues([name], using: configuration) }) {
                case .success(let found):
                    rows += found.map { "\($0.queue)\tmessages \($0.messages)\tconsumers \($0.consumers)" }
                case .failure(let error) where error.replyCode == 404:
                    rows.append("\(name)\t(not declared yet)")
                case .failure(let error):
                    throw error
                }
            }
            return rows
        }
        for row in rows { print(row) }
    }
}
