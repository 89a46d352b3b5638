// Package accesslog writes one line per answered request, JSON (default) or
// nginx's "combined" format with edgegate's fields appended, to standard
// output or a file that Reopen reopens (logrotate's postrotate SIGUSR1),
// and owns request ids: which ones a proxy may hand us, W3C traceparent
// trace ids, and generating new ones.
//
// A request's handler must not wait for the log: it reserves a fixed-size
// Entry in a bounded ring (Logger.Reserve, no allocation), fills it and
// commits it; one writer goroutine formats the committed entries and writes
// them in batches. When the ring is full the entry is dropped and counted
// (Stats.Dropped), never waited for. Sampling (1 in sample, with errors
// and slow requests always kept) is decided before reserving.
//
// One file per job:
//
//	config.go     Config: the access_log section, its defaults and Validate
//	entry.go      Entry: the fixed-size record a handler fills
//	format.go     JSON and combined lines
//	logger.go     Logger: the ring, the writer goroutine, drops and counts
//	sample.go     which answers are logged (1 in N, errors and slow always)
//	reopen.go     the output file, reopened on demand
//	requestid.go  request ids: validation, traceparent, generation
//
// It knows nothing of HTTP servers, routes or S3: the gateway fills the
// entries.
package accesslog
