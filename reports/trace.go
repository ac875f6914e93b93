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
//
// Encoding, hashing and writing run on a goroutine of their own, fed in
// batches in the order Write was called, so the bytes are the same as if
// they were written inline and the simulation's goroutine is spared the
// work. Events are values (core.Event): Write keeps them until encoded.
//
// Concurrency: Write, Lines, Close and SHA256 from one goroutine.
type TraceWriter struct {
	epoch time.Time
	lines uint64
	batch []traceRecord
	work  chan []traceRecord
	free  chan []traceRecord
	done  chan struct{}
	enc   traceEncoder // owned by the encoding goroutine until done
	close bool
}

type traceRecord struct {
	now  time.Time
	node int
	ev   core.Event
}

// traceBatch is the number of events handed to the encoder at once.
const traceBatch = 4096

type traceEncoder struct {
	epoch time.Time
	out   io.Writer // bufio over the file or gzip stream; nil when discarding
	buf   *bufio.Writer
	gz    *gzip.Writer
	sum   hash.Hash
	line  []byte
	err   error
}

// NewTraceWriter writes to w (which may be nil to only hash), gzip-compressed
// if gz is set. epoch is the time that t_ns counts from. Close must be
// called to finish the trace.
func NewTraceWriter(w io.Writer, gz bool, epoch time.Time) *TraceWriter {
	t := &TraceWriter{
		epoch: epoch,
		work:  make(chan []traceRecord, 4),
		free:  make(chan []traceRecord, 6),
		done:  make(chan struct{}),
		enc:   traceEncoder{epoch: epoch, sum: sha256.New()},
	}
	if w != nil {
		if gz {
			// A fixed header (no name, no mtime) keeps the gzip bytes stable too.
			t.enc.gz, _ = gzip.NewWriterLevel(w, gzip.BestSpeed)
			w = t.enc.gz
		}
		t.enc.buf = bufio.NewWriterSize(w, 1<<16)
		t.enc.out = t.enc.buf
	}
	t.batch = make([]traceRecord, 0, traceBatch)
	go t.encodeLoop()
	return t
}

func (t *TraceWriter) encodeLoop() {
	defer close(t.done)
	for b := range t.work {
		for i := range b {
			t.enc.write(b[i].now, b[i].node, b[i].ev)
		}
		clear(b)
		select {
		case t.free <- b[:0]:
		default:
		}
	}
}

// Write appends one event.
func (t *TraceWriter) Write(now time.Time, node int, ev core.Event) {
	t.lines++
	t.batch = append(t.batch, traceRecord{now, node, ev})
	if len(t.batch) == traceBatch {
		t.flushBatch()
	}
}

func (t *TraceWriter) flushBatch() {
	if len(t.batch) == 0 {
		return
	}
	t.work <- t.batch
	select {
	case t.batch = <-t.free:
	default:
		t.batch = make([]traceRecord, 0, traceBatch)
	}
}

func (e *traceEncoder) write(now time.Time, node int, ev core.Event) {
	if e.err != nil {
		return
	}
	body, err := json.Marshal(ev)
	if err != nil {
		e.err = fmt.Errorf("trace: encoding %s: %w", ev.Kind(), err)
		return
	}
	b := e.line[:0]
	b = append(b, `{"t_ns":`...)
	b = strconv.AppendInt(b, int64(now.Sub(e.epoch)), 10)
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
	e.line = b
	e.sum.Write(b)
	if e.out != nil {
		if _, err := e.out.Write(b); err != nil {
			e.err = fmt.Errorf("trace: %w", err)
		}
	}
}

// Lines returns the number of events written.
func (t *TraceWriter) Lines() uint64 { return t.lines }

// SHA256 returns the hex SHA-256 of the uncompressed trace. It finishes
// the trace first (as Close, whose error it leaves to Close to report):
// nothing may be written after it.
func (t *TraceWriter) SHA256() string {
	_ = t.Close()
	return hex.EncodeToString(t.enc.sum.Sum(nil))
}

// Close encodes what is left and flushes buffers; it does not close the
// underlying writer. It may be called more than once.
func (t *TraceWriter) Close() error {
	if !t.close {
		t.close = true
		t.flushBatch()
		close(t.work)
	}
	<-t.done
	e := &t.enc
	if e.buf != nil {
		if err := e.buf.Flush(); err != nil && e.err == nil {
			e.err = fmt.Errorf("trace: %w", err)
		}
		e.buf = nil
	}
	if e.gz != nil {
		if err := e.gz.Close(); err != nil && e.err == nil {
			e.err = fmt.Errorf("trace: %w", err)
		}
		e.gz = nil
	}
	return e.err
}
