// SegmentLog: a transactional append-only log whose segment files are byte-compatible with
// Apache Kafka's on-disk format (RecordBatch v2, CRC-32C, zstd, COMMIT/ABORT control batches).
//
// Directory layout (`<log dir>`):
//
//   .lock                      flock'd by the one writer process (LogWriter)
//   producer.state             producer id + epoch, bumped by every LogWriter.open
//   <topic>-<partition>/       one directory per partition, Kafka's naming
//     <base>.log               record batches (base = 20-digit first offset of the segment)
//     <base>.index             sparse offset index (Kafka format)
//     <base>.timeindex         sparse time index (Kafka format)
//     <base>.txnindex          aborted transactions (Kafka format)
//     <base>.lsnindex          Outflow: sparse (source LSN, relative offset) index, see LSNIndex
//     <base>.pstate            Outflow: open transactions at the segment start, see ProducerSnapshot
//   __transactions/            the commit log: one CommitRecord per committed log transaction,
//                              as Kafka-format batches (CRC-checked), see TransactionLog
//   __consumer_offsets/<g>.json  committed offsets of consumer group g, see ConsumerGroups
//
// Entry points: LogWriter to write; LogConsumer (topics, groups, waiting for data, Kafka-style
// fetches), LogReader and PartitionReader to read; LogVerifier and SegmentInspector to check.
// Everything that reads bytes from disk reports damage as SegmentLogError with the file and
// position, never a trap.
//
// Guarantees, with the reasons in the files named:
// - Atomic multi-partition transactions: the commit point is one synced CommitRecord
//   (LogWriter.commit); recovery turns data without a marker into COMMIT if the newest commit
//   record names it, ABORT otherwise (LogWriter.resolveInDoubt).
// - Only the newest commit's markers are ever unsynced: a commit syncs every dirty partition
//   first, so recovery never needs an older commit record.
// - Recovery reads only the active segment of each partition (PartitionLog.open): sealed
//   segments were synced whole when rolled, and `.pstate` carries transaction state across.
//   After a clean shutdown it reads none: the clean shutdown marker (CleanShutdownMarker,
//   written by LogWriter.closeCleanly once everything it names is synced, deleted by the next
//   open before any write) holds each active segment's state, trusted when the sizes match.
// - Torn tail vs corruption: a bad batch at the end of the active segment is cut off; a bad
//   batch followed by a good one, a cut sealed segment, or an offset gap is an error.
// - Readers need no lock, see only whole batches, stop at the last stable offset in
//   read_committed, and drop aborted batches with Kafka's algorithm (PartitionReader.poll).
