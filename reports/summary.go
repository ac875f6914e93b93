package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Summary is summary.json: the run's identity, its cost, and one section per
// protocol. Field order is fixed, maps are written with sorted keys, so two
// runs with the same scenario and seed give the same bytes apart from the
// wall-clock fields (WallClockFields).
type Summary struct {
	Scenario      string  `json:"scenario"`
	Seed          uint64  `json:"seed"`
	Nodes         int     `json:"nodes"`
	SimTimeS      float64 `json:"sim_time_s"`
	WallS         float64 `json:"wall_s"`
	Events        uint64  `json:"events"`
	EventsPerS    float64 `json:"events_per_s"`
	PeakHeapBytes uint64  `json:"peak_heap_bytes"`
	// LiveHeapBytes is the heap still reachable when the simulation ends
	// (measured after a full collection, before the outputs are written):
	// the nodes' protocol state and the simulator's. LiveHeapPerNode is
	// that over Nodes, the memory one simulated node costs.
	LiveHeapBytes   uint64 `json:"live_heap_bytes"`
	LiveHeapPerNode uint64 `json:"live_heap_per_node_bytes"`
	TraceEvents     uint64 `json:"trace_events"`
	TraceSHA256     string `json:"trace_sha256"`

	Network *NetworkSection   `json:"network,omitempty"`
	Drops   map[string]uint64 `json:"drops,omitempty"`
	Ping    *PingSection      `json:"ping,omitempty"`
	Gossip  *GossipSection    `json:"gossip,omitempty"`
	DHT     *DHTSection       `json:"dht,omitempty"`

	Connections *ConnectionsSection `json:"connections,omitempty"`
	Relay       *RelaySection       `json:"relay,omitempty"`
	NAT         *NATSection         `json:"nat,omitempty"`
	Chaos       *ChaosSection       `json:"chaos,omitempty"`
	Adversaries *AdversarySection   `json:"adversaries,omitempty"`
}

// WallClockFields are the summary fields that depend on the machine, not on
// the scenario and seed.
var WallClockFields = []string{"wall_s", "events_per_s", "peak_heap_bytes", "live_heap_bytes", "live_heap_per_node_bytes"}

// NetworkSection counts what the (simulated) network did with packets.
type NetworkSection struct {
	PacketsSent      uint64            `json:"packets_sent"`
	PacketsDelivered uint64            `json:"packets_delivered"`
	BytesSent        uint64            `json:"bytes_sent"`
	Dropped          map[string]uint64 `json:"dropped,omitempty"`
	// Filter summarises the private nodes' inbound filters, when there are
	// private nodes; their drops are Dropped["filtered"].
	Filter *FilterSection `json:"filter,omitempty"`
}

// FilterSection summarises the inbound filters of the private nodes
// (RFC 4787 filtering without translation): a private node receives only
// from endpoints it sent to within the binding timeout.
type FilterSection struct {
	PrivateNodes    int     `json:"private_nodes"`
	Behavior        string  `json:"behavior"`
	BindingTimeoutS float64 `json:"binding_timeout_s"`
	// Opened counts bindings created; Passed and Dropped the inbound
	// packets let through and dropped; Evicted the live bindings dropped
	// from a full table; PeakBindings the most one node held at once.
	Opened       uint64 `json:"opened"`
	Passed       uint64 `json:"passed"`
	Dropped      uint64 `json:"dropped"`
	Evicted      uint64 `json:"evicted"`
	PeakBindings int    `json:"peak_bindings"`
}

// PingSection summarises liveness probes. RTTs are in milliseconds. Model
// fields compare each measured RTT with the latency model's base RTT for
// the same pair (propagation both ways, without jitter or queueing).
type PingSection struct {
	Sent       uint64      `json:"sent"`
	Answered   uint64      `json:"answered"`
	TimedOut   uint64      `json:"timed_out"`
	RTTms      Percentiles `json:"rtt_ms"`
	ModelRTTms Percentiles `json:"model_rtt_ms,omitempty"`
	// ExcessMs is measured minus model RTT per probe: never negative
	// (causality), and small (jitter, serialization, queueing).
	ExcessMs Percentiles `json:"excess_ms,omitempty"`
	// RatioP50 is the median of measured/model RTT.
	RatioP50 float64 `json:"ratio_p50,omitempty"`
}

// GossipSection summarises gossip propagation. Latencies are in
// milliseconds since publication. Live nodes are the nodes up at the end of
// the run; deliveries count (message, live node) pairs, the publisher
// included, so DeliveryRatio is deliveries / (messages x live nodes).
type GossipSection struct {
	Messages      int     `json:"messages"`
	LiveNodes     int     `json:"live_nodes"`
	Deliveries    uint64  `json:"deliveries"`
	DeliveryRatio float64 `json:"delivery_ratio"`
	// FirstDeliveryMs is over (message, receiving node), the publisher
	// excluded.
	FirstDeliveryMs Percentiles `json:"first_delivery_ms"`
	// Reach90Ms, Reach99Ms and Reach100Ms are, over messages, the time until
	// 90%, 99% and all live nodes had the message; messages that never got
	// there are counted in Unreached.
	Reach90Ms  Percentiles    `json:"reach_90_ms"`
	Reach99Ms  Percentiles    `json:"reach_99_ms"`
	Reach100Ms Percentiles    `json:"reach_100_ms"`
	Unreached  map[string]int `json:"unreached,omitempty"`
	// DuplicatesPerNodePerMsg is full copies received after the first,
	// divided by (messages x live nodes).
	DuplicatesPerNodePerMsg float64 `json:"duplicates_per_node_per_msg"`
	// BytesSentPerNode is every byte nodes sent (all protocols) per node.
	BytesSentPerNode float64           `json:"bytes_sent_per_node"`
	Hops             Percentiles       `json:"hops"`
	PullDeliveries   uint64            `json:"pull_deliveries"`
	Drops            map[string]uint64 `json:"drops,omitempty"`
	// BoundRatioP50 is the median over (message, node) of first-delivery
	// latency divided by the shortest-path latency from the publisher
	// through the latency model: how far above the physical limit.
	BoundRatioP50 float64 `json:"bound_ratio_p50"`
	// RepairDeliveries are first receipts pulled through anti-entropy
	// Redelivered counts deliveries to a node that already had the
	// message before it restarted without its state; only the first
	// delivery counts in the figures above.
	Redelivered uint64 `json:"redelivered,omitempty"`
	// repair (digest exchange), counted apart from PullDeliveries.
	RepairDeliveries uint64 `json:"repair_deliveries,omitempty"`
	// Heal is set when a partition healed during the run (see HealSection).
	Heal *HealSection `json:"heal,omitempty"`
}

// DHTSection summarises DHT lookups and bootstrap. A lookup succeeds when
// the peer it looked for is among its results.
type DHTSection struct {
	Lookups int `json:"lookups"`
	// Unfinished lookups were still running when the run ended; they count
	// as failures in SuccessRatio.
	Unfinished        int         `json:"unfinished,omitempty"`
	Succeeded         int         `json:"succeeded"`
	SuccessRatio      float64     `json:"success_ratio"`
	LatencyMs         Percentiles `json:"latency_ms"`
	Hops              Percentiles `json:"hops"`
	MessagesPerLookup float64     `json:"messages_per_lookup"`
	// TableSize is over live nodes at the end of the run.
	TableSize Percentiles `json:"table_size"`
	// BootstrapS is the time each node took to bootstrap, in seconds;
	// NotBootstrapped counts nodes that never finished.
	BootstrapS      Percentiles       `json:"bootstrap_s"`
	NotBootstrapped int               `json:"not_bootstrapped,omitempty"`
	Drops           map[string]uint64 `json:"drops,omitempty"`
}

// MarshalIndent encodes s as indented JSON with a trailing newline.
func (s *Summary) MarshalIndent() ([]byte, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// WriteFile writes s to dir/summary.json.
func (s *Summary) WriteFile(dir string) error {
	b, err := s.MarshalIndent()
	if err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	return WriteFileAtomic(filepath.Join(dir, "summary.json"), b)
}

// ReadSummary reads dir/summary.json.
func ReadSummary(dir string) (*Summary, error) {
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		return nil, err
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "summary.json"), err)
	}
	return &s, nil
}

// WriteFileAtomic writes b to path through a temporary file and a rename, so
// a reader never sees a half-written file.
func WriteFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// FlattenSummary turns a summary.json into numeric metrics by dotted path
// (gossip.first_delivery_ms.p95, events, drops.loss, ...). Strings and
// booleans are left out, and so is seed; the wall-clock fields
// (WallClockFields) are returned apart, in cost.
func FlattenSummary(summary []byte) (metrics, cost map[string]float64, err error) {
	dec := json.NewDecoder(bytes.NewReader(summary))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		return nil, nil, err
	}
	metrics, cost = map[string]float64{}, map[string]float64{}
	var walk func(prefix string, v any) error
	walk = func(prefix string, v any) error {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				if err := walk(p, x); err != nil {
					return err
				}
			}
		case json.Number:
			f, err := v.Float64()
			if err != nil {
				return fmt.Errorf("%s: %w", prefix, err)
			}
			switch {
			case prefix == "seed":
			case slices.Contains(WallClockFields, prefix):
				cost[prefix] = f
			default:
				metrics[prefix] = f
			}
		}
		return nil
	}
	return metrics, cost, walk("", root)
}
