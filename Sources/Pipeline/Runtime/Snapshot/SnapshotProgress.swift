import BinaryIO
import PostgresSource

/// Where the snapshots stand: part of the checkpoint, so it commits atomically with the rows it
/// counts. After a crash a snapshot resumes after the last chunk whose rows were committed —
/// never from the start, and never reading a committed chunk twice.
///
/// A table is read as a few key ranges that never overlap (one per reader when the table was
/// started), each walked in key order by one reader at a time: a range's progress is one key,
/// the last of its last committed chunk, however many chunks are in flight.
public struct SnapshotProgress: Equatable, Sendable {
    /// A part of a table's key space: the keys after `after` up to `through` (inclusive).
    public struct KeyRange: Equatable, Sendable {
        /// The last key read (and committed with the progress); nil: from the table's first key.
        public var after: [String?]?
        /// The range's last key, inclusive; nil: to the table's end.
        public var through: [String?]?
        /// Its last chunk was read: nothing is left of it.
        public var done = false

        public init(after: [String?]? = nil, through: [String?]? = nil, done: Bool = false) {
            self.after = after
            self.through = through
            self.done = done
        }
    }

    /// One requested snapshot (the initial one, or a backfill).
    public struct Job: Equatable, Sendable {
        public var id: String
        /// Tables still to read; the first is the one being read.
        public var tables: [TableName]
        /// The SQL condition rows must match (a backfill's `--where`); nil: every row.
        public var filter: String?
        /// The key ranges of the first table (primary key column texts, in key order); empty:
        /// that table is not split yet (it is, when its first chunk is read).
        public var ranges: [KeyRange] = []
        /// Rows and chunks read so far, over all its tables.
        public var rows: Int64 = 0
        public var chunks: Int64 = 0

        public init(id: String, tables: [TableName], filter: String? = nil) {
            self.id = id
            self.tables = tables
            self.filter = filter
        }
    }

    /// Oldest first; the first is the one being read.
    public var jobs: [Job] = []
    /// The ids of the latest finished jobs: a request the stream sends again (after a crash,
    /// before its position was acknowledged) is not read twice.
    public var finished: [String] = []
    static let finishedKept = 32

    public init(jobs: [Job] = [], finished: [String] = []) {
        self.jobs = jobs
        self.finished = finished
    }

    public var isIdle: Bool { jobs.isEmpty }

    func knows(_ id: String) -> Bool { finished.contains(id) || jobs.contains { $0.id == id } }

    mutating func finishFirstJob() {
        let job = jobs.removeFirst()
        finished.append(job.id)
        if finished.count > Self.finishedKept { finished.removeFirst(finished.count - Self.finishedKept) }
    }

    /// 2: key ranges per table; 1 (read): one key, the last read of the first table.
    static let version: UInt8 = 2

    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = [Self.version]
        func text(_ value: String) { bytes.appendLengthPrefixed(value.utf8, lengthAs: UInt32.self) }
        func optionalText(_ value: String?) {
            bytes.append(value == nil ? 0 : 1)
            if let value { text(value) }
        }
        bytes.appendInteger(UInt32(jobs.count))
        for job in jobs {
            text(job.id)
            bytes.appendInteger(UInt32(job.tables.count))
            for table in job.tables {
                text(table.schema)
                text(table.name)
            }
            optionalText(job.filter)
            func key(_ key: [String?]?) {
                bytes.append(key == nil ? 0 : 1)
                if let key {
                    bytes.appendInteger(UInt32(key.count))
                    for column in key { optionalText(column) }
                }
            }
            bytes.appendInteger(UInt32(job.ranges.count))
            for range in job.ranges {
                key(range.after)
                key(range.through)
                bytes.append(range.done ? 1 : 0)
            }
            bytes.appendInteger(job.rows)
            bytes.appendInteger(job.chunks)
        }
        bytes.appendInteger(UInt32(finished.count))
        for id in finished { text(id) }
        return bytes
    }

    public init(decoding bytes: [UInt8]) throws(CheckpointError) {
        var reader = ByteReader<CheckpointError>(bytes, from: 0)
        let version = try reader.readByte("snapshot progress version")
        guard version == 1 || version == Self.version else { throw CheckpointError(message: "unknown snapshot progress version \(version)") }
        func text(_ field: StaticString) throws(CheckpointError) -> String {
            let raw = try reader.readLengthPrefixed(field, lengthAs: UInt32.self)
            guard let value = String(validating: raw, as: UTF8.self) else { throw CheckpointError(message: "\(field) is not UTF-8") }
            return value
        }
        func optionalText(_ field: StaticString) throws(CheckpointError) -> String? {
            try reader.readBool(field) ? try text(field) : nil
        }
        func count(_ field: StaticString, minimumBytes: Int) throws(CheckpointError) -> Int {
            let at = reader.offset
            let count = Int(try reader.readInteger(field, as: UInt32.self))
            try reader.requireRoom(forItems: count, minimumBytes: minimumBytes, field, countOffset: at)
            return count
        }
        var jobs: [Job] = []
        for _ in 0..<(try count("snapshot job count", minimumBytes: 26)) {
            var job = Job(id: try text("snapshot id"), tables: [])
            for _ in 0..<(try count("snapshot table count", minimumBytes: 8)) {
                job.tables.append(TableName(schema: try text("table schema"), name: try text("table name")))
            }
            job.filter = try optionalText("snapshot filter")
            func key() throws(CheckpointError) -> [String?]? {
                guard try reader.readBool("snapshot key present") else { return nil }
                var key: [String?] = []
                for _ in 0..<(try count("snapshot key column count", minimumBytes: 1)) { key.append(try optionalText("snapshot key column")) }
                return key
            }
            if version == 1 {
                // One reader's progress: the whole table, read up to one key.
                if let after = try key() { job.ranges = [KeyRange(after: after)] }
            } else {
                for _ in 0..<(try count("snapshot range count", minimumBytes: 3)) {
                    let after = try key(), through = try key()
                    job.ranges.append(KeyRange(after: after, through: through, done: try reader.readBool("snapshot range done")))
                }
            }
            job.rows = try reader.readInteger("snapshot rows", as: Int64.self)
            job.chunks = try reader.readInteger("snapshot chunks", as: Int64.self)
            jobs.append(job)
        }
        var finished: [String] = []
        for _ in 0..<(try count("finished snapshot count", minimumBytes: 4)) { finished.append(try text("finished snapshot id")) }
        guard reader.isAtEnd else { throw CheckpointError(message: "trailing bytes in the snapshot progress") }
        self.jobs = jobs
        self.finished = finished
    }
}
