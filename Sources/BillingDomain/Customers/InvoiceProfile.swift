/// What a tenant's invoices say of the tenant, and how they are numbered: its white label.
/// Every field is optional but the prefixes, which default to `INV-` and `CN-`.
public struct InvoiceProfile: Sendable, Hashable {
    public var legalName: String?
    public var address: PostalAddress?
    public var taxId: String?
    public var email: String?
    /// A `data:` URI of a PNG or SVG image of at most 256 KiB.
    public var logo: String?
    /// `#RRGGBB`.
    public var accentColor: String?
    public var footer: String?
    public var numberPrefix: String
    public var creditNotePrefix: String

    public init(
        legalName: String? = nil, address: PostalAddress? = nil, taxId: String? = nil, email: String? = nil,
        logo: String? = nil, accentColor: String? = nil, footer: String? = nil,
        numberPrefix: String = InvoiceNumbering.defaultPrefix,
        creditNotePrefix: String = InvoiceNumbering.defaultCreditNotePrefix
    ) {
        self.legalName = legalName
        self.address = address
        self.taxId = taxId
        self.email = email
        self.logo = logo
        self.accentColor = accentColor
        self.footer = footer
        self.numberPrefix = numberPrefix
        self.creditNotePrefix = creditNotePrefix
    }

    /// Whether `text` is a colour `#RRGGBB`.
    public static func isAccentColor(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.count == 7 && bytes[0] == UInt8(ascii: "#")
            && bytes.dropFirst().allSatisfy { $0.isHexDigit }
    }

    /// The largest logo, in bytes of its data URI.
    public static let maximumLogoBytes = 256 * 1024

    /// Whether `uri` is a `data:` URI of a PNG or an SVG image within ``maximumLogoBytes``.
    public static func isLogo(_ uri: String) -> Bool {
        uri.utf8.count <= maximumLogoBytes
            && (uri.hasPrefix("data:image/png;base64,") || uri.hasPrefix("data:image/svg+xml;base64,")
                || uri.hasPrefix("data:image/svg+xml,") || uri.hasPrefix("data:image/svg+xml;utf8,"))
    }
}

extension UInt8 {
    fileprivate var isHexDigit: Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(self)
            || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(self)
    }
}

/// The settings of a tenant that its invoices follow: what they say of it, when they fall due,
/// when reminders go out, and the taxes its customers pay.
public struct TenantBillingSettings: Sendable, Hashable {
    public var profile: InvoiceProfile
    /// Days from issue to due date, unless the customer has its own.
    public var paymentTermsDays: Int
    /// Days after the due date a reminder goes out with an amount still due.
    public var reminderDays: [Int]
    public var taxes: [TaxRate]

    public static let defaultPaymentTermsDays = 30
    public static let defaultReminderDays = [7, 14, 30]

    public init(
        profile: InvoiceProfile = InvoiceProfile(), paymentTermsDays: Int = defaultPaymentTermsDays,
        reminderDays: [Int] = defaultReminderDays, taxes: [TaxRate] = []
    ) {
        self.profile = profile
        self.paymentTermsDays = paymentTermsDays
        self.reminderDays = reminderDays
        self.taxes = taxes
    }
}
