import PGOutput
import SegmentLog

/// The source position headers every record of a transaction ends with (`outflow.lsn`,
/// `outflow.xid`), encoded once per transaction: consecutive records mostly share one. Used by
/// every sink, so a record carries the same bytes whichever sink wrote it.
struct PositionHeaders {
    static let lsnKey = "outflow.lsn"
    static let xidKey = "outflow.xid"

    private var last: (lsn: LSN, xid: UInt32, bytes: [UInt8])?

    mutating func encoded(for commit: SourceCommit) -> [UInt8] {
        if let last, last.lsn == commit.lsn, last.xid == commit.xid { return last.bytes }
        var bytes: [UInt8] = []
        // Cannot fail: two short headers.
        try! EncodedRecord.appendHeader(key: Self.lsnKey, value: commit.lsn.text, to: &bytes)
        try! EncodedRecord.appendHeader(key: Self.xidKey, value: Array(String(commit.xid).utf8), to: &bytes)
        last = (commit.lsn, commit.xid, bytes)
        return bytes
    }
}
