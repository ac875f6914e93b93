package connmgr

import (
	"math/bits"
	"time"
)

// HealthState is a session's health as its probes show it.
type HealthState uint8

// Health states.
const (
	Healthy HealthState = iota + 1
	Degraded
	Unhealthy
)

var healthNames = [...]string{"", "healthy", "degraded", "unhealthy"}

// String returns the state's trace name.
func (s HealthState) String() string {
	if int(s) < len(healthNames) && s != 0 {
		return healthNames[s]
	}
	return "unknown"
}

// MarshalText implements encoding.TextMarshaler.
func (s HealthState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reasons for a Degraded or Unhealthy state.
const (
	ReasonMissedPings = "missed-pings"
	ReasonHighLoss    = "high-loss"
	ReasonHighRTT     = "high-rtt"
)

// HealthMonitor estimates one session's round-trip time and loss from its
// probes and classifies its health. It is plain data driven by calls; the
// Manager keeps the same estimator (without a copy of the configuration)
// for each session and owns the probe timers.
//
// RTT follows RFC 6298 §2: the first sample R sets SRTT = R and
// RTTVAR = R/2; each later sample R' sets RTTVAR = 3/4 RTTVAR + 1/4
// |SRTT - R'| and then SRTT = 7/8 SRTT + 1/8 R'. Loss is the share of
// unanswered probes among the last LossWindow.
//
// Concurrency: not safe for concurrent use.
type HealthMonitor struct {
	cfg HealthConfig
	h   healthState
}

// healthState is a HealthMonitor's data without its configuration, which
// its methods take: a session keeps one (72 bytes) and the manager's
// configuration is shared.
type healthState struct {
	srtt   time.Duration
	rttvar time.Duration
	minRTT time.Duration
	last   time.Duration
	window uint64 // bit i set: the i-th most recent probe was lost
	sent   uint64
	lost   uint64
	missed int32 // consecutive unanswered probes
	n      uint8 // probes in the window (LossWindow is at most 64)
	state  HealthState
	reason uint8 // index in healthReasons
}

// healthReasons are the reasons of a Degraded or Unhealthy state, by
// healthState.reason.
var healthReasons = [...]string{"", ReasonMissedPings, ReasonHighLoss, ReasonHighRTT}

const (
	hrNone uint8 = iota
	hrMissedPings
	hrHighLoss
	hrHighRTT
)

// NewHealthMonitor returns a monitor in the Healthy state with no samples.
func NewHealthMonitor(cfg HealthConfig) HealthMonitor {
	return HealthMonitor{cfg: cfg, h: newHealthState()}
}

func newHealthState() healthState { return healthState{state: Healthy} }

// ObserveRTT feeds a round-trip sample that is not a probe's (e.g. the
// handshake's) into the estimator.
func (h *HealthMonitor) ObserveRTT(r time.Duration) { h.h.observeRTT(r) }

// Answered records a probe answered after r.
func (h *HealthMonitor) Answered(r time.Duration) { h.h.answered(&h.cfg, r) }

// Missed records a probe that got no answer in time.
func (h *HealthMonitor) Missed() { h.h.missedProbe(&h.cfg) }

// Loss returns the share of lost probes in the window (0 with none).
func (h *HealthMonitor) Loss() float64 { return h.h.loss() }

// SRTT returns the smoothed RTT, 0 before the first sample.
func (h *HealthMonitor) SRTT() time.Duration { return h.h.srtt }

// RTTVar returns the RTT variation.
func (h *HealthMonitor) RTTVar() time.Duration { return h.h.rttvar }

// MinRTT returns the smallest sample.
func (h *HealthMonitor) MinRTT() time.Duration { return h.h.minRTT }

// LastRTT returns the latest sample.
func (h *HealthMonitor) LastRTT() time.Duration { return h.h.last }

// Missing returns the number of consecutive unanswered probes.
func (h *HealthMonitor) Missing() int { return int(h.h.missed) }

// Probes returns the probes recorded and, of those, the lost ones.
func (h *HealthMonitor) Probes() (sent, lost uint64) { return h.h.sent, h.h.lost }

// State returns the state of the last Evaluate and its reason ("" when
// Healthy).
func (h *HealthMonitor) State() (HealthState, string) { return h.h.stateReason() }

// Evaluate classifies the session from its samples, first matching rule
// first: MaxMissed consecutive misses, loss at UnhealthyLoss, SRTT at
// UnhealthyRTT make it Unhealthy; one miss, loss at DegradedLoss, SRTT at
// DegradedRTT make it Degraded; otherwise it is Healthy. Loss counts only
// once the window holds MinLossSamples probes. It reports whether the
// state changed.
func (h *HealthMonitor) Evaluate() (HealthState, string, bool) { return h.h.evaluate(&h.cfg) }

func (h *healthState) observeRTT(r time.Duration) {
	if r <= 0 {
		r = 1 // a zero-delay link still took a round trip
	}
	h.last = r
	if h.minRTT == 0 || r < h.minRTT {
		h.minRTT = r
	}
	if h.srtt == 0 {
		h.srtt, h.rttvar = r, r/2
		return
	}
	d := h.srtt - r
	if d < 0 {
		d = -d
	}
	h.rttvar = h.rttvar - h.rttvar/4 + d/4
	h.srtt = h.srtt - h.srtt/8 + r/8
}

func (h *healthState) answered(c *HealthConfig, r time.Duration) {
	h.sent++
	h.push(c, false)
	h.missed = 0
	h.observeRTT(r)
}

func (h *healthState) missedProbe(c *HealthConfig) {
	h.sent++
	h.lost++
	h.push(c, true)
	h.missed++
}

func (h *healthState) push(c *HealthConfig, lost bool) {
	h.window <<= 1
	if lost {
		h.window |= 1
	}
	if c.LossWindow < 64 {
		h.window &= 1<<c.LossWindow - 1
	}
	h.n = uint8(min(int(h.n)+1, c.LossWindow))
}

func (h *healthState) loss() float64 {
	if h.n == 0 {
		return 0
	}
	return float64(bits.OnesCount64(h.window)) / float64(h.n)
}

func (h *healthState) stateReason() (HealthState, string) { return h.state, healthReasons[h.reason] }

func (h *healthState) evaluate(c *HealthConfig) (HealthState, string, bool) {
	loss, enough := h.loss(), int(h.n) >= c.MinLossSamples
	s, r := Healthy, hrNone
	switch {
	case int(h.missed) >= c.MaxMissed:
		s, r = Unhealthy, hrMissedPings
	case enough && loss >= c.UnhealthyLoss:
		s, r = Unhealthy, hrHighLoss
	case c.UnhealthyRTT > 0 && h.srtt >= c.UnhealthyRTT:
		s, r = Unhealthy, hrHighRTT
	case h.missed > 0:
		s, r = Degraded, hrMissedPings
	case enough && loss >= c.DegradedLoss:
		s, r = Degraded, hrHighLoss
	case c.DegradedRTT > 0 && h.srtt >= c.DegradedRTT:
		s, r = Degraded, hrHighRTT
	}
	changed := s != h.state || r != h.reason
	h.state, h.reason = s, r
	return s, healthReasons[r], changed
}
