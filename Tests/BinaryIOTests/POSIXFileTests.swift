import Foundation
import Testing

@testable import BinaryIO

#if canImport(Glibc)
import Glibc
#endif

typealias Files = POSIXFile<FileError>

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct ScratchDirectory {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/binaryio-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw FileError.systemCall("mkdtemp", "temporary directory") }
        path = String(cString: made)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

@Suite struct POSIXFileTests {
    @Test func writeAtomicallyReplacesTheWholeFileAndLeavesNoTemporary() throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let path = directory.path + "/state"
        try Files.writeAtomically(path, Array("first, longer content".utf8))
        var sawTemporary = false
        try Files.writeAtomically(path, Array("second".utf8)) { sawTemporary = Files.exists(path + ".tmp") }
        #expect(sawTemporary)
        #expect(try Files.readFile(path) == Array("second".utf8))
        #expect(!Files.exists(path + ".tmp"))
        #expect(try Files.listDirectory(directory.path) == ["state"])
    }

    @Test func aMissingFileReadsAsNilAndAMissingDirectoryIsATypedError() throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        #expect(try Files.readFile(directory.path + "/absent") == nil)
        let missing = directory.path + "/no-such-directory"
        let error = #expect(throws: FileError.self) { try Files.writeAtomically(missing + "/state", [1]) }
        #expect(error?.code == .systemCall)
        #expect(error?.operation == "open")
        #expect(error?.path == missing + "/state.tmp")
        #expect(error?.errorNumber == ENOENT)
        #expect(error?.description == "open \(missing)/state.tmp failed: No such file or directory")
        #expect(throws: FileError.systemCall("open", missing, ENOENT)) { try Files.syncDirectory(missing) }
        #expect(throws: FileError.systemCall("opendir", missing, ENOENT)) { try Files.listDirectory(missing) }
    }

    @Test func syncsADirectory() throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        try Files.syncDirectory(directory.path)
        // Not a directory: O_DIRECTORY refuses it.
        let file = directory.path + "/file"
        try Files.writeAtomically(file, [1])
        #expect(throws: FileError.systemCall("open", file, ENOTDIR)) { try Files.syncDirectory(file) }
    }

    @Test func positionedReadsAndWritesAndTruncate() throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let file = try OpenFile<FileError>(path: directory.path + "/data", flags: O_RDWR | O_CREAT)
        try file.write([1, 2, 3, 4], at: 0)
        try file.write([9, 9], at: 6)
        #expect(try file.size() == 8)
        #expect(try file.read(count: 8, at: 0) == [1, 2, 3, 4, 0, 0, 9, 9])
        // Fewer bytes only at the end of the file.
        #expect(try file.read(count: 10, at: 5) == [0, 9, 9])
        try file.truncate(to: 2)
        try file.sync()
        #expect(try file.read(count: 10, at: 0) == [1, 2])
    }

    @Test func aFileLargerThanTheLimitIsTooLarge() throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let path = directory.path + "/big"
        try Files.writeAtomically(path, [UInt8](repeating: 7, count: 100))
        #expect(throws: FileError(.tooLarge, "read", path: path, byteCount: 100)) { try Files.readFile(path, limit: 99) }
        #expect(try Files.readFile(path, limit: 100)?.count == 100)
    }

    @Test func createsDirectoriesWithTheirParentsAndRemovesFiles() throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let nested = directory.path + "/a/b/c"
        #expect(throws: FileError.self) { try Files.createDirectory(nested) }
        try Files.createDirectory(nested, intermediate: true)
        try Files.createDirectory(nested, intermediate: true)  // already there
        #expect(Files.exists(nested))
        try Files.writeAtomically(nested + "/f", [1])
        try Files.remove(nested + "/f")
        try Files.remove(nested + "/f")  // already gone
        #expect(!Files.exists(nested + "/f"))
        #expect(Files.directory(of: "/x/y") == "/x")
        #expect(Files.directory(of: "/x") == "/")
        #expect(Files.directory(of: "x") == ".")
    }

    @Test func errorsBecomeTheCallersOwnType() throws {
        struct ModuleError: FileFailure, Equatable {
            var wrapped: FileError
            init(_ error: FileError) { wrapped = error }
        }
        #expect(throws: ModuleError(.systemCall("open", "/nonexistent/x", ENOENT))) {
            try POSIXFile<ModuleError>.open("/nonexistent/x", O_RDONLY)
        }
    }
}
