/// Parses Postgres' array text (array_out's output, read as array_in reads it):
///
///     {1,2,NULL}                      NULL unquoted is a null element; "NULL" is text
///     {"a,b","say \"hi\"","back\\slash",""}
///     {{1,2},{3,4}}                   rectangular, at most 6 dimensions
///     [0:2]={7,8,9}                   explicit bounds when a lower bound is not 1
///     {}                              the empty array (no dimensions)
///
/// Elements are separated by the element type's delimiter (`,` for every built-in type but
/// box, which uses `;`). Each element's text, unquoted and unescaped, is handed to
/// `decodeElement`. Work and memory are linear in the text's length.
struct ArrayParser {
    let text: UnsafeBufferPointer<UInt8>
    let typeName: String
    let delimiter: UInt8
    let maxDimensions: Int

    private var cursor: ByteCursor
    /// The dimension count, fixed by the first element's depth.
    private var dimensionCount: Int? = nil
    /// Each dimension's length, fixed by its first sub-array (0 while unknown).
    private var lengths: [Int]
    private var elements: [PGValue] = []
    /// An element's bytes after unescaping, when it had escapes.
    private var scratch: [UInt8] = []

    init(text: UnsafeBufferPointer<UInt8>, typeName: String, delimiter: UInt8, maxDimensions: Int) {
        self.text = text
        self.typeName = typeName
        self.delimiter = delimiter
        self.maxDimensions = maxDimensions
        self.cursor = ByteCursor(text)
        self.lengths = Array(repeating: 0, count: maxDimensions)
    }

    typealias ElementDecoder = (UnsafeBufferPointer<UInt8>) throws(PostgresError) -> PGValue

    mutating func parse(elementTypeOID: UInt32, decodeElement: ElementDecoder) throws(PostgresError) -> PGArray {
        let explicitBounds = try parseBounds()
        skipWhitespace()
        guard cursor.peek == UInt8(ascii: "{") else { throw fail("expected {") }

        // `{}`: the empty array, which has no dimensions at all.
        var lookahead = cursor
        lookahead.index += 1
        while let byte = lookahead.peek, Self.isWhitespace(byte) { lookahead.index += 1 }
        if lookahead.take(UInt8(ascii: "}")) {
            cursor = lookahead
            skipWhitespace()
            guard cursor.isAtEnd else { throw fail("unexpected text after the array") }
            guard explicitBounds.isEmpty else { throw fail("bounds given for an empty array") }
            return PGArray(elementTypeOID: elementTypeOID, dimensions: [], elements: [])
        }

        try parseLevel(depth: 0, decodeElement)
        skipWhitespace()
        guard cursor.isAtEnd else { throw fail("unexpected text after the array") }

        let count = dimensionCount ?? 0
        var dimensions = (0..<count).map { PGArray.Dimension(lowerBound: 1, length: lengths[$0]) }
        if !explicitBounds.isEmpty {
            guard explicitBounds.count == count else { throw fail("bounds do not match the dimensions") }
            for (index, bounds) in explicitBounds.enumerated() {
                guard Int64(bounds.upper) - Int64(bounds.lower) + 1 == Int64(dimensions[index].length) else {
                    throw fail("bounds do not match the dimensions")
                }
                dimensions[index].lowerBound = bounds.lower
            }
        }
        return PGArray(elementTypeOID: elementTypeOID, dimensions: dimensions, elements: elements)
    }

    /// `[lower:upper]` per dimension then `=`, or nothing.
    private mutating func parseBounds() throws(PostgresError) -> [(lower: Int32, upper: Int32)] {
        var bounds: [(lower: Int32, upper: Int32)] = []
        while cursor.take(UInt8(ascii: "[")) {
            guard bounds.count < maxDimensions else { throw fail("too many dimensions") }
            guard let lower = boundNumber(), cursor.take(UInt8(ascii: ":")), let upper = boundNumber(),
                cursor.take(UInt8(ascii: "]")), upper >= lower
            else {
                throw fail("malformed bounds")
            }
            bounds.append((lower, upper))
        }
        if !bounds.isEmpty, !cursor.take(UInt8(ascii: "=")) { throw fail("expected = after the bounds") }
        return bounds
    }

    private mutating func boundNumber() -> Int32? {
        let negative = cursor.take(UInt8(ascii: "-"))
        guard let (magnitude, _) = cursor.digits(maxCount: 11) else { return nil }
        return Int32(exactly: negative ? -magnitude : magnitude)
    }

    /// One `{…}` at `depth` (0 outermost); the cursor is on its `{`.
    private mutating func parseLevel(depth: Int, _ decodeElement: ElementDecoder) throws(PostgresError) {
        cursor.index += 1
        var count = 0
        while true {
            skipWhitespace()
            if cursor.peek == UInt8(ascii: "{") {
                if let dimensionCount, depth + 1 >= dimensionCount { throw fail("sub-arrays and elements mixed") }
                guard depth + 1 < maxDimensions else { throw fail("more than \(maxDimensions) dimensions") }
                try parseLevel(depth: depth + 1, decodeElement)
            } else {
                if let dimensionCount {
                    guard dimensionCount == depth + 1 else { throw fail("sub-arrays and elements mixed") }
                } else {
                    dimensionCount = depth + 1
                }
                try parseElement(decodeElement)
            }
            count += 1
            skipWhitespace()
            if cursor.take(delimiter) { continue }
            if cursor.take(UInt8(ascii: "}")) { break }
            throw fail(cursor.isAtEnd ? "unterminated array" : "expected a delimiter or }")
        }
        if lengths[depth] == 0 {
            lengths[depth] = count
        } else if lengths[depth] != count {
            throw fail("sub-arrays of different lengths")
        }
    }

    private mutating func parseElement(_ decodeElement: ElementDecoder) throws(PostgresError) {
        var escaped = false
        let start: Int
        var end: Int
        scratch.removeAll(keepingCapacity: true)

        if cursor.take(UInt8(ascii: "\"")) {
            start = cursor.index
            while true {
                guard let byte = cursor.peek else { throw fail("unterminated quoted element") }
                if byte == UInt8(ascii: "\"") { break }
                if byte == UInt8(ascii: "\\") {
                    if !escaped {
                        escaped = true
                        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: text[start..<cursor.index]))
                    }
                    cursor.index += 1
                    guard let next = cursor.peek else { throw fail("unterminated quoted element") }
                    scratch.append(next)
                } else if escaped {
                    scratch.append(byte)
                }
                cursor.index += 1
            }
            end = cursor.index
            cursor.index += 1  // the closing quote
        } else {
            start = cursor.index
            end = start
            // Unquoted: up to the delimiter or `}`; whitespace around it is not part of it,
            // escaped whitespace is.
            var significantLength = 0
            while let byte = cursor.peek, byte != delimiter, byte != UInt8(ascii: "}") {
                guard byte != UInt8(ascii: "{"), byte != UInt8(ascii: "\"") else { throw fail("unexpected \(Character(Unicode.Scalar(byte)))") }
                if byte == UInt8(ascii: "\\") {
                    if !escaped {
                        escaped = true
                        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: text[start..<cursor.index]))
                    }
                    cursor.index += 1
                    guard let next = cursor.peek else { throw fail("unterminated array") }
                    scratch.append(next)
                    significantLength = scratch.count
                } else {
                    if escaped { scratch.append(byte) }
                    if !Self.isWhitespace(byte) {
                        significantLength = escaped ? scratch.count : cursor.index + 1 - start
                    }
                }
                cursor.index += 1
            }
            if escaped {
                scratch.removeLast(scratch.count - significantLength)
            } else {
                end = start + significantLength
            }
            if !escaped, end == start { throw fail("empty unquoted element") }
            if !escaped, end - start == 4, Self.isNull(text[start..<end]) {
                elements.append(.null)
                return
            }
        }

        let value: PGValue
        if escaped {
            value = try scratch.withUnsafeBufferPointer { buffer in
                Result { () throws(PostgresError) in try decodeElement(buffer) }
            }.get()
        } else {
            value = try decodeElement(UnsafeBufferPointer(rebasing: text[start..<end]))
        }
        elements.append(value)
    }

    private mutating func skipWhitespace() {
        while let byte = cursor.peek, Self.isWhitespace(byte) { cursor.index += 1 }
    }

    /// array_in's whitespace: space, tab, newline, carriage return, vertical tab, form feed.
    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0D).contains(byte)
    }

    /// `NULL` in any case, as array_in reads it.
    static func isNull(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) -> Bool {
        bytes.elementsEqual("NULL".utf8) { $0 & 0xDF == $1 }
    }

    private func fail(_ reason: String) -> PostgresError {
        PostgresError.invalidValue(typeName, text, reason)
    }
}
