package scenarios

import (
	"slices"
	"testing"
)

// The adversaries section decodes, resolves its attackers away from the
// bootstrap nodes and victims, and survives the canonical round trip.
func TestParseAdversaries(t *testing.T) {
	src := base + `adversaries:
  - role: selective-drop
    share: 20%
    victim: 3
  - role: spam
    nodes: [0-1]
    rate: 100
    interval: 10ms
  - {role: sybil, share: 10%, identities: 40}
  - {role: replay, share: 10%, delay: 2s}
`
	s, err := Parse("x.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Adversaries) != 4 || s.Adversaries[0].Victim != 3 || s.Adversaries[1].Rate != 100 ||
		s.Adversaries[2].Identities != 40 || s.Adversaries[2].Victim != -1 {
		t.Fatalf("adversaries %+v", s.Adversaries)
	}
	sets, err := s.Attackers()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for k, set := range sets {
		for _, i := range set {
			if i == 3 || seen[i] {
				t.Errorf("entry %d: node %d is a victim or taken twice", k, i)
			}
			seen[i] = true
		}
	}
	if !slices.Equal(sets[1], []int{0, 1}) {
		t.Errorf("spam nodes %v", sets[1])
	}
	roundTrip(t, s)
}
