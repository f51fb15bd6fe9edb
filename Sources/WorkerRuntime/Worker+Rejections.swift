import AMQPClient
import BillingDomain
import CovenantMessages
import Crypto
import Foundation
import Logging
import Synchronization
import WorkerStores

/// The envelope's checks, and rejections: `command.rejected` and a dead letter, through the outbox.
extension Worker {
    /// The envelope of a delivery, checked against the AMQP properties.
    func readEnvelope(_ delivery: AMQPDelivery) -> Result<CloudEvent, Rejection> {
        guard let messageId = delivery.message.messageId, !messageId.isEmpty else {
            return .failure(Rejection(.invalidMessage, "the message has no message_id"))
        }
        guard delivery.message.contentType == CloudEvent.contentType else {
            return .failure(
                Rejection(
                    .invalidMessage,
                    "content_type must be \(CloudEvent.contentType), not \(delivery.message.contentType ?? "none")"))
        }
        // Commands come from upstream: 1 MiB is plenty. Events come from Covenant's workers, and
        // `billing.run.completed` names every invoice of a run: 100,000 customers make 3.4 MB.
        let origin = Self.origin(of: delivery)
        let isCommand = origin.exchange == Topology.commandsExchange
        let limit = isCommand ? Self.maximumCommandBytes : Self.maximumEventBytes
        guard delivery.message.body.count <= limit else {
            return .failure(Rejection(.invalidMessage, "the body is larger than \(limit >> 20) MiB"))
        }
        return CloudEvent.decode(delivery.message.body).flatMap { event in
            guard event.id == messageId else {
                return .failure(Rejection(.invalidMessage, "message_id \(messageId) is not the event's id \(event.id)"))
            }
            return envelopeProblem(event, origin: origin, isCommand: isCommand).map { .failure($0) }
                ?? .success(event)
        }
    }

    /// What a decoded envelope may not be, where it came from. Its type is its routing key (a
    /// command's) or the word after its tenant (`<tenantid>.<type>`, an event's): a
    /// `tenant.upsert` routing key carrying an `invoice.ready` had reached notification, which
    /// posted the forged invoice to the tenant's webhook, signed. A command may not speak for
    /// the cluster (tenant `covenant`) nor use Covenant's own ids (`covenant:`).
    func envelopeProblem(
        _ event: CloudEvent, origin: (exchange: String, routingKey: String), isCommand: Bool
    )
        -> Rejection?
    {
        let expected = isCommand ? event.type : "\(event.tenantId).\(event.type)"
        if configuration.typeMustMatchRoutingKey {
            guard origin.routingKey == expected else {
                return Rejection(
                    .invalidMessage,
                    "type \(event.type) of tenant \(event.tenantId) came with routing key \(origin.routingKey), not \(expected)"
                )
            }
            // What no queue took came through the alternate exchange (`Topology.unroutedExchange`).
            guard boundTypes.contains("\(origin.exchange) \(event.type)") else {
                return isCommand
                    ? Rejection(.unknownType, "no worker takes command type \(event.type)")
                    : Rejection(.invalidMessage, "\(event.type) is not taken from \(origin.exchange) here")
            }
        }
        guard isCommand else { return nil }
        // Granting access belongs to no tenant: the one command that may say so.
        if event.tenantId == CloudEvent.clusterTenant && !AccessChange.types.contains(event.type) {
            return Rejection(.invalidMessage, "tenantid \(CloudEvent.clusterTenant) is reserved: it names no tenant")
        }
        if event.id.hasPrefix(CloudEvent.reservedIdPrefix) {
            return Rejection(.invalidMessage, "ids beginning \(CloudEvent.reservedIdPrefix) are Covenant's own")
        }
        return nil
    }

    /// Publishes `command.rejected` and a dead letter with the reason in its headers (both
    /// through the outbox), then acknowledges the original. The message id is not put in the
    /// inbox: a rejection changes nothing, so a redelivery or an operator's replay (after the
    /// missing tenant or service was created, say) is judged again on the state of then. The
    /// `command.rejected` event's id derives from the command's, so consumers see a repeat once.
    func reject(
        _ delivery: AMQPDelivery, _ consumer: AMQPConsumer, commandId: String, commandType: String, tenantId: String,
        rejection: Rejection
    ) async {
        logRejection(commandId, rejection)
        let unit = rejectionUnit(
            delivery, commandId: commandId, commandType: commandType, tenantId: tenantId, rejection: rejection)
        var attempt = 0
        while true {
            attempt += 1
            do {
                _ = try await store.commit(unit)
                consumer.acknowledge(delivery)
                outboxBell.ring()
                return
            } catch {
                logger.warning(
                    "recording a rejection failed; retrying", metadata: ["error": "\(loggableDescription(of: error))"])
                do { try await Task.sleep(for: backoff(attempt)) } catch { return }
            }
        }
    }

    func logRejection(_ commandId: String, _ rejection: Rejection) {
        metrics.rejected(rejection.code.rawValue)
        logger.info(
            "rejected: \(rejection.code.rawValue)",
            metadata: ["message.id": "\(commandId)", "reason": "\(rejection.message)"])
    }

    /// `command.rejected` and the dead letter of a delivery, as a unit of work.
    func rejectionUnit(
        _ delivery: AMQPDelivery, commandId: String, commandType: String, tenantId: String, rejection: Rejection
    ) -> UnitOfWork {
        // What the delivery says of itself, unvalidated, becomes text the store can hold; and
        // the event must be a valid envelope itself, or a worker subscribed to
        // `command.rejected` (notification) would reject it in turn, and so on without end:
        // its id and causation id in NFC (the data keep the id as sent), a tenant it could name.
        let commandId = commandId.storableText
        let rejected = events.event(
            "command.rejected",
            // Forbidden: told to the operator, never to the tenant the command named.
            tenantId: rejection.code != .forbidden && CloudEvent.tenantIdProblem(tenantId) == nil
                ? tenantId : CloudEvent.clusterTenant,
            causationId: Identifier.normalized(commandId),
            data: EventPayloads.commandRejected(commandId: commandId, commandType: commandType, rejection),
            time: clock.timestamp())
        let origin = Self.origin(of: delivery)
        var headers = [
            "x-covenant-reason-code": rejection.code.rawValue, "x-covenant-reason": rejection.message,
            Self.originalExchangeHeader: origin.exchange, Self.originalRoutingKeyHeader: origin.routingKey,
        ]
        // How long it waited first, and the faults it met, for whoever reads the dead letters.
        let retries = Self.retries(of: delivery)
        if retries > 0 { headers[Self.retriesHeader] = String(retries) }
        if let user = Self.publisher(of: delivery) { headers[Self.userHeader] = user.storableText }
        if let faults = delivery.message.headers[FaultPolicy.faultsHeader]?.stringValue {
            headers[FaultPolicy.faultsHeader] = faults
        }
        let deadLetter = OutboxMessage(
            exchange: Topology.deadExchange, routingKey: configuration.queue, messageId: commandId,
            type: delivery.message.type?.storableText,
            contentType: (delivery.message.contentType ?? "application/octet-stream").storableText,
            headers: headers, body: SecretRedaction.redacted(delivery.message.body))
        return UnitOfWork(messageId: nil, outbox: [rejected, deadLetter])
    }

    /// The id a rejection gives a message that has none: `delivery-` and the start of its
    /// body's SHA-256, the same for every delivery of it. (It was the delivery tag, which every
    /// channel numbers from 1: after a restart two messages could share an id, and their
    /// `command.rejected` events one event id, so integrators kept one of them.)
    static func anonymousCommandId(of body: [UInt8]) -> String {
        "delivery-" + SHA256.hash(data: body).prefix(8).hexDigits
    }

    /// The tenant a body names, when it is JSON enough to say; ``CloudEvent/clusterTenant``
    /// otherwise (every event needs one, and such a rejection goes to the operator).
    static func bestEffortTenant(_ body: [UInt8]) -> String {
        guard body.count <= 1_048_576, case .string(let tenant) = JSONValue.parse(body)?["tenantid"],
            CloudEvent.tenantIdProblem(tenant) == nil
        else { return CloudEvent.clusterTenant }
        return tenant
    }
}
