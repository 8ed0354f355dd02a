package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/store"
)

// benchInstance is shaped like an EC2 instance record (about 1 KiB of
// JSON), so the figures say something about DescribeInstances.
type benchInstance struct {
	InstanceID     string            `json:"instanceId"`
	ImageID        string            `json:"imageId"`
	InstanceType   string            `json:"instanceType"`
	State          string            `json:"state"`
	PrivateIP      string            `json:"privateIpAddress"`
	SubnetID       string            `json:"subnetId"`
	VpcID          string            `json:"vpcId"`
	SecurityGroups []string          `json:"securityGroups"`
	Tags           map[string]string `json:"tags"`
	UserData       string            `json:"userData"`
}

func (b benchInstance) StoreIndexes() []store.IndexValue {
	return []store.IndexValue{{Name: "private-ip", Value: b.PrivateIP, Unique: true}}
}

func newBenchInstance(n int) benchInstance {
	return benchInstance{
		InstanceID:     fmt.Sprintf("i-%017x", n),
		ImageID:        "ami-0123456789abcdef0",
		InstanceType:   "t3.micro",
		State:          "running",
		PrivateIP:      fmt.Sprintf("10.%d.%d.%d", n>>16&0xff, n>>8&0xff, n&0xff),
		SubnetID:       "subnet-0123456789abcdef0",
		VpcID:          "vpc-0123456789abcdef0",
		SecurityGroups: []string{"sg-0123456789abcdef0", "sg-0fedcba9876543210"},
		Tags:           map[string]string{"Name": fmt.Sprintf("worker-%d", n), "team": "compute", "env": "bench"},
		UserData:       strings.Repeat("IyEvYmluL3NoCmVjaG8gaGVsbG8K", 20),
	}
}

const benchObjects = 10000

func benchKey(n int) store.Key {
	return store.Key{Account: acct1, Region: east, Kind: "ec2:instance", ID: fmt.Sprintf("i-%017x", n)}
}

// fill writes count instances in batches.
func fill(b *testing.B, s store.Store, count int) {
	b.Helper()
	for start := 0; start < count; start += 1000 {
		err := s.Update(context.Background(), func(tx store.Tx) error {
			for n := start; n < min(start+1000, count); n++ {
				if _, err := tx.Put(benchKey(n), newBenchInstance(n), 0); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// Benchmarks runs the shared benchmarks against stores made by newStore:
//
//	Get          one point read in its own View, 10,000 objects stored
//	GetParallel  the same from GOMAXPROCS goroutines
//	UpdatePut    one Update with one Put of an existing object (durable commit)
//	List10000    streaming all 10,000 objects of a partition, raw JSON
//	List10000Decode  the same, decoding each into a struct (DescribeInstances' floor)
//	IndexLookup  one secondary-index lookup in its own View
//	ListPage100000  a page of 100 after a random ID in a partition of
//	             100,000 objects (paging through a long Batch queue)
func Benchmarks(b *testing.B, newStore NewStore) {
	b.Run("Get", func(b *testing.B) {
		s := newStore(b)
		fill(b, s, benchObjects)
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			k := benchKey(rand.IntN(benchObjects))
			err := s.View(context.Background(), func(tx store.Tx) error {
				var v benchInstance
				_, err := tx.Get(k, &v)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GetParallel", func(b *testing.B) {
		s := newStore(b)
		fill(b, s, benchObjects)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				k := benchKey(rand.IntN(benchObjects))
				err := s.View(context.Background(), func(tx store.Tx) error {
					var v benchInstance
					_, err := tx.Get(k, &v)
					return err
				})
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("UpdatePut", func(b *testing.B) {
		s := newStore(b)
		fill(b, s, 1000)
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			n := i % 1000
			err := s.Update(context.Background(), func(tx store.Tx) error {
				_, err := tx.Put(benchKey(n), newBenchInstance(n), 0)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	q := store.Query{Kind: "ec2:instance", Account: acct1, Region: east}
	b.Run("List10000", func(b *testing.B) {
		s := newStore(b)
		fill(b, s, benchObjects)
		b.ResetTimer()
		for b.Loop() {
			count := 0
			err := s.View(context.Background(), func(tx store.Tx) error {
				return tx.List(q, func(o store.Object) error { count++; return nil })
			})
			if err != nil || count != benchObjects {
				b.Fatalf("listed %d of %d: %v", count, benchObjects, err)
			}
		}
	})
	b.Run("List10000Decode", func(b *testing.B) {
		s := newStore(b)
		fill(b, s, benchObjects)
		b.ResetTimer()
		for b.Loop() {
			out := make([]benchInstance, 0, benchObjects)
			err := s.View(context.Background(), func(tx store.Tx) error {
				return tx.List(q, func(o store.Object) error {
					var v benchInstance
					if err := o.Decode(&v); err != nil {
						return err
					}
					out = append(out, v)
					return nil
				})
			})
			if err != nil || len(out) != benchObjects {
				b.Fatalf("listed %d of %d: %v", len(out), benchObjects, err)
			}
		}
	})
	b.Run("ListPage100000", func(b *testing.B) {
		const total, page = 100000, 100
		s := newStore(b)
		fill(b, s, total)
		b.ResetTimer()
		for b.Loop() {
			pq := q
			pq.After, pq.Limit = benchKey(rand.IntN(total-page)).ID, page
			count := 0
			err := s.View(context.Background(), func(tx store.Tx) error {
				return tx.List(pq, func(o store.Object) error { count++; return nil })
			})
			if err != nil || count != page {
				b.Fatalf("page after %s: %d objects, %v", pq.After, count, err)
			}
		}
	})
	b.Run("IndexLookup", func(b *testing.B) {
		s := newStore(b)
		fill(b, s, benchObjects)
		b.ResetTimer()
		for b.Loop() {
			n := rand.IntN(benchObjects)
			iq := q
			iq.Index, iq.IndexValue = "private-ip", newBenchInstance(n).PrivateIP
			found := 0
			err := s.View(context.Background(), func(tx store.Tx) error {
				return tx.List(iq, func(o store.Object) error { found++; return nil })
			})
			if err != nil || found != 1 {
				b.Fatalf("lookup of %s found %d: %v", iq.IndexValue, found, err)
			}
		}
	})
}
