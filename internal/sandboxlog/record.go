// Package sandboxlog writes and reads a sandbox's captured output: one record
// per line, each with a timestamp and the stream it came from.
//
// The format is the one Kubernetes' CRI uses for container logs, so tools
// that read those read ours:
//
//	2026-11-27T22:29:26.123456789Z stdout F hello world
//
// The third field is F for a full line and P for a partial one: a line longer
// than MaxLineBytes is cut into P records followed by an F record, and output
// that ends without a newline is written as a P record.
package sandboxlog

import "time"

// Stream names a standard stream.
type Stream string

const (
	Stdout Stream = "stdout"
	Stderr Stream = "stderr"
)

// MaxLineBytes is the longest content one record holds; longer lines are split.
const MaxLineBytes = 16 * 1024

// Record is one line (or part of one) of a sandbox's output.
type Record struct {
	Time    time.Time
	Stream  Stream
	Partial bool // the line continues in the next record of the same stream
	Content string
}
