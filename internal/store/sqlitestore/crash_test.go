package sqlitestore

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/store"
)

// crashChildEnv switches the test binary into the writer child of
// TestKillDuringUpdates (see TestMain); its value is the database path.
const crashChildEnv = "NIMBUS_SQLITESTORE_CRASH_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		if err := crashChild(path); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashKinds are written together in every transaction of the child, so a
// torn transaction shows up as a number present under some but not all.
var crashKinds = []string{"crash:a", "crash:b", "crash:c"}

// crashRecord is what the child writes; Sum covers N and Pad so a
// half-written value is detected.
type crashRecord struct {
	N   int64  `json:"n"`
	Pad string `json:"pad"`
	Sum string `json:"sum"`
}

func newCrashRecord(n int64) crashRecord {
	// Sizes vary from a few bytes to 40 KiB so transactions span from one
	// page to many.
	pad := strings.Repeat(strconv.FormatInt(n, 36), int(n%7)*1500+1)
	return crashRecord{N: n, Pad: pad, Sum: crashSum(n, pad)}
}

func crashSum(n int64, pad string) string {
	h := sha256.Sum256([]byte(strconv.FormatInt(n, 10) + "/" + pad))
	return hex.EncodeToString(h[:8])
}

func crashKey(kind string, n int64) store.Key {
	return store.Key{Account: "123456789012", Region: "us-east-1", Kind: kind, ID: fmt.Sprintf("%010d", n)}
}

// crashChild writes until it is killed, printing "ack N" once the Update
// that wrote record N has returned.
func crashChild(path string) error {
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		return err
	}
	for {
		var n int64
		err := s.Update(ctx, func(tx store.Tx) error {
			var err error
			if n, err = tx.NextSequence("crash"); err != nil {
				return err
			}
			rec := newCrashRecord(n)
			for _, kind := range crashKinds {
				if _, err := tx.Create(crashKey(kind, n), rec); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		// os.Stdout is unbuffered: the line is in the pipe when this returns.
		if _, err := fmt.Fprintf(os.Stdout, "ack %d\n", n); err != nil {
			return err
		}
	}
}

// TestKillDuringUpdates kills a writing process with SIGKILL at random
// points and checks that every write it acknowledged survives intact and
// that no transaction is ever half visible.
func TestKillDuringUpdates(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns and kills writer processes")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	acked := map[int64]bool{}
	const rounds = 4
	for round := range rounds {
		killAfter := 20 + rand.IntN(150)
		got := runAndKill(t, path, killAfter)
		if len(got) < killAfter {
			t.Fatalf("round %d: child acknowledged only %d writes", round, len(got))
		}
		for _, n := range got {
			acked[n] = true
		}
		verifyCrashDB(t, path, acked, round+1)
	}
}

// runAndKill starts the child, kills it after killAfter acknowledgements
// and returns every acknowledgement it printed, including those already in
// the pipe when it died.
func runAndKill(t *testing.T, path string, killAfter int) []int64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acks []int64
	killed := false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		n, err := strconv.ParseInt(strings.TrimPrefix(sc.Text(), "ack "), 10, 64)
		if err != nil {
			t.Errorf("child printed %q", sc.Text())
			continue
		}
		acks = append(acks, n)
		if len(acks) == killAfter && !killed {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child exited by itself after %d acks: %v", len(acks), err)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want SIGKILL", err)
	}
	return acks
}

// verifyCrashDB checks the database after a kill; maxUnacked is how many
// kills it has seen, each of which may have cut off one acknowledgement of
// a transaction that did commit.
func verifyCrashDB(t *testing.T, path string, acked map[int64]bool, maxUnacked int) {
	t.Helper()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer s.Close()
	present := make([]map[int64]bool, len(crashKinds))
	err = s.View(t.Context(), func(tx store.Tx) error {
		for i, kind := range crashKinds {
			present[i] = map[int64]bool{}
			q := store.Query{Kind: kind, Account: "123456789012", Region: "us-east-1"}
			err := tx.List(q, func(o store.Object) error {
				var rec crashRecord
				if err := o.Decode(&rec); err != nil {
					return err
				}
				if fmt.Sprintf("%010d", rec.N) != o.Key.ID || crashSum(rec.N, rec.Pad) != rec.Sum {
					return fmt.Errorf("%s holds a damaged record (n=%d)", o.Key, rec.N)
				}
				present[i][rec.N] = true
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for n := range acked {
		for i, kind := range crashKinds {
			if !present[i][n] {
				t.Errorf("acknowledged write %d lost from %s", n, kind)
			}
		}
	}
	for n := range present[0] {
		for i := 1; i < len(crashKinds); i++ {
			if !present[i][n] {
				t.Errorf("torn transaction: %d is in %s but not %s", n, crashKinds[0], crashKinds[i])
			}
		}
	}
	for i := 1; i < len(crashKinds); i++ {
		if len(present[i]) != len(present[0]) {
			t.Errorf("torn transaction: %s has %d records, %s has %d", crashKinds[i], len(present[i]), crashKinds[0], len(present[0]))
		}
	}
	if extra := len(present[0]) - len(acked); extra < 0 || extra > maxUnacked {
		t.Errorf("%d records for %d acknowledged writes after %d kills", len(present[0]), len(acked), maxUnacked)
	}
}
