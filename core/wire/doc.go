// Package wire is dchat's one wire codec: a versioned envelope around each
// datagram and the plain-struct messages carried in it.
//
// Every datagram is
//
//	version (1 byte, currently 1) | kind (1 byte) | body
//
// and every body is a fixed sequence of fields in network byte order.
// Variable-length fields carry a uvarint length that is checked against a
// per-field bound before anything is allocated, and decoders reject trailing
// bytes, so each message has exactly one encoding (the fuzz targets check
// that decode-then-encode reproduces the input).
//
// Decoders never panic on any input; they return an error wrapping
// ErrMalformed (or ErrVersion, ErrTooLarge) so the node can count the drop by
// reason.
//
// Concurrency: functions are pure; values are plain data.
package wire
