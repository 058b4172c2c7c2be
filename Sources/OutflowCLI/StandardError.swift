import Foundation

/// `print(..., to: &standardError)` for diagnostics, so standard output stays data only.
struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        FileHandle.standardError.write(Data(string.utf8))
    }
}
