package natagree

import "testing"

// TestSimulatedCases: in the simulator every lab case takes the method the
// lab must take (cmd/dchat-node's TestNATLab checks the real side against
// Simulate), for a few seeds.
func TestSimulatedCases(t *testing.T) {
	for _, c := range Cases {
		t.Run(c.Name, func(t *testing.T) {
			for seed := uint64(1); seed <= 3; seed++ {
				r, err := Simulate(c, seed)
				if err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				t.Logf("seed %d: %v×%v: A's path %v at %v after %v; B's path %v", seed, c.A, c.B, r.Method, r.Addr, r.Took, r.BMethod)
				if r.Method != c.Want {
					t.Errorf("seed %d: method %v, want %v", seed, r.Method, c.Want)
				}
			}
		})
	}
}
