/// The exact recurring charge of a contract for the days of one calendar month:
/// `exact = fee × days_in_contract(M) / days_in_month(M)`, and the contract discount on it.
public struct RecurringCharge: Sendable, Hashable {
    public let period: BillingPeriod
    public let gross: Rational
    public let discount: Rational

    public var net: Rational { gross - discount }

    /// The charge for `period`, which must lie within one calendar month.
    public init(monthlyFee: Money, discountPercent: Rational, period: BillingPeriod) {
        precondition(period.end <= period.start.startOfNextMonth, "\(period) spans more than one month")
        self.period = period
        self.gross = monthlyFee.amount * Rational(period.days) / period.start.daysInMonth
        self.discount = discountPercent.percent(of: gross)
    }
}

extension Contract {
    /// The exact charge for the days of `period` (within one month).
    public func recurringCharge(for period: BillingPeriod) -> RecurringCharge {
        RecurringCharge(monthlyFee: monthlyFee, discountPercent: terms.discountPercent, period: period)
    }

    /// Recurring lines for the contract's days within `period`, one per calendar month, each
    /// rounded once: gross = round(exact), discount = round(exact × pct / 100).
    public func recurringLines(within period: BillingPeriod) -> [InvoiceLine] {
        var lines: [InvoiceLine] = []
        appendRecurringLines(within: period, to: &lines)
        return lines
    }

    /// ``recurringLines(within:)`` appended to `lines`.
    func appendRecurringLines(within period: BillingPeriod, to lines: inout [InvoiceLine]) {
        guard let billed = billedPeriod.intersection(period) else { return }
        billed.forEachMonthlyPiece { piece in
            let charge = recurringCharge(for: piece)
            lines.append(
                InvoiceLine(
                    kind: .recurring, serviceId: serviceId, contractId: id, period: piece,
                    description: LineDescription.recurring(planName: planName, period: piece),
                    grossAmount: Money.rounding(charge.gross, in: currency),
                    discountAmount: Money.rounding(charge.discount, in: currency)))
        }
    }
}

/// How periods read on an invoice line. The descriptions of the lines every run composes are
/// written straight into their string's storage: interpolated, each day, month and year made a
/// string of its own first.
enum LineDescription {
    private static let monthNames = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]

    /// `VM, 15–31 Jan 2025`: a recurring line.
    static func recurring(planName: String, period: BillingPeriod) -> String {
        Writer.text(capacity: planName.utf8.count + 2 + Writer.daysCapacity) {
            $0.write(planName)
            $0.write(", ")
            $0.writeDays(of: period)
        }
    }

    /// `mb usage, Jan 2025`, `mb late usage, Jan 2025`: a usage line.
    static func usage(metric: String, month: CalendarDate, late: Bool) -> String {
        Writer.text(capacity: metric.utf8.count + 21) {
            $0.write(metric)
            $0.write(late ? " late usage, " : " usage, ")
            $0.writeMonth(of: month)
        }
    }

    /// `15–31 Jan 2025` for days within one month; `10 Mar 2025 – 14 Jan 2026` otherwise.
    /// The end shown is the last day billed (the period's end is exclusive).
    static func days(of period: BillingPeriod) -> String {
        Writer.text(capacity: Writer.daysCapacity) { $0.writeDays(of: period) }
    }

    /// UTF-8 written into a string's storage, never past the capacity it was given.
    private struct Writer {
        /// The longest ``writeDays(of:)``: `10 Mar 2025 – 14 Jan 2026`, the dash 3 bytes.
        static let daysCapacity = 27

        private let buffer: UnsafeMutableBufferPointer<UInt8>
        private var count = 0

        private init(buffer: UnsafeMutableBufferPointer<UInt8>) {
            self.buffer = buffer
        }

        static func text(capacity: Int, _ body: (inout Writer) -> Void) -> String {
            String(unsafeUninitializedCapacity: capacity) { buffer in
                var writer = Writer(buffer: buffer)
                body(&writer)
                return writer.count
            }
        }

        mutating func write(_ text: String) {
            for byte in text.utf8 {
                precondition(count < buffer.count, "a line description longer than its capacity")
                buffer[count] = byte
                count += 1
            }
        }

        /// A day, month or year (1–9999), without padding.
        mutating func write(_ number: Int) {
            let digits = number < 10 ? 1 : number < 100 ? 2 : number < 1000 ? 3 : 4
            precondition(number > 0 && number < 10_000 && count + digits <= buffer.count, "\(number) does not fit")
            var rest = number
            for position in (count..<count + digits).reversed() {
                buffer[position] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            }
            count += digits
        }

        mutating func writeDays(of period: BillingPeriod) {
            let last = period.end.adding(days: -1)
            if period.start.year == last.year && period.start.month == last.month {
                write(period.start.day)
                write("–")
                write(last.day)
                write(" ")
                writeMonth(of: last)
            } else {
                writeDay(period.start)
                write(" – ")
                writeDay(last)
            }
        }

        /// `Jan 2025`.
        mutating func writeMonth(of date: CalendarDate) {
            write(LineDescription.monthNames[date.month - 1])
            write(" ")
            write(date.year)
        }

        /// `15 Jan 2025`.
        private mutating func writeDay(_ date: CalendarDate) {
            write(date.day)
            write(" ")
            writeMonth(of: date)
        }
    }
}
