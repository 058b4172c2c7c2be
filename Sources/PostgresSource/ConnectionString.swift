import CLibPQ

/// A libpq connection string — a `postgresql://` URL or `key=value` pairs — checked by
/// libpq's own parser before anything connects, so a typo is reported as such rather than
/// as a failure to connect.
public struct ConnectionString: Sendable, CustomStringConvertible {
    /// The string as given. It may hold a password: never print it; print `redacted`.
    public let rawValue: String
    /// The parsed keywords and values (password included).
    public let parameters: [(keyword: String, value: String)]

    public init(_ rawValue: String) throws(PostgresError) {
        var errorMessage: UnsafeMutablePointer<CChar>? = nil
        guard let options = PQconninfoParse(rawValue, &errorMessage) else {
            let reason = errorMessage.map { String(cString: $0) }?.trimmedTrailingNewlines ?? "out of memory"
            if let errorMessage { PQfreemem(errorMessage) }
            throw PostgresError(
                code: .invalidConnectionString,
                message: "invalid connection string: \(reason)",
                hint: "use a URL like postgresql://user:password@host:5432/dbname or key=value pairs like 'host=localhost dbname=app'")
        }
        defer { PQconninfoFree(options) }
        var parameters: [(String, String)] = []
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val {
                parameters.append((String(cString: keyword), String(cString: value)))
            }
            option += 1
        }
        // libpq checks ports only when it connects; a typo there is a typo in the string.
        for (keyword, value) in parameters where keyword == "port" {
            for port in value.split(separator: ",", omittingEmptySubsequences: false) where !port.isEmpty {
                guard let number = Int(port), (1...65535).contains(number) else {
                    throw PostgresError(
                        code: .invalidConnectionString,
                        message: "invalid connection string: invalid port \"\(port)\"",
                        hint: "a port is a number from 1 to 65535, e.g. postgresql://host:5432/dbname")
                }
            }
        }
        self.rawValue = rawValue
        self.parameters = parameters
    }

    public func value(of keyword: String) -> String? {
        parameters.last(where: { $0.keyword == keyword })?.value
    }

    /// The parameters that identify the server and role, without the password: safe to print.
    public var redacted: String {
        parameters
            .filter { !["password", "sslpassword"].contains($0.keyword) }
            .map { "\($0.keyword)=\($0.value)" }
            .joined(separator: " ")
    }

    public var description: String { redacted }
}

extension String {
    var trimmedTrailingNewlines: String {
        var text = self
        while text.last?.isNewline == true { text.removeLast() }
        return text
    }
}
