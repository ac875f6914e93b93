package reports

import (
	"fmt"
	"strconv"
	"strings"
)

// RelaySection summarises relayed messages (core/relay) and their proofs
// of delivery: how many arrived, how fast, what the proofs and their
// Merkle batches verified to, and how the load spread over the relays.
// Latencies are in milliseconds, sizes in bytes.
type RelaySection struct {
	// Relays and PrivateNodes count the nodes with those roles;
	// Reservations the relay sessions the private nodes were given (each
	// keeps a session with a few relays, protected, so that it can be
	// reached through them), ReservationsUp those connected at the end.
	Relays         int `json:"relays"`
	PrivateNodes   int `json:"private_nodes"`
	Reservations   int `json:"reservations"`
	ReservationsUp int `json:"reservations_up"`
	// ReservationErrors counts dials of those sessions the manager
	// refused at once (full, dial-limit), by reason; the manager redials.
	ReservationErrors map[string]uint64 `json:"reservation_errors,omitempty"`

	// Messages were sent (accepted by the sender's relay component);
	// SendErrors were not, by reason.
	Messages   uint64            `json:"messages"`
	SendErrors map[string]uint64 `json:"send_errors,omitempty"`
	// Delivered messages came back with a verified proof of delivery;
	// Undelivered reached their deadline without one; Pending had no
	// outcome by the end of the run.
	Delivered   uint64 `json:"delivered"`
	Undelivered uint64 `json:"undelivered"`
	Pending     uint64 `json:"pending,omitempty"`
	// DeliveryRatio is Delivered / Messages (pending ones count as not
	// delivered), rounded down to six decimals.
	DeliveryRatio float64 `json:"delivery_ratio"`
	// UndeliveredBy is the sender's audit of each undelivered message
	// from its receipts: no-receipt (not even the first relay confirmed
	// its hand-off), handoff (the chain stops at a relay), no-ack (every
	// relay confirmed; the recipient's acknowledgement is missing) or
	// forged. Suspects counts the suspects the audits named, by role
	// (relay, recipient).
	UndeliveredBy map[string]uint64 `json:"undelivered_by,omitempty"`
	Suspects      map[string]uint64 `json:"suspects,omitempty"`

	// ProofsVerified and ProofsFailed count the proofs of delivered
	// messages checked again, by the runner, with relay.Verify (the
	// target is no failure: every delivered message has a verifying
	// proof). PayloadMismatch counts proofs naming another payload or
	// recipient than the one sent.
	ProofsVerified  uint64 `json:"proofs_verified"`
	ProofsFailed    uint64 `json:"proofs_failed"`
	PayloadMismatch uint64 `json:"payload_mismatch,omitempty"`
	// TamperedChecked proofs (a sample of the delivered ones) had one bit
	// of their on-chain form flipped; TamperedRejected of them were then
	// rejected (by ParseProof or Verify). The target is all.
	TamperedChecked  uint64 `json:"tampered_checked"`
	TamperedRejected uint64 `json:"tampered_rejected"`
	// Batches were sealed (senders batch their proofs, relays the proofs
	// they helped make; open batches are sealed at the end of the run);
	// BatchesFailed did not verify from their on-chain header.
	// InclusionChecked inclusion proofs, one per batched proof, were
	// verified against their batch's root from their on-chain forms;
	// InclusionFailed did not verify.
	Batches          uint64 `json:"batches"`
	BatchesFailed    uint64 `json:"batches_failed"`
	BatchedProofs    uint64 `json:"batched_proofs"`
	InclusionChecked uint64 `json:"inclusion_checked"`
	InclusionFailed  uint64 `json:"inclusion_failed"`

	// LatencyMs is end to end, over delivered messages: the verified
	// acknowledgement's arrival at the sender less the send. DeliveryMs
	// is the recipient's signed receive time less the send.
	LatencyMs  Percentiles `json:"latency_ms"`
	DeliveryMs Percentiles `json:"delivery_ms"`
	// Hops counts the messages sent by path length (relays on the path).
	Hops map[string]uint64 `json:"hops,omitempty"`
	// MessagesPerRelay and BytesPerRelay are over the relays: messages
	// each handed off, and bytes each sent on (data and acknowledgements
	// passed back). Per relay in relay_load.csv.
	MessagesPerRelay Percentiles `json:"messages_per_relay"`
	BytesPerRelay    Percentiles `json:"bytes_per_relay"`
	// Refused counts relayed datagrams refused or dropped by the relay
	// components, by reason (bandwidth, pending-cap, expired, ...).
	Refused map[string]uint64 `json:"refused,omitempty"`
}

// Line is the section's one-line form for a run's console summary.
func (s *RelaySection) Line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "relay    messages %d  delivered %d (%.4f)  proofs verified %d failed %d  batches %d  inclusion %d/%d  latency ms p50 %.1f p99 %.1f  bytes/relay mean %.0f max %.0f",
		s.Messages, s.Delivered, s.DeliveryRatio, s.ProofsVerified, s.ProofsFailed, s.Batches,
		s.InclusionChecked-s.InclusionFailed, s.InclusionChecked, s.LatencyMs.P50, s.LatencyMs.P99,
		s.BytesPerRelay.Mean, s.BytesPerRelay.Max)
	if s.TamperedChecked > 0 {
		fmt.Fprintf(&b, "  tampered rejected %d/%d", s.TamperedRejected, s.TamperedChecked)
	}
	return b.String()
}

// RelayLoad is one relay's row of relay_load.csv.
type RelayLoad struct {
	// Node is the relay's node index.
	Node int
	// Messages it handed off; Bytes it sent on.
	Messages, Bytes uint64
}

// RelayLoadCSV is the file the per-relay load is written to, in a run's
// output folder.
const RelayLoadCSV = "relay_load.csv"

// relayLoadHeader is the header of relay_load.csv.
var relayLoadHeader = []string{"relay", "messages", "bytes"}

// WriteRelayLoadCSV writes rows to dir/relay_load.csv (relay, messages,
// bytes), in the given order.
func WriteRelayLoadCSV(dir string, rows []RelayLoad) error {
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = []string{strconv.Itoa(r.Node), strconv.FormatUint(r.Messages, 10), strconv.FormatUint(r.Bytes, 10)}
	}
	return WriteCSV(dir, RelayLoadCSV, relayLoadHeader, out)
}

// ReadRelayLoadCSV reads a table WriteRelayLoadCSV wrote. Errors name the
// file and line.
func ReadRelayLoadCSV(path string) ([]RelayLoad, error) {
	var out []RelayLoad
	err := readFloatCSV(path, relayLoadHeader, func(line int, v []float64) error {
		for _, x := range v {
			if x < 0 || x != float64(uint64(x)) {
				return fmt.Errorf("%s:%d: %v: want whole, non-negative numbers: %w", path, line, v, ErrBadCSV)
			}
		}
		out = append(out, RelayLoad{Node: int(v[0]), Messages: uint64(v[1]), Bytes: uint64(v[2])})
		return nil
	})
	return out, err
}
