package batch

import "testing"

func TestShouldRetry(t *testing.T) {
	three := 3
	code := func(n int) *int { return &n }
	exitOn := func(rules ...evaluateOnExit) *retryStrategy {
		return &retryStrategy{Attempts: &three, EvaluateOnExit: rules}
	}
	cases := []struct {
		name     string
		rs       *retryStrategy
		attempts int
		out      attemptOutcome
		want     bool
	}{
		{"no strategy", nil, 1, attemptOutcome{exitCode: code(1)}, false},
		{"attempts left, no rules", exitOn(), 1, attemptOutcome{exitCode: code(1)}, true},
		{"attempts used up", exitOn(), 3, attemptOutcome{exitCode: code(1)}, false},
		{"exit code rule says exit", exitOn(evaluateOnExit{OnExitCode: "1", Action: "EXIT"}), 1, attemptOutcome{exitCode: code(1)}, false},
		{"exit code glob retries", exitOn(evaluateOnExit{OnExitCode: "1*", Action: "RETRY"}, evaluateOnExit{OnExitCode: "*", Action: "EXIT"}), 1, attemptOutcome{exitCode: code(137)}, true},
		{"first match wins", exitOn(evaluateOnExit{OnExitCode: "*", Action: "EXIT"}, evaluateOnExit{OnExitCode: "2", Action: "RETRY"}), 1, attemptOutcome{exitCode: code(2)}, false},
		{"on reason", exitOn(evaluateOnExit{OnReason: "CannotPullContainerError*", Action: "exit"}), 1, attemptOutcome{reason: "CannotPullContainerError: x"}, false},
		{"on status reason", exitOn(evaluateOnExit{OnStatusReason: "Host EC2*", Action: "RETRY"}, evaluateOnExit{OnReason: "*", Action: "EXIT"}), 1,
			attemptOutcome{statusReason: reasonLost, reason: reasonLost}, true},
		{"no exit code never matches an exit code rule", exitOn(evaluateOnExit{OnExitCode: "*", Action: "EXIT"}), 1, attemptOutcome{reason: "x"}, true},
		{"no rule matches: retried", exitOn(evaluateOnExit{OnExitCode: "5", Action: "EXIT"}), 1, attemptOutcome{exitCode: code(6)}, true},
	}
	for _, c := range cases {
		if got := shouldRetry(c.rs, c.attempts, c.out); got != c.want {
			t.Errorf("%s: shouldRetry = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestSubstitute(t *testing.T) {
	got := substitute([]string{"echo", "Ref::a", "Ref::missing", "x-Ref::a"}, map[string]string{"a": "A"})
	want := []string{"echo", "A", "Ref::missing", "x-Ref::a"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("substitute = %q, want %q", got, want)
		}
	}
}
