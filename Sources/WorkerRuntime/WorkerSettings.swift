public import AMQPClient
public import BillingDomain
import Foundation
public import Logging
public import WorkerStores

/// What a worker process needs from its environment (and the file `COVENANT_CONFIG` names, see
/// ``ConfigurationFile``), checked at start: a bad or missing value stops the worker with a
/// message naming the variable or key (never its secret value).
///
/// - `COVENANT_AMQP_URL`: the broker (`amqp://…` or `amqps://…`), required; a cluster's nodes
///   as a comma-separated list of hosts (`amqps://u:p@rabbit-1,rabbit-2,rabbit-3/`), or as
///   several URLs separated by spaces (what a list in the configuration file becomes).
/// - `COVENANT_DATABASE_URL`: PostgreSQL (`postgres://…`); when absent, SQLite files under
///   `COVENANT_DATA_DIR` (default `./var/data`), one per role.
public struct WorkerSettings: Sendable {
    public var amqp: AMQPConfiguration
    public var databaseURL: String?
    public var dataDirectory: String
    /// `COVENANT_HTTP_PORT`: where `/health` and `/metrics` are served (none when unset), on
    /// `COVENANT_HTTP_HOST` (default 127.0.0.1).
    public var httpPort: Int?
    public var httpHost = "127.0.0.1"
    /// `COVENANT_LOG_LEVEL`: the least severe level logged (`trace` … `critical`; default `info`).
    public var logLevel = Logger.Level.info
    /// `COVENANT_DATE_WINDOW_YEARS`: how far from today a command's dates may lie (1–100, default
    /// 10; docs/billing.md, "Limits that protect every tenant").
    public var dateWindow = DateWindow.standard
    /// `COVENANT_OPERATORS`: broker users entitled to every tenant and to the operator commands
    /// (the workers' own user always is).
    public var operators: Set<String> = []

    public struct Invalid: Error, CustomStringConvertible {
        public let variable: String
        public let problem: String
        public var description: String { "\(variable): \(problem)" }
    }

    /// Reads the process environment over the configuration file.
    public static func fromEnvironment(connectionName: String) throws(Invalid) -> WorkerSettings {
        try from(environment: ProcessInfo.processInfo.environment, connectionName: connectionName)
    }

    /// `environment` over the file it names in `COVENANT_CONFIG`.
    public static func from(environment: [String: String], connectionName: String) throws(Invalid) -> WorkerSettings {
        let file = try ConfigurationFile.load(from: environment)
        do {
            return try from(file.merged(with: environment), connectionName: connectionName)
        } catch {
            throw file.naming(error, environment: environment)
        }
    }

    public static func from(_ environment: [String: String], connectionName: String) throws(Invalid) -> WorkerSettings {
        guard let url = environment["COVENANT_AMQP_URL"], !url.isEmpty else {
            throw Invalid(variable: "COVENANT_AMQP_URL", problem: "is not set")
        }
        let amqp: AMQPConfiguration
        let tls = try tls(environment)
        do {
            // Several URLs (a configuration file's list) are separated by white space; each may
            // itself name several nodes.
            let urls = url.split(whereSeparator: \.isWhitespace).map(String.init)
            amqp = try AMQPConfiguration(urls: urls, connectionName: connectionName, tls: tls)
        } catch {
            throw Invalid(variable: "COVENANT_AMQP_URL", problem: error.message)
        }
        let location = try StoreLocation.from(environment)
        var settings = WorkerSettings(
            amqp: amqp, databaseURL: location.databaseURL, dataDirectory: location.dataDirectory)
        if let port = environment["COVENANT_HTTP_PORT"], !port.isEmpty {
            guard let number = Int(port), (1...65_535).contains(number) else {
                throw Invalid(variable: "COVENANT_HTTP_PORT", problem: "must be a port number 1–65535")
            }
            settings.httpPort = number
        }
        if let host = environment["COVENANT_HTTP_HOST"], !host.isEmpty { settings.httpHost = host }
        if let level = environment["COVENANT_LOG_LEVEL"], !level.isEmpty {
            guard let parsed = Logger.Level(rawValue: level) else {
                throw Invalid(
                    variable: "COVENANT_LOG_LEVEL",
                    problem: "must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            settings.logLevel = parsed
        }
        // COVENANT_OPERATORS: broker users entitled to every tenant and to the operator commands
        // (comma-separated), besides the workers' own user.
        if let operators = environment["COVENANT_OPERATORS"] {
            settings.operators = Set(operators.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
                .subtracting([""])
        }
        if let years = environment["COVENANT_DATE_WINDOW_YEARS"], !years.isEmpty {
            guard let number = Int(years), (1...100).contains(number) else {
                throw Invalid(variable: "COVENANT_DATE_WINDOW_YEARS", problem: "must be a number of years 1–100")
            }
            settings.dateWindow = DateWindow(years: number)
        }
        return settings
    }

    /// TLS for an `amqps://` broker: the peer and its host name are always verified; the CA
    /// (`COVENANT_AMQP_CA_FILE`, default: the system's) and a client certificate and key
    /// (`COVENANT_AMQP_CERT_FILE`, `COVENANT_AMQP_KEY_FILE`, both or neither) come from files
    /// that must be readable.
    static func tls(_ environment: [String: String]) throws(Invalid) -> AMQPConfiguration.TLS {
        func file(_ variable: String) throws(Invalid) -> String? {
            guard let path = environment[variable], !path.isEmpty else { return nil }
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw Invalid(variable: variable, problem: "cannot read \(path)")
            }
            return path
        }
        let certificate = try file("COVENANT_AMQP_CERT_FILE")
        let key = try file("COVENANT_AMQP_KEY_FILE")
        guard (certificate == nil) == (key == nil) else {
            throw Invalid(
                variable: certificate == nil ? "COVENANT_AMQP_CERT_FILE" : "COVENANT_AMQP_KEY_FILE",
                problem: "a client certificate needs both COVENANT_AMQP_CERT_FILE and COVENANT_AMQP_KEY_FILE")
        }
        return AMQPConfiguration.TLS(
            caFile: try file("COVENANT_AMQP_CA_FILE"), certificateFile: certificate, keyFile: key, verifyPeer: true,
            verifyHostname: true)
    }

    /// The role's store: PostgreSQL when a database URL is set, else a SQLite file.
    public func store(_ role: StoreRole, logger: Logger) throws -> any WorkerStore {
        try StoreLocation(databaseURL: databaseURL, dataDirectory: dataDirectory).store(role, logger: logger)
    }
}

/// Where the workers keep their data: `COVENANT_DATABASE_URL` (PostgreSQL, a schema per role)
/// or SQLite files under `COVENANT_DATA_DIR` (default `./var/data`). The ops CLI reads the
/// same variables to show what a worker stored.
public struct StoreLocation: Sendable {
    public var databaseURL: String?
    public var dataDirectory: String

    public init(databaseURL: String?, dataDirectory: String) {
        self.databaseURL = databaseURL
        self.dataDirectory = dataDirectory
    }

    public static func from(_ environment: [String: String]) throws(WorkerSettings.Invalid) -> StoreLocation {
        let database = environment["COVENANT_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        if let database, !database.hasPrefix("postgres://") && !database.hasPrefix("postgresql://") {
            throw WorkerSettings.Invalid(variable: "COVENANT_DATABASE_URL", problem: "must start with postgres://")
        }
        return StoreLocation(databaseURL: database, dataDirectory: environment["COVENANT_DATA_DIR"] ?? "./var/data")
    }

    /// The role's store: PostgreSQL when a database URL is set, else a SQLite file.
    public func store(_ role: StoreRole, logger: Logger) throws -> any WorkerStore {
        if let databaseURL {
            return BoundedStore(try PostgresWorkerStore(url: databaseURL, role: role, logger: logger))
        }
        return try SQLiteWorkerStore(directory: dataDirectory, role: role)
    }
}
