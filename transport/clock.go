package transport

import (
	"time"

	"github.com/dchat/network/core"
)

// clock is the real node's core.Clock: the wall clock, with every timer's
// callback run on the host's loop. A fired runtime timer only posts itself
// to the loop; the loop runs it unless it was stopped meanwhile, so Stop
// (called on the loop) also cancels a callback that was posted but has not
// run yet.
type clock struct{ h *Host }

// Now implements core.Clock.
func (clock) Now() time.Time { return time.Now() }

// AfterFunc implements core.Clock. It must be called on the host's loop
// (as everything core does is).
func (c clock) AfterFunc(d time.Duration, f func()) core.Timer {
	t := &timer{h: c.h, f: f}
	c.h.timers[t] = struct{}{}
	t.rt = time.AfterFunc(d, t.post)
	return t
}

// timer is a pending callback. done is loop-owned: set when the callback
// runs or the timer is stopped.
type timer struct {
	h    *Host
	f    func()
	rt   *time.Timer
	done bool
}

// post runs on the runtime's timer goroutine: it queues t for the loop and
// wakes it. It never blocks.
func (t *timer) post() {
	h := t.h
	h.tmu.Lock()
	h.fired = append(h.fired, t)
	h.tmu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// Stop implements core.Timer.
func (t *timer) Stop() bool {
	if t.done {
		return false
	}
	t.done = true
	t.rt.Stop()
	delete(t.h.timers, t)
	return true
}

// runTimers runs the callbacks posted since the last call, in firing order,
// skipping stopped ones.
func (h *Host) runTimers() {
	h.tmu.Lock()
	batch := h.fired
	h.fired = h.spare[:0]
	h.tmu.Unlock()
	for i, t := range batch {
		batch[i] = nil
		if t.done {
			continue
		}
		t.done = true
		delete(h.timers, t)
		t.f()
	}
	h.spare = batch[:0]
}

// stopTimers stops every live timer (at shutdown).
func (h *Host) stopTimers() {
	for t := range h.timers { // order is irrelevant: all are cancelled, none runs
		t.done = true
		t.rt.Stop()
	}
	clear(h.timers)
}
