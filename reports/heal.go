package reports

// HealSection measures how fast messages cross a healed partition: over
// the messages published while a partition was up that healed before the
// end of the run, the time from the heal until every node live at the end
// had the message. The target of issue 8 is Within10s == Messages.
type HealSection struct {
	// Partitions is the number of partitions that healed during the run.
	Partitions int `json:"partitions"`
	// Messages were published while one of them was up.
	Messages int `json:"messages"`
	// ReachedAll of them reached every live node by the end of the run;
	// Within10s did so at most 10 s after their partition healed.
	ReachedAll int `json:"reached_all"`
	Within10s  int `json:"within_10s"`
	// AfterHealMs is, over the messages that reached every live node, the
	// time from the heal until the last live node had the message (0 if
	// that was before the heal).
	AfterHealMs Percentiles `json:"after_heal_ms"`
}
