// PostgresSource: libpq connections, slots and publications, the replication stream.
