//go:build race

package webhook

// raceEnabled reports a -race build, whose instrumented memory accesses
// run 5–20× slower, so wall-clock budgets in tests are scaled.
const raceEnabled = true
