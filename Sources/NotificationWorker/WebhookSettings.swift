import BillingDomain
import CovenantMessages
import Foundation
import WorkerRuntime
import WorkerStores

/// A tenant's webhook (address and secrets), kept by notification alone, the secrets sealed.
///
/// The settings come in `tenant.upsert` or the tenant's own `tenant.configure`, the command
/// itself (no event carries a secret), and take effect in the order provisioning applied them: its `tenant.updated` names the
/// command (`causationid`) and the tenant's `revision` after it. The two reach notification in
/// either order; whichever comes first waits in a `webhook_change` document under the command's
/// id until the other comes. An upsert provisioning rejected has no `tenant.updated`, so its
/// settings never apply; a change applies only over an older revision, so replicas, retries and
/// redeliveries taking them in any order end with the settings of provisioning's last upsert.
extension NotificationHandler {
    struct Webhook {
        var url: String
        /// One, or two during a rotation: each delivery is signed with every one.
        var secrets: [String]
    }

    static let webhookKind = "webhook"
    static let changeKind = "webhook_change"

    func webhook(_ tenant: String) async throws -> Webhook? {
        guard let (json, _) = try await store.jsonDocument(kind: Self.webhookKind, key: tenant) else { return nil }
        let kept = try StoreError.readingStored(Self.webhookKind, tenant) { () throws -> (String, [String])? in
            let fields = try Fields(json, path: "webhook")
            guard fields.has("url") else { return nil }  // the tenant takes no webhooks
            // `secret` is the form kept before rotations were possible.
            let stored = try fields.has("secrets") ? fields.strings("secrets") : [try fields.string("secret")]
            return (try fields.string("url"), stored)
        }
        // A secret that does not open is the secrets key's (the operator's settings), and retried.
        guard let (url, sealed) = kept else { return nil }
        return Webhook(url: url, secrets: try sealed.map(sealer.open))
    }

    /// `tenant.upsert`: its webhook settings, sealed, kept until provisioning says where they
    /// stand. A command provisioning will reject is not notification's to reject: it changes
    /// nothing here.
    func configure(_ event: CloudEvent) async throws -> HandlerOutcome {
        let webhook: (url: String, secrets: [String])?
        switch Command.decode(event) {
        case .success(.tenantUpsert(let upsert)):
            webhook = upsert.webhookURL.flatMap { upsert.webhookSecrets.isEmpty ? nil : ($0, upsert.webhookSecrets) }
        case .success(.tenantConfigure(let configure)):
            switch configure.webhook {
            case .set(let url, let secrets)?: webhook = (url, secrets)
            case .removed?: webhook = nil
            case nil: return .commit(UnitOfWork(messageId: nil))  // the webhook is kept as it is
            }
        default: return .commit(UnitOfWork(messageId: nil))
        }
        var settings: JSONObject = [:]
        // Without an address or secrets the tenant takes no webhooks from then on.
        if let webhook {
            settings["url"] = .string(webhook.url)
            settings["secrets"] = .array(try webhook.secrets.map { .string(try sealer.seal($0)) })
        }
        return try await change(tenant: event.tenantId, command: event.id, settings: .object(settings), revision: nil)
    }

    /// `tenant.updated`: the revision provisioning gave the upsert it names.
    func settle(_ event: CloudEvent) async throws -> HandlerOutcome {
        guard let command = event.causationId,
            let revision = try? Fields(event.data, path: "data").int("revision", in: 1...Int(Int32.max))
        else { return .commit(UnitOfWork(messageId: nil)) }  // not one of provisioning's: nothing to order
        return try await change(tenant: event.tenantId, command: command, settings: nil, revision: Int64(revision))
    }

    /// Records one half of a change, and applies the change once both halves are in.
    private func change(
        tenant: String, command: String, settings: JSONValue?, revision: Int64?
    ) async throws
        -> HandlerOutcome
    {
        let key = "\(tenant)/\(command)"
        let kept = try await store.jsonDocument(kind: Self.changeKind, key: key)
        let settings = settings ?? kept?.0["settings"]
        let revision = revision ?? kept?.0["revision"].flatMap(Self.revision)
        var record: JSONObject = [:]
        if let revision { record["revision"] = .number(String(revision)) }
        // Once both halves are in, the change keeps its revision only: no sealed secret stays
        // behind in it (a redelivered upsert brings its settings again, and changes nothing).
        if let settings, revision == nil { record["settings"] = settings }
        var writes = [
            DocumentWrite(kind: Self.changeKind, key: key, json: .object(record), expectedVersion: kept?.1 ?? 0)
        ]
        if let settings, let revision, let applied = try await applied(settings, revision: revision, tenant: tenant) {
            writes.append(applied)
        }
        return .commit(UnitOfWork(messageId: nil, documents: writes))
    }

    /// The tenant's webhook document with `settings` at `revision`, unless it holds a later one.
    private func applied(_ settings: JSONValue, revision: Int64, tenant: String) async throws -> DocumentWrite? {
        let current = try await store.jsonDocument(kind: Self.webhookKind, key: tenant)
        // A document kept before revisions ordered the settings counts as revision 0.
        let currentRevision = current?.0["revision"].flatMap(Self.revision) ?? 0
        guard revision > currentRevision, case .object(var fields) = settings else { return nil }
        fields["revision"] = .number(String(revision))
        return DocumentWrite(
            kind: Self.webhookKind, key: tenant, json: .object(fields), expectedVersion: current?.1 ?? 0)
    }

    private static func revision(_ value: JSONValue) -> Int64? {
        guard case .number(let text) = value else { return nil }
        return Int64(text)
    }
}
