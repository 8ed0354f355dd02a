package logs

import (
	"math/rand"
	"slices"
	"testing"
)

func TestMergeTail(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for round := 0; round < 200; round++ {
		var es []entry
		var key uint32
		batches := 1 + rng.Intn(6)
		for b := 0; b < batches; b++ {
			n := len(es)
			size := rng.Intn(20)
			for i := 0; i < size; i++ {
				key++
				es = append(es, entry{ts: int64(rng.Intn(50)), off: key})
			}
			es = mergeTail(es, n)
			if !slices.IsSortedFunc(es, func(a, b entry) int {
				if a.pos().less(b.pos()) {
					return -1
				}
				return 1
			}) {
				t.Fatalf("round %d batch %d: not sorted: %v", round, b, es)
			}
			if len(es) != int(key) {
				t.Fatalf("lost entries")
			}
			seen := map[uint32]bool{}
			for _, e := range es {
				if seen[e.off] {
					t.Fatalf("round %d: entry %d twice", round, e.off)
				}
				seen[e.off] = true
			}
		}
	}
}
