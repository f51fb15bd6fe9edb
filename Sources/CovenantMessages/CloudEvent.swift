public import BillingDomain
public import Foundation

/// A CloudEvents 1.0 envelope in structured JSON mode: what every command and event travels in.
public struct CloudEvent: Sendable, Hashable {
    public var id: String
    public var source: String
    public var type: String
    /// RFC 3339 text, as sent.
    public var time: String
    public var tenantId: String
    /// The command an event follows from (extension attribute `causationid`).
    public var causationId: String?
    /// The `data` member, as JSON.
    public var data: JSONValue

    public init(
        id: String, source: String, type: String, time: String, tenantId: String, causationId: String? = nil,
        data: JSONValue
    ) {
        self.id = id
        self.source = source
        self.type = type
        self.time = time
        self.tenantId = tenantId
        self.causationId = causationId
        self.data = data
    }

    public static let contentType = "application/cloudevents+json"

    /// Why `tenant` may not be an envelope's `tenantid`; nil when it may: 1 to 64 characters of
    /// `A-Z a-z 0-9 _ -`. A tenant id is a word of a routing key (`<tenantid>.<type>`), may name
    /// a broker user, and keys a tenant's entities as `<tenant>/<id>`: a dot, a `#`, a slash would
    /// let one tenant's keys or bindings run into another's.
    public static func tenantIdProblem(_ tenant: String) -> String? {
        let allowed = tenant.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
                || byte == UInt8(ascii: "-")
        }
        guard allowed, (1...64).contains(tenant.utf8.count) else {
            return "tenantid must be 1 to 64 characters of A-Z a-z 0-9 _ -"
        }
        return nil
    }

    /// The tenant id of what belongs to no tenant (a rejection whose tenant cannot be read, an
    /// operator's announcement): never a command's.
    public static let clusterTenant = "covenant"
    /// Ids beginning so are Covenant's own (the clock's runs): never a command's.
    public static let reservedIdPrefix = "covenant:"

    /// The key the inbox records a handled message by: ids are scoped by tenant, so one tenant
    /// can never use up another's.
    public var inboxKey: String { Self.inboxKey(tenantId: tenantId, id: id) }

    public static func inboxKey(tenantId: String, id: String) -> String { "\(tenantId)/\(id)" }

    /// Reads an envelope. Every rule of the interface broken is an `invalid_message` rejection
    /// naming the attribute; a body that is not JSON at all says so.
    public static func decode(_ body: [UInt8]) -> Result<CloudEvent, Rejection> {
        var containsNUL = false
        guard let json = JSONValue.parse(body, containsNUL: &containsNUL) else {
            return .failure(Rejection(.invalidMessage, "the body is not JSON"))
        }
        // Ids, keys and names are stored as text, and PostgreSQL's text cannot hold U+0000: a
        // message that carries one could never be recorded, and would be retried forever.
        guard !containsNUL else {
            return .failure(Rejection(.invalidMessage, "text must not contain U+0000 (\\u0000)"))
        }
        guard case .object(let envelope) = json else {
            return .failure(Rejection(.invalidMessage, "the envelope is not a JSON object"))
        }
        func string(_ name: String) -> Result<String, Rejection> {
            guard let value = envelope[name] else {
                return .failure(Rejection(.invalidMessage, "the envelope has no \(name)"))
            }
            guard case .string(let text) = value, !text.isEmpty else {
                return .failure(Rejection(.invalidMessage, "the envelope's \(name) must be a non-empty string"))
            }
            return .success(text)
        }
        do {
            let version = try string("specversion").get()
            guard version == "1.0" else {
                return .failure(Rejection(.invalidMessage, "specversion must be 1.0, not \(version)"))
            }
            let id = try string("id").get()
            if let problem = Identifier.problem(id, "the envelope's id") {
                return .failure(Rejection(.invalidMessage, problem))
            }
            let source = try string("source").get()
            let type = try string("type").get()
            let time = try string("time").get()
            guard RFC3339.isValid(time) else {
                return .failure(Rejection(.invalidMessage, "time is not an RFC 3339 timestamp"))
            }
            let tenant = try string("tenantid").get()
            if let problem = CloudEvent.tenantIdProblem(tenant) {
                return .failure(Rejection(.invalidMessage, problem))
            }
            if let contentType = envelope["datacontenttype"] {
                guard contentType == .string("application/json") else {
                    return .failure(Rejection(.invalidMessage, "datacontenttype must be application/json"))
                }
            }
            var causation: String?
            if let value = envelope["causationid"] {
                guard case .string(let text) = value else {
                    return .failure(Rejection(.invalidMessage, "causationid must be a string"))
                }
                causation = text
            }
            guard let data = envelope["data"], case .object = data else {
                return .failure(Rejection(.invalidMessage, "the envelope has no data object"))
            }
            return .success(
                CloudEvent(
                    id: id, source: source, type: type, time: time, tenantId: tenant, causationId: causation,
                    data: data))
        } catch {
            return .failure(error)
        }
    }

    /// The envelope as JSON bytes: its members listed in key order, so the object is made
    /// without sorting (the test of `encoded` holds it to the envelope's members in any order).
    public func encoded() -> [UInt8] {
        var members: [JSONObject.Member] = [
            ("data", data), ("datacontenttype", .string("application/json")), ("id", .string(id)),
            ("source", .string(source)), ("specversion", .string("1.0")), ("tenantid", .string(tenantId)),
            ("time", .string(time)), ("type", .string(type)),
        ]
        if let causationId { members.insert(("causationid", .string(causationId)), at: 0) }
        return JSONValue.object(JSONObject(unordered: members)).serialized()
    }
}

/// RFC 3339 timestamps: `2025-01-15T09:30:00Z`, with optional fraction and a `Z` or ±hh:mm offset.
public enum RFC3339 {
    static func isValid(_ text: String) -> Bool {
        instant(text) != nil
    }

    /// `date` as RFC 3339 text in UTC, to the second (`2025-02-01T00:00:00Z`).
    public static func text(_ date: Date) -> String {
        // Arithmetic, not a date formatter: one is built per call otherwise, and that was most
        // of what rating a usage record cost.
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        let (days, second) = seconds.quotientAndRemainder(dividingBy: 86_400)
        let (day, secondOfDay) = second < 0 ? (days - 1, second + 86_400) : (days, second)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(CalendarDate(daysSinceEpoch: day))T\(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):"
            + "\(two(secondOfDay % 60))Z"
    }

    /// The instant, or `nil` when the text is not RFC 3339.
    public static func instant(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, let date = CalendarDate(isoUTF8: bytes[0..<10]),
            bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t"), bytes[13] == UInt8(ascii: ":"),
            bytes[16] == UInt8(ascii: ":"),
            let hour = number(bytes[11..<13]), let minute = number(bytes[14..<16]), let second = number(bytes[17..<19]),
            hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            let start = index
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                index += 1
            }
            guard index > start else { return nil }
        }
        guard index < bytes.count else { return nil }
        var offset = 0
        switch bytes[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            guard index + 1 == bytes.count else { return nil }
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard index + 6 == bytes.count, bytes[index + 3] == UInt8(ascii: ":"),
                let hours = number(bytes[(index + 1)..<(index + 3)]),
                let minutes = number(bytes[(index + 4)..<(index + 6)]),
                hours < 24, minutes < 60
            else { return nil }
            offset = (hours * 60 + minutes) * 60 * (bytes[index] == UInt8(ascii: "-") ? -1 : 1)
        default:
            return nil
        }
        let seconds = date.daysSinceEpoch * 86_400 + hour * 3600 + minute * 60 + min(second, 59) - offset
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }

    private static func number(_ bytes: ArraySlice<UInt8>) -> Int? {
        var value = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }
}
