import Foundation
import PGOutput

/// The SQL of outbox cleanup, built from quoted names and a watermark (no I/O, so the
/// statements can be read and tested without a server).
struct CleanupStatements {
    /// `"schema"."table"`, quoted by the connection.
    let table: String
    /// The timestamp column, quoted.
    let column: String

    /// A watermark, statement by statement in one repeatable-read transaction (`CleanupWatermark`
    /// says why in this order): the snapshot, the running transaction ids, the WAL position and clock.
    static let watermarkSnapshot = "SELECT pg_current_snapshot()::text AS snapshot"
    static let watermarkRunning = "SELECT transactionid::text AS xid FROM pg_locks WHERE locktype = 'transactionid' AND transactionid IS NOT NULL"
    static let watermarkPosition = "SELECT pg_current_wal_insert_lsn()::text AS lsn, extract(epoch FROM clock_timestamp())::float8 AS time"

    /// The server's clock and the slot's confirmed position, at the start of a run.
    static func clockAndSlot(slotLiteral: String) -> String {
        """
        SELECT extract(epoch FROM clock_timestamp())::float8 AS now,
               (SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = \(slotLiteral)) AS confirmed
        """
    }

    /// The current snapshot's xmax: the reference a row's 32-bit `xmin` is widened against.
    static let currentXmax = "SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS xmax"

    /// True for a row whose inserting transaction is visible in `watermark`'s snapshot. A row
    /// carries a 32-bit `xmin`; it is widened to the 64-bit id nearest to `reference` (the
    /// current xmax, read in the same transaction just before) with those low 32 bits. Exact for
    /// every transaction within 2^31 of now; a row not yet durable is far more recent than that
    /// (the slot holds the server's transaction horizon back). A row inserted after the
    /// watermark widens to an id at or past the watermark's xmax: not visible in it. xmin 1 and
    /// 2 (bootstrap, frozen) are visible to everyone.
    static func visible(in watermark: CleanupWatermark, reference: UInt64) -> String? {
        guard watermark.xmax != nil, watermark.snapshot.allSatisfy({ $0.isNumber || $0 == ":" || $0 == "," }) else { return nil }
        let widening = XminWidening(reference: reference)
        let xid = "xmin::text::bigint"
        func test(_ offset: Int64?) -> String {
            guard let offset else { return "false" }
            let full = offset == 0 ? xid : "(\(offset) + \(xid))"
            return "pg_visible_in_snapshot(\(full)::text::xid8, '\(watermark.snapshot)'::pg_snapshot)"
        }
        var cases = ["WHEN \(xid) < 3 THEN true"]
        // Still running when the watermark was taken (a subtransaction of one in progress, too).
        if !watermark.running.isEmpty { cases.append("WHEN \(xid) IN (\(watermark.running.map(String.init).joined(separator: ", "))) THEN false") }
        if let above = widening.previousEpochAbove { cases.append("WHEN \(xid) > \(above) THEN \(test(widening.previousEpochOffset))") }
        if let below = widening.nextEpochBelow { cases.append("WHEN \(xid) < \(below) THEN \(test(widening.nextEpochOffset))") }
        return "(CASE \(cases.joined(separator: " ")) ELSE \(test(widening.sameEpochOffset)) END)"
    }

    /// The rows one batch may delete: set before the watermark's time (an index range) and
    /// visible in its snapshot.
    func eligible(_ watermark: CleanupWatermark, visible: String) -> String {
        "\(column) <= to_timestamp(\(watermark.time)) AND \(visible)"
    }

    /// Deletes up to `limit` eligible rows: their ctids from an index range scan, then a TID
    /// scan. The condition is checked again on the rows deleted, so a ctid that names another
    /// partition's row (ctids are per partition) deletes nothing that is not eligible itself.
    func deleteBatch(_ watermark: CleanupWatermark, limit: Int, reference: UInt64) -> String? {
        guard let visible = Self.visible(in: watermark, reference: reference) else { return nil }
        let condition = eligible(watermark, visible: visible)
        return "DELETE FROM \(table) WHERE ctid = ANY(ARRAY(SELECT ctid FROM \(table) WHERE \(condition) LIMIT \(limit))) AND \(condition)"
    }

    /// The age in seconds of the oldest row left (NULL when the table is empty).
    var oldestRowAge: String {
        "SELECT extract(epoch FROM clock_timestamp() - min(\(column)))::float8 AS age FROM \(table)"
    }

    /// The partitions of a partitioned table with their bounds, and whether the table is one.
    static func partitions(tableLiteral: String) -> String {
        """
        SELECT c.oid::regclass::text AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = \(tableLiteral)::regclass AND c.relkind = 'r'
        ORDER BY 1
        """
    }

    /// The upper bound of a range partition (`FOR VALUES FROM (…) TO ('…')`) as the SQL literal
    /// the server printed; nil for MAXVALUE, a default partition or another kind of bound.
    static func upperBound(_ bound: String) -> String? {
        guard let to = bound.range(of: " TO (", options: .backwards), bound.hasSuffix(")") else { return nil }
        let literal = String(bound[to.upperBound..<bound.index(before: bound.endIndex)])
        guard literal.hasPrefix("'"), literal.hasSuffix("'"), literal.count >= 2, !literal.contains(",") else { return nil }
        return literal
    }
}

/// How a 32-bit xid becomes the 64-bit id nearest to a reference with the same low 32 bits:
/// low bits more than 2^31 above the reference's belong to the epoch before, more than 2^31
/// below to the epoch after. The SQL of `CleanupStatements.visible` is built from these figures.
struct XminWidening: Equatable {
    /// Low bits above this are the epoch before (nil: no low bits are that far above).
    let previousEpochAbove: Int64?
    /// Low bits below this are the epoch after (nil: none are that far below).
    let nextEpochBelow: Int64?
    /// What is added to the low bits in each case; nil where the id would be below zero.
    let previousEpochOffset: Int64?
    let nextEpochOffset: Int64
    let sameEpochOffset: Int64

    init(reference: UInt64) {
        let epoch: Int64 = 1 << 32, half: Int64 = 1 << 31
        let base = Int64(reference & 0xFFFF_FFFF_0000_0000), low = Int64(reference & 0xFFFF_FFFF)
        previousEpochAbove = low + half < epoch ? low + half : nil
        nextEpochBelow = low - half >= 0 ? low - half : nil
        previousEpochOffset = base == 0 ? nil : base - epoch
        nextEpochOffset = base + epoch
        sameEpochOffset = base
    }

    /// The widened id of `xid`, or nil when it would be below zero.
    func widen(_ xid: UInt32) -> Int64? {
        let x = Int64(xid)
        if let above = previousEpochAbove, x > above { return previousEpochOffset.map { $0 + x } }
        if let below = nextEpochBelow, x < below { return nextEpochOffset + x }
        return sameEpochOffset + x
    }
}
