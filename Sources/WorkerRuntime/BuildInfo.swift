/// What every executable reports for `--version`: the release this source tree is.
public enum BuildInfo {
    /// Raised with each release.
    public static let version = "0.7.0"

    /// `--version` on a worker: prints `covenant-<role> <version>` and tells the caller to exit.
    public static func answersVersion(_ executable: String, arguments: [String] = CommandLine.arguments) -> Bool {
        guard arguments.dropFirst().contains("--version") else { return false }
        print("\(executable) \(version)")
        return true
    }
}
