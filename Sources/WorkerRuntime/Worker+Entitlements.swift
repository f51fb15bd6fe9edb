import AMQPClient
import BillingDomain
import CovenantMessages
import Foundation
import WorkerStores

/// Tenant authorization (docs/api/amqp.md): every command is checked as its publisher before
/// any handler sees it; grants are kept in each role's store from `access.changed`.
extension Worker {
    /// The header Covenant records a set-aside message's verified publisher in, on its retry
    /// copies and dead letters.
    static let userHeader = "x-covenant-user"
    /// Documents of the tenants each user is entitled to, by user.
    static let accessKind = "access"

    /// Who published a delivery, as verified: RabbitMQ's validated `user_id`; for a copy back
    /// from Covenant's own retry path or an operator's replay (the default exchange, which no
    /// tenant may write), the publisher Covenant recorded when it set the message aside.
    static func publisher(of delivery: AMQPDelivery) -> String? {
        delivery.exchange.isEmpty ? delivery.message.headers[userHeader]?.stringValue : delivery.message.userId
    }

    /// `decoded` with every command its publisher is not entitled to turned into a `forbidden`
    /// rejection: checked before anything else is said of it, so that a rejection of what an
    /// unentitled publisher sent (a bad field, an unknown type) never reaches the tenant it
    /// named. A command that could not be read is judged by the tenant its body names.
    /// Grants are read from the store once for the users of the batch; a fault is retried with
    /// back-off (no command passes unchecked).
    func entitled(
        _ deliveries: [AMQPDelivery], _ decoded: [Result<CloudEvent, Rejection>]
    ) async -> [Result<
        CloudEvent, Rejection
    >] {
        let commands = zip(deliveries, decoded).map { delivery, decoded -> (String?, String, String)? in
            guard Self.origin(of: delivery).exchange == Topology.commandsExchange else { return nil }
            switch decoded {
            case .success(let event): return (Self.publisher(of: delivery), event.type, event.tenantId)
            case .failure:
                return (
                    Self.publisher(of: delivery), delivery.message.type ?? delivery.routingKey,
                    Self.bestEffortTenant(delivery.message.body)
                )
            }
        }
        let users = Set(commands.compactMap { $0?.0 }).subtracting(operators)
        let grants = await accessGrants(of: Array(users))
        return zip(commands, decoded).map { command, decoded in
            guard let (publisher, type, tenant) = command else { return decoded }
            let refusal = Entitlement.refusal(
                publisher: publisher, isOperator: publisher.map(operators.contains) ?? false, type: type,
                tenant: tenant, grants: publisher.flatMap { grants[$0] } ?? [])
            return refusal.map { .failure($0) } ?? decoded
        }
    }

    /// The tenants each of `users` is entitled to, as this role's store has them.
    func accessGrants(of users: [String]) async -> [String: Set<String>] {
        guard !users.isEmpty else { return [:] }
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await store.documents(kind: Self.accessKind, keys: users).compactMapValues { stored in
                    guard let change = Self.access(in: stored) else {
                        throw StoreError.corrupt(Self.accessKind, stored.key)
                    }
                    return Set(change.tenants)
                }
            } catch {
                metrics.faults.increment()
                logger.warning(
                    "reading access grants failed; retrying", metadata: ["error": "\(loggableDescription(of: error))"])
                do { try await Task.sleep(for: backoff(attempt)) } catch { return [:] }
            }
        }
    }

    /// `access.changed` kept as this role's grants of its user, unless a later revision is kept.
    func applyAccess(_ event: CloudEvent) async throws -> HandlerOutcome {
        let change = try AccessChanged(decoding: event)
        let kept = try await store.document(kind: Self.accessKind, key: change.user)
        if let kept, let known = Self.access(in: kept), known.revision >= change.revision {
            return .commit(UnitOfWork(messageId: nil))
        }
        return .commit(
            UnitOfWork(
                messageId: nil,
                documents: [
                    DocumentWrite(
                        kind: Self.accessKind, key: change.user, json: change.data, expectedVersion: kept?.version ?? 0)
                ]))
    }
}

extension Worker {
    /// The grants a stored `access` document keeps; nil when it cannot be read.
    static func access(in stored: StoredDocument) -> AccessChanged? {
        guard let json = JSONValue.parse(stored.body) else { return nil }
        return try? AccessChanged(Fields(json, path: "access"))
    }
}
