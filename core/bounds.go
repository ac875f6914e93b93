package core

import (
	"fmt"
	"time"
)

// IntBound is an integer configuration field and its smallest allowed
// value, for a component's Validate.
type IntBound struct {
	Name   string
	V, Min int
}

// DurationBound is a duration configuration field: never negative, and
// non-zero if Positive.
type DurationBound struct {
	Name     string
	V        time.Duration
	Positive bool
}

// CheckBounds returns an error wrapping ErrConfig for the first field out of
// its bounds, as "component: Name: ...", or nil.
func CheckBounds(component string, ints []IntBound, durations []DurationBound) error {
	for _, f := range ints {
		if f.V < f.Min {
			return fmt.Errorf("%w: %s: %s: must be at least %d, got %d", ErrConfig, component, f.Name, f.Min, f.V)
		}
	}
	for _, d := range durations {
		if d.V < 0 || (d.Positive && d.V == 0) {
			return fmt.Errorf("%w: %s: %s: must be a positive duration, got %v", ErrConfig, component, d.Name, d.V)
		}
	}
	return nil
}
