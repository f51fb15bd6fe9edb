import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import WorkerRuntime

/// RabbitMQ's management HTTP API, for users' permissions and connections.
struct BrokerManagement: Sendable {
    let base: String
    let authorization: String

    /// `http://user:password@host:port` (default: `$COVENANT_MANAGEMENT_URL`).
    init(url: String) throws {
        guard var components = URLComponents(string: url), let user = components.user, components.host != nil else {
            throw CommandFailure(message: "the management URL must look like http://user:password@host:15672")
        }
        let password = components.password?.removingPercentEncoding ?? ""
        authorization =
            "Basic " + Data("\(user.removingPercentEncoding ?? user):\(password)".utf8).base64EncodedString()
        components.user = nil
        components.password = nil
        base = components.string.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 } ?? url
    }

    static func quoted(_ name: String) -> String {
        name.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(["-", "_", "."])) ?? name
    }

    /// Sets `user`'s permissions on the default virtual host; nil clears them.
    func setPermissions(_ user: String, _ permissions: BrokerRole.Permissions?) async throws {
        let path = "/api/permissions/%2F/\(Self.quoted(user))"
        let topics = "/api/topic-permissions/%2F/\(Self.quoted(user))"
        guard let permissions else {
            try await call(.DELETE, path, allowing: [404])
            try await call(.DELETE, topics, allowing: [404])
            return
        }
        try await call(
            .PUT, path,
            ["configure": permissions.configure, "write": permissions.write, "read": permissions.read])
        if let topicRead = permissions.topicRead {
            try await call(.PUT, topics, ["exchange": Topology.eventsExchange, "write": "^$", "read": topicRead])
        } else {
            try await call(.DELETE, topics, allowing: [404])
        }
    }

    /// Closes every connection of `user` (a revoked integrator's bindings stop with them), as
    /// the broker tracks them now (not the statistics, which lag by seconds). Returns how many.
    func closeConnections(of user: String) async throws -> Int {
        let path = "/api/connections/username/\(Self.quoted(user))"
        let open = (try JSONSerialization.jsonObject(with: try await call(.GET, path)) as? [Any])?.count ?? 0
        if open > 0 { try await call(.DELETE, path, allowing: [404]) }
        return open
    }

    @discardableResult
    private func call(
        _ method: HTTPMethod, _ path: String, _ json: [String: String]? = nil, allowing: Set<Int> = []
    )
        async throws -> Data
    {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        request.headers.add(name: "Authorization", value: authorization)
        request.headers.add(name: "X-Reason", value: "covenant access")
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: Array(try JSONSerialization.data(withJSONObject: json))))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 16 << 20)
        let status = Int(response.status.code)
        guard (200..<300).contains(status) || allowing.contains(status) else {
            throw CommandFailure(
                message: "the broker's management API answered \(status) to \(method) \(path): "
                    + String(buffer: body).prefix(300))
        }
        return Data(body.readableBytesView)
    }
}
