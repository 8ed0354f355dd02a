package sandboxtest

import (
	"fmt"
	"strings"
	"time"
)

// Program is what a test wants a sandbox to do. Each harness turns it into a
// command its driver runs: a shell line for real drivers, a script for fake.
type Program struct {
	Stdout   []string
	Stderr   []string
	Sleep    time.Duration
	ExitCode int
}

// ShellCommand renders p as `sh -c` for drivers that run real processes.
func ShellCommand(p Program) []string {
	var b strings.Builder
	for _, l := range p.Stdout {
		fmt.Fprintf(&b, "echo '%s'; ", l)
	}
	for _, l := range p.Stderr {
		fmt.Fprintf(&b, "echo '%s' >&2; ", l)
	}
	if p.Sleep > 0 {
		fmt.Fprintf(&b, "sleep %.3f; ", p.Sleep.Seconds())
	}
	fmt.Fprintf(&b, "exit %d", p.ExitCode)
	return []string{"sh", "-c", b.String()}
}
