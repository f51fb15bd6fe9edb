/// A message's body as Covenant may keep it outside the worker that owns its secrets: a
/// `tenant.upsert`'s `data.notification.webhook_secret` and `webhook_secrets` taken out (what a
/// dead letter keeps; its replay is then refused for want of a secret, and the operator sends
/// the upsert again from its source).
public enum SecretRedaction {
    static let fields = ["webhook_secret", "webhook_secrets"]

    /// `body` without webhook secrets; the same bytes when it names none (or is not JSON).
    public static func redacted(_ body: [UInt8]) -> [UInt8] {
        guard body.count <= 1 << 24, body.firstRange(of: Array("webhook_secret".utf8)) != nil,
            case .object(var envelope)? = JSONValue.parse(body), case .object(var data)? = envelope["data"],
            case .object(var notification)? = data["notification"]
        else { return body }
        for field in fields { notification[field] = nil }
        data["notification"] = .object(notification)
        envelope["data"] = .object(data)
        return JSONValue.object(envelope).serialized()
    }
}
