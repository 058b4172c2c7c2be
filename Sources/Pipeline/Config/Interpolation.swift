import Foundation

/// `${env:NAME}`, `${env:NAME:-default}` and `${file:PATH}` inside string values.
///
/// It runs on scalars after the YAML is parsed, so a value can never add keys or change the
/// file's structure; a value with a newline is rejected for the same reason (it could fake
/// the next line of a log or of an error message). `$${` writes a literal `${`. Any other
/// `${…}` is left alone: it belongs to a template such as `outbox.event.${aggregatetype}`.
struct Interpolation {
    struct Problem {
        var message: String
        var hint: String?
        /// Scalar offsets of the reference in the raw text.
        var range: Range<Int>
    }

    /// The resolved text, whether any reference was resolved (then the value is secret), and
    /// the redacted rendering: the raw text with each reference shown by name only.
    struct Resolved {
        var value: String
        var isInterpolated: Bool
        var redacted: String
    }

    var environment: ConfigEnvironment
    /// Where `${file:relative/path}` is resolved from: the pipeline file's directory.
    var baseDirectory: String

    func resolve(_ raw: String) -> (Resolved, [Problem]) {
        let scalars = Array(raw.unicodeScalars)
        var value = String.UnicodeScalarView(), redacted = String.UnicodeScalarView()
        var problems: [Problem] = []
        var interpolated = false
        var position = 0

        func starts(with prefix: String, at offset: Int) -> Bool {
            let needle = Array(prefix.unicodeScalars)
            return offset + needle.count <= scalars.count && Array(scalars[offset..<offset + needle.count]) == needle
        }

        while position < scalars.count {
            if starts(with: "$${", at: position) {
                value.append(contentsOf: "${".unicodeScalars)
                redacted.append(contentsOf: "$${".unicodeScalars)
                position += 3
                continue
            }
            let isEnv = starts(with: "${env:", at: position), isFile = starts(with: "${file:", at: position)
            guard isEnv || isFile else {
                value.append(scalars[position])
                redacted.append(scalars[position])
                position += 1
                continue
            }
            let start = position
            let bodyStart = position + (isEnv ? 6 : 7)
            guard let close = scalars[bodyStart...].firstIndex(of: "}") else {
                problems.append(Problem(
                    message: "'${' without a closing '}'", hint: nil, range: start..<scalars.count))
                break
            }
            position = close + 1
            interpolated = true
            let body = String(String.UnicodeScalarView(scalars[bodyStart..<close]))
            let range = start..<position
            if isEnv {
                let name: String, fallback: String?
                if let separator = body.range(of: ":-") {
                    name = String(body[..<separator.lowerBound])
                    fallback = String(body[separator.upperBound...])
                } else {
                    name = body
                    fallback = nil
                }
                redacted.append(contentsOf: "${env:\(name)}".unicodeScalars)
                guard Self.isVariableName(name) else {
                    problems.append(Problem(
                        message: "invalid environment variable name '\(name)'",
                        hint: "names are letters, digits and '_', not starting with a digit", range: range))
                    continue
                }
                // As in the shell, ':-' also replaces a variable that is set but empty.
                let resolved: String
                if let set = environment.variable(name), !set.isEmpty {
                    resolved = set
                } else if let fallback {
                    resolved = fallback
                } else if environment.variable(name) != nil {
                    resolved = ""
                } else {
                    problems.append(Problem(
                        message: "environment variable \(name) is not set",
                        hint: "set it, or give a default: ${env:\(name):-value}", range: range))
                    continue
                }
                guard !resolved.contains(where: \.isNewline) else {
                    problems.append(Problem(
                        message: "the value of environment variable \(name) contains a line break",
                        hint: "interpolated values must be one line", range: range))
                    continue
                }
                value.append(contentsOf: resolved.unicodeScalars)
            } else {
                redacted.append(contentsOf: "${file:\(body)}".unicodeScalars)
                guard !body.isEmpty else {
                    problems.append(Problem(message: "empty file path in ${file:}", hint: nil, range: range))
                    continue
                }
                let path = body.hasPrefix("/") ? body : (baseDirectory as NSString).appendingPathComponent(body)
                var text: String
                do {
                    text = try environment.readFile(path)
                } catch {
                    problems.append(Problem(
                        message: "cannot read file '\(body)'",
                        hint: body.hasPrefix("/") ? nil : "relative paths are resolved from the pipeline file's directory",
                        range: range))
                    continue
                }
                // Secret files usually end with a newline; that one is not part of the value.
                while text.hasSuffix("\n") || text.hasSuffix("\r\n") || text.hasSuffix("\r") { text.removeLast() }
                guard !text.contains(where: \.isNewline) else {
                    problems.append(Problem(
                        message: "file '\(body)' has more than one line",
                        hint: "interpolated values must be one line (a trailing line break is dropped)", range: range))
                    continue
                }
                value.append(contentsOf: text.unicodeScalars)
            }
        }
        return (Resolved(value: String(value), isInterpolated: interpolated, redacted: String(redacted)), problems)
    }

    static func isVariableName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || first.properties.isAlphabetic && first.isASCII else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCII && ($0 == "_" || $0.properties.isAlphabetic || ("0"..."9").contains($0)) }
    }
}
