// Package reports turns observed events into the files a user reads: the
// trace (one JSON object per line, optionally gzip), the machine-readable
// summary (summary.json), CSV tables, and plots drawn with gonum/plot (PNG
// and SVG, both byte-stable): propagation curves, latency CDFs, histograms.
//
// It knows core's events but not the simulator's internals, so the same
// code summarises a simulated run and a real cluster's trace.
//
// Concurrency: a TraceWriter and a Summary are owned by one goroutine; the
// plotting and CSV functions are pure and may run concurrently.
package reports
