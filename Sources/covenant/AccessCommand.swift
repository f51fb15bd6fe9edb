public import ArgumentParser
import CovenantMessages
import Foundation
import WorkerRuntime

struct AccessCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "access", abstract: "Entitle broker users to tenants (operators only).",
        subcommands: [Grant.self, Revoke.self])

    /// What grant and revoke share.
    struct Change: ParsableArguments {
        @OptionGroup var connection: Connection
        @Argument(help: "The broker user.") var user: String
        @Option(name: .customLong("tenant"), help: "A tenant (repeat for several).") var tenants: [String]
        @Option(help: "What the user is: upstream (publishes commands) or integrator (binds its tenants' events).")
        var role: BrokerRole
        @Option(
            help: "The broker's management API, http://user:password@host:15672 (default: $COVENANT_MANAGEMENT_URL).")
        var managementURL: String?

        func validate() throws {
            guard !tenants.isEmpty else { throw ValidationError("name at least one --tenant") }
        }

        /// Sends `access.grant` or `access.revoke`, waits for provisioning's `access.changed`, and
        /// sets the user's broker permissions to the tenants it now has. Returns them.
        func apply(grants: Bool) async throws -> (BrokerManagement, [String]) {
            guard let url = managementURL ?? ProcessInfo.processInfo.environment["COVENANT_MANAGEMENT_URL"] else {
                throw ValidationError("give --management-url or set COVENANT_MANAGEMENT_URL")
            }
            let management = try BrokerManagement(url: url)
            let change = AccessChange(user: user, tenants: tenants, grants: grants)
            let command = CloudEvent(
                id: "access-\(UUID().uuidString.lowercased())", source: "covenant-cli", type: change.type,
                time: EventClock.system.timestamp(), tenantId: CloudEvent.clusterTenant, data: change.data)
            let cluster = CloudEvent.clusterTenant
            let outcome = try await CommandOutcome.publish(
                command,
                awaiting: [
                    (Topology.internalExchange, "\(cluster).\(AccessChanged.type)"),
                    (Topology.eventsExchange, "\(cluster).command.rejected"),
                ], connection
            ) { event -> Result<[String], CommandFailure>? in
                if let rejection = CommandOutcome.rejection(of: command, in: event) {
                    return .failure(CommandFailure(message: rejection))
                }
                guard event.type == AccessChanged.type, event.causationId == command.id,
                    let changed = try? AccessChanged(decoding: event)
                else { return nil }
                return .success(changed.tenants)
            }
            let now = try outcome.get()
            try await management.setPermissions(user, now.isEmpty ? nil : role.permissions(user: user, tenants: now))
            return (management, now)
        }
    }

    struct Grant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Entitle a broker user to tenants, and give it its role's permissions at the broker.")
        @OptionGroup var change: Change

        func run() async throws {
            let (_, tenants) = try await change.apply(grants: true)
            print("\(change.user) (\(change.role.rawValue)) is entitled to \(tenants.joined(separator: ", "))")
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take tenants from a broker user, narrow its permissions, and close its connections.")
        @OptionGroup var change: Change

        func run() async throws {
            let (management, tenants) = try await change.apply(grants: false)
            // Bindings made before stop with the connections that made them.
            let closed = try await management.closeConnections(of: change.user)
            print(
                "\(change.user) (\(change.role.rawValue)) is entitled to "
                    + (tenants.isEmpty ? "no tenant" : tenants.joined(separator: ", "))
                    + "; \(closed) connection(s) closed")
        }
    }
}

extension BrokerRole: ExpressibleByArgument {}
