import CovenantMessages
import Foundation
import Testing

@Suite("RFC 3339 timestamps")
struct RFC3339Tests {
    @Test(
        "Text of a whole second is what Foundation's ISO 8601 formatter writes and reads back equal; a fraction is cut off"
    )
    func text() throws {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        var generator = SystemRandomNumberGenerator()
        let instants =
            [0, -1, 86_399, 86_400, 951_782_400, 1_709_164_800, 1_735_689_599, -86_401, 4_102_444_800]
            .map(Double.init) + (0..<2_000).map { _ in Double.random(in: -2e9...4e9, using: &generator) }
        for seconds in instants {
            let whole = Date(timeIntervalSince1970: seconds.rounded(.down))
            let text = RFC3339.text(whole)
            #expect(text == formatter.string(from: whole), "\(seconds)")
            #expect(RFC3339.instant(text) == whole, "\(seconds)")
            // Not rounded up: an event is never stamped later than it happened.
            #expect(RFC3339.text(Date(timeIntervalSince1970: seconds.rounded(.down) + 0.75)) == text, "\(seconds)")
        }
    }
}
