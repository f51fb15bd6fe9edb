/// UTF-8 written straight into a new string's storage, never past the capacity it was given.
///
/// For the text every billing run makes (line descriptions, invoice ids, dates): interpolated,
/// each number and piece became a string of its own before the whole did.
struct TextWriter {
    private let buffer: UnsafeMutableBufferPointer<UInt8>
    private var count = 0

    private init(buffer: UnsafeMutableBufferPointer<UInt8>) {
        self.buffer = buffer
    }

    /// The text `body` writes, at most `capacity` bytes of UTF-8 (more is a programming error).
    static func text(capacity: Int, _ body: (inout TextWriter) -> Void) -> String {
        String(unsafeUninitializedCapacity: capacity) { buffer in
            var writer = TextWriter(buffer: buffer)
            body(&writer)
            return writer.count
        }
    }

    /// Literal text: its UTF-8 copied at once, with no string to retain or release.
    mutating func write(_ literal: StaticString) {
        // (A one-scalar literal, "-", is held as the scalar: this encodes it.)
        literal.withUTF8Buffer { write($0) }
    }

    /// Text of a string: a billing value (plan name, metric, customer id).
    mutating func write(contentsOf text: String) {
        var text = text
        // One copy of the contiguous UTF-8 (a native string's always is), not a byte at a time.
        text.withUTF8 { write($0) }
    }

    private mutating func write(_ bytes: UnsafeBufferPointer<UInt8>) {
        precondition(count + bytes.count <= buffer.count, "text longer than its capacity")
        _ = UnsafeMutableBufferPointer(rebasing: buffer[count..<count + bytes.count]).initialize(fromContentsOf: bytes)
        count += bytes.count
    }

    /// The decimal digits of a number that is not negative: for capacities, since a date's
    /// year is not always four digits (date arithmetic can step past 9999).
    static func digits(of number: Int) -> Int {
        var digits = 1
        var power = 10
        while number >= power && digits < 19 {
            digits += 1
            power &*= 10
        }
        return digits
    }

    /// A number that is not negative, in decimal, zero-padded to at least `width` digits.
    mutating func write(_ number: Int, width: Int = 1) {
        precondition(number >= 0, "\(number) is negative")
        let digits = Swift.max(TextWriter.digits(of: number), width)
        precondition(count + digits <= buffer.count, "text longer than its capacity")
        var rest = number
        for position in (count..<count + digits).reversed() {
            buffer[position] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
        }
        count += digits
    }
}
