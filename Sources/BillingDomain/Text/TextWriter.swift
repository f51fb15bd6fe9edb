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

    mutating func write(_ text: String) {
        for byte in text.utf8 {
            precondition(count < buffer.count, "text longer than its capacity")
            buffer[count] = byte
            count += 1
        }
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
