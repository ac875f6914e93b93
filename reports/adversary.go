package reports

// AdversarySection is summary.json's adversaries section: who attacked,
// what they did, and what it did to the honest nodes (those that are no
// attacker), measured against a clean run of the same scenario and seed
// without adversaries, which the runner performs itself.
type AdversarySection struct {
	Roles []AdversaryRole `json:"roles"`
	// HonestNodes are the nodes that are no attacker.
	HonestNodes int `json:"honest_nodes"`
	// Clean and Attacked are the honest nodes' figures without and with
	// the adversaries.
	Clean    HonestFigures `json:"clean"`
	Attacked HonestFigures `json:"attacked"`
	// LatencyP95Rise is Attacked over Clean gossip latency p95, less 1
	// (0.2: 20% slower).
	LatencyP95Rise float64 `json:"latency_p95_rise"`

	Eclipse *EclipseFigures `json:"eclipse,omitempty"`
	Gossip  *ByzGossip      `json:"gossip,omitempty"`
	Relay   *ByzRelay       `json:"relay,omitempty"`
}

// AdversaryRole is one adversaries entry as run.
type AdversaryRole struct {
	Role   string `json:"role"`
	Nodes  int    `json:"nodes"`
	Victim *int   `json:"victim,omitempty"`
	// Identities is the number of identities its nodes presented in all.
	Identities int `json:"identities,omitempty"`
	// Sent counts the datagrams the role sent of its own (spam, forgeries,
	// replays, identity introductions, false acknowledgements, forged
	// hand-offs); Withheld the gossip messages its nodes did not pass on;
	// Lies the DHT answers they replaced.
	Sent     uint64 `json:"sent,omitempty"`
	Withheld uint64 `json:"withheld,omitempty"`
	Lies     uint64 `json:"lies,omitempty"`
}

// HonestFigures are what honest nodes saw: gossip messages published by
// honest nodes, delivered to honest nodes; lookups by honest nodes for
// honest peers; relayed messages between honest nodes.
type HonestFigures struct {
	Messages      int     `json:"messages,omitempty"`
	DeliveryRatio float64 `json:"delivery_ratio,omitempty"`
	LatencyP50Ms  float64 `json:"latency_p50_ms,omitempty"`
	LatencyP95Ms  float64 `json:"latency_p95_ms,omitempty"`
	Lookups       int     `json:"lookups,omitempty"`
	LookupSuccess float64 `json:"lookup_success,omitempty"`
	// LookupsMisled are honest lookups that failed or whose first result
	// is an attacker or a peer that does not exist.
	LookupsMisled  int     `json:"lookups_misled,omitempty"`
	RelayMessages  int     `json:"relay_messages,omitempty"`
	RelayDelivered float64 `json:"relay_delivery_ratio,omitempty"`
}

// EclipseFigures measure an eclipse (or a targeted Sybil attack) at its
// victim at the end of the run, and the victim's own lookups.
type EclipseFigures struct {
	Victim            int     `json:"victim"`
	TableSize         int     `json:"table_size"`
	TableAttackers    int     `json:"table_attackers"`
	HonestTableShare  float64 `json:"honest_table_share"`
	Connections       int     `json:"connections"`
	ConnAttackers     int     `json:"connection_attackers"`
	HonestConnShare   float64 `json:"honest_connection_share"`
	VictimLookups     int     `json:"victim_lookups"`
	VictimLookupOK    float64 `json:"victim_lookup_success"`
	VictimLookupClean float64 `json:"victim_lookup_success_clean"`
}

// ByzGossip counts what honest nodes did with the attackers' gossip.
type ByzGossip struct {
	// Received are gossip datagrams from attackers that reached honest
	// nodes; RateLimited, Forged, Replayed and Expired the ones they
	// dropped for that reason.
	Received    uint64 `json:"received"`
	RateLimited uint64 `json:"rate_limited"`
	// PublisherLimited were over their publisher's rate
	// (gossip_publisher_rate): the spam defence.
	PublisherLimited uint64 `json:"publisher_limited"`
	Forged           uint64 `json:"rejected_forged"`
	Replayed         uint64 `json:"rejected_replayed"`
	Expired          uint64 `json:"rejected_expired"`
	Duplicates       uint64 `json:"duplicates"`
	// SpamAbsorbed is RateLimited plus PublisherLimited over the spam
	// sent: the share the first hop refused.
	SpamAbsorbed float64 `json:"spam_absorbed,omitempty"`
	// Foreign are deliveries at honest nodes of messages no node
	// published through its gossip component (spam, or a forgery that got
	// through); Redelivered are second deliveries of one message at one
	// honest node (a replay that got through).
	Foreign     uint64 `json:"foreign_deliveries"`
	Redelivered uint64 `json:"redelivered"`
}

// ByzRelay measures cheating relays against the senders' audits.
type ByzRelay struct {
	Cheaters int `json:"cheaters"`
	// Through are messages whose path held a cheater; Delivered of them
	// got a verified proof (a false claim accepted would count here).
	Through   int `json:"through_cheaters"`
	Delivered int `json:"delivered"`
	// Detected are cheaters among the suspects of at least one audit;
	// TopSuspects the cheaters among the len(cheaters) most suspected
	// peers; HonestSuspected the honest relays suspected at least once.
	Detected        int `json:"cheaters_detected"`
	TopSuspects     int `json:"cheaters_top_suspects"`
	HonestSuspected int `json:"honest_suspected"`
}
