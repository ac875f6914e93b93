package main

import (
	"bufio"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// tuneGC trades memory for speed unless the user set GOGC or GOMEMLIMIT:
// a simulation keeps a large, long-lived heap (every node's state) and
// allocates quickly, so the default GOGC=100 spends a fifth of the run
// marking the same objects. With GOGC=400 the heap may grow to five times
// the live data, capped by a soft limit of a quarter of physical memory,
// past which the collector works harder instead of letting it grow.
// Without a known memory size the defaults stay.
func tuneGC() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	total := memTotal()
	if total == 0 {
		return
	}
	debug.SetGCPercent(400)
	debug.SetMemoryLimit(int64(total / 4))
}

// memTotal returns the machine's memory in bytes from /proc/meminfo, or 0.
func memTotal() uint64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		// MemTotal:       24576000 kB
		if rest, ok := strings.CutPrefix(s.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
