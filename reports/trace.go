package reports

import (
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"strconv"
	"time"

	"github.com/dchat/network/core"
)

// TraceWriter appends events to a JSON-lines trace:
//
//	{"t_ns":1500000000,"node":3,"ev":"ping.rtt","from":"10.0.0.9:4001",...}
//
// t_ns is nanoseconds since the run's epoch, node the observing node's index
// (or -1 for the world itself), ev the event kind, then the event's own
// fields. The SHA-256 of the uncompressed stream identifies the run: it does
// not depend on whether the file is gzipped.
type TraceWriter struct {
	epoch time.Time
	out   io.Writer // bufio over the file or gzip stream; nil when discarding
	buf   *bufio.Writer
	gz    *gzip.Writer
	sum   hash.Hash
	line  []byte
	lines uint64
	err   error
}

// NewTraceWriter writes to w (which may be nil to only hash), gzip-compressed
// if gz is set. epoch is the time that t_ns counts from.
func NewTraceWriter(w io.Writer, gz bool, epoch time.Time) *TraceWriter {
	t := &TraceWriter{epoch: epoch, sum: sha256.New()}
	if w != nil {
		if gz {
			// A fixed header (no name, no mtime) keeps the gzip bytes stable too.
			t.gz, _ = gzip.NewWriterLevel(w, gzip.BestSpeed)
			w = t.gz
		}
		t.buf = bufio.NewWriterSize(w, 1<<16)
		t.out = t.buf
	}
	return t
}

// Write appends one event.
func (t *TraceWriter) Write(now time.Time, node int, ev core.Event) {
	if t.err != nil {
		return
	}
	body, err := json.Marshal(ev)
	if err != nil {
		t.err = fmt.Errorf("trace: encoding %s: %w", ev.Kind(), err)
		return
	}
	b := t.line[:0]
	b = append(b, `{"t_ns":`...)
	b = strconv.AppendInt(b, int64(now.Sub(t.epoch)), 10)
	b = append(b, `,"node":`...)
	b = strconv.AppendInt(b, int64(node), 10)
	b = append(b, `,"ev":`...)
	b = strconv.AppendQuote(b, ev.Kind())
	if len(body) > 2 { // a non-empty object: splice its fields in
		b = append(b, ',')
		b = append(b, body[1:]...)
	} else {
		b = append(b, '}')
	}
	b = append(b, '\n')
	t.line = b
	t.lines++
	t.sum.Write(b)
	if t.out != nil {
		if _, err := t.out.Write(b); err != nil {
			t.err = fmt.Errorf("trace: %w", err)
		}
	}
}

// Lines returns the number of events written.
func (t *TraceWriter) Lines() uint64 { return t.lines }

// SHA256 returns the hex SHA-256 of the uncompressed trace so far.
func (t *TraceWriter) SHA256() string { return hex.EncodeToString(t.sum.Sum(nil)) }

// Close flushes buffers; it does not close the underlying writer.
func (t *TraceWriter) Close() error {
	if t.buf != nil {
		if err := t.buf.Flush(); err != nil && t.err == nil {
			t.err = fmt.Errorf("trace: %w", err)
		}
	}
	if t.gz != nil {
		if err := t.gz.Close(); err != nil && t.err == nil {
			t.err = fmt.Errorf("trace: %w", err)
		}
	}
	return t.err
}
