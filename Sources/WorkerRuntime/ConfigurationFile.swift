import CovenantMessages
import Foundation

/// Settings from a file: `COVENANT_CONFIG` names a JSON object of the keys below; each
/// environment variable, when set, overrides its key. A key the file should not have, or a value
/// of the wrong kind, stops the worker with a message naming the key and the file.
public struct ConfigurationFile: Sendable {
    /// The file's keys and the environment variables that override them.
    public static let keys: [String: String] = [
        "amqp_url": "COVENANT_AMQP_URL", "database_url": "COVENANT_DATABASE_URL", "data_dir": "COVENANT_DATA_DIR",
        "http_host": "COVENANT_HTTP_HOST", "http_port": "COVENANT_HTTP_PORT",
        "clock_interval_ms": "COVENANT_CLOCK_INTERVAL_MS", "amqp_ca_file": "COVENANT_AMQP_CA_FILE",
        "amqp_cert_file": "COVENANT_AMQP_CERT_FILE", "amqp_key_file": "COVENANT_AMQP_KEY_FILE",
        "log_level": "COVENANT_LOG_LEVEL",
    ]

    public let path: String?
    /// The file's settings by environment variable name.
    public let values: [String: String]

    /// Reads the file `COVENANT_CONFIG` names in `environment` (no file: no settings).
    public static func load(from environment: [String: String]) throws(WorkerSettings.Invalid) -> ConfigurationFile {
        guard let path = environment["COVENANT_CONFIG"], !path.isEmpty else {
            return ConfigurationFile(path: nil, values: [:])
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw WorkerSettings.Invalid(variable: "COVENANT_CONFIG", problem: "cannot read \(path)")
        }
        guard case .object(let members) = JSONValue.parse(Array(data)) else {
            throw WorkerSettings.Invalid(variable: "COVENANT_CONFIG", problem: "\(path) is not a JSON object")
        }
        var values: [String: String] = [:]
        for (key, value) in members {
            guard let variable = keys[key] else {
                throw WorkerSettings.Invalid(
                    variable: "\(key) in \(path)",
                    problem: "is not a setting (known: \(keys.keys.sorted().joined(separator: ", ")))")
            }
            switch value {
            case .null: continue
            case .string(let text): values[variable] = text
            case .number(let text): values[variable] = text
            case .array(let items) where key == "amqp_url":
                // A cluster's nodes, one URL each: the setting joins them with spaces.
                let urls = items.compactMap { item -> String? in
                    if case .string(let url) = item, !url.isEmpty, !url.contains(where: \.isWhitespace) { return url }
                    return nil
                }
                guard !urls.isEmpty, urls.count == items.count else {
                    throw WorkerSettings.Invalid(
                        variable: "\(key) in \(path)", problem: "must be a URL or a list of URLs (one per node)")
                }
                values[variable] = urls.joined(separator: " ")
            default:
                throw WorkerSettings.Invalid(variable: "\(key) in \(path)", problem: "must be a string or a number")
            }
        }
        return ConfigurationFile(path: path, values: values)
    }

    /// The settings in force: the file's, each overridden by its environment variable.
    public func merged(with environment: [String: String]) -> [String: String] {
        values.merging(environment) { $1 }
    }

    /// The same problem, naming the file's key when the value came from the file.
    func naming(_ error: WorkerSettings.Invalid, environment: [String: String]) -> WorkerSettings.Invalid {
        guard let path, environment[error.variable] == nil, values[error.variable] != nil,
            let key = Self.keys.first(where: { $0.value == error.variable })?.key
        else { return error }
        return WorkerSettings.Invalid(variable: "\(key) in \(path)", problem: error.problem)
    }
}
