// SegmentLog: a transactional append-only log whose files are byte-compatible with
// Apache Kafka's on-disk format.
