// Package archtest enforces the architecture's layering and determinism
// rules (../shared/DESIGN.md) as a test, so a wrong import or a wall-clock
// read in protocol code fails CI instead of waiting for review.
package archtest
