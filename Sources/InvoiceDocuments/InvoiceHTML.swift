public import CovenantMessages
import Mustache

/// An invoice's HTML document: the document's data (``InvoiceDocument/model(invoice:settings:)``)
/// through a Mustache template (`templates/invoice.html`), every value HTML-escaped.
///
/// The template reads the data as the PDF's does. An empty text in an object is left out, so a
/// section (`{{#footer}}…{{/footer}}`) shows only what the tenant filled in.
public struct InvoiceHTML: Sendable {
    public enum Failure: Error, CustomStringConvertible {
        /// The template does not parse; or it writes a value unescaped (`{{{…}}}`, `{{&…}}`),
        /// which would let a customer's name become markup.
        case template(String)

        public var description: String {
            switch self {
            case .template(let message): "the HTML template: \(message)"
            }
        }
    }

    let template: MustacheTemplate

    public init(template text: String) throws(Failure) {
        if text.contains("{{{") || text.contains("{{&") {
            throw .template("a value written unescaped ({{{…}}} or {{&…}})")
        }
        do {
            template = try MustacheTemplate(string: text)
        } catch {
            throw .template("\(error)")
        }
    }

    /// The document's bytes (UTF-8).
    public func render(_ model: JSONValue) -> [UInt8] {
        Array(template.render(Self.context(model) ?? [String: Any]()).utf8)
    }

    /// The data as Mustache reads it: objects as dictionaries without their empty texts, arrays,
    /// texts, numbers as their text, booleans.
    static func context(_ value: JSONValue) -> Any? {
        switch value {
        case .null: nil
        case .bool(let flag): flag
        case .number(let text), .string(let text): text
        case .array(let items): items.map { context($0) ?? "" }
        case .object(let fields):
            fields.members.reduce(into: [String: Any]()) { kept, field in
                if field.value != .string(""), let value = context(field.value) { kept[field.key] = value }
            }
        }
    }
}
