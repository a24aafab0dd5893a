package store

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"duet/protocol"

	bolt "go.etcd.io/bbolt"
)

// buildLargeHistory writes n entries (one a second from histT0, ~60-byte
// texts, alternating own/peer) into a database created by Open, through
// the writer's own record code, in transactions of 100,000 entries.
func buildLargeHistory(tb testing.TB, path string, n int) {
	tb.Helper()
	h, err := Open(path, testKey, Options{})
	if err != nil {
		tb.Fatal(err)
	}
	defer h.Close()
	const perTx = 100_000
	for start := 0; start < n; start += perTx {
		err := h.bolt.Update(func(tx *bolt.Tx) error {
			st, err := h.readState(tx)
			if err != nil {
				return err
			}
			t, err := h.beginHistory(tx, st)
			if err != nil {
				return err
			}
			for i := start; i < min(start+perTx, n); i++ {
				t.add(protocol.HistoryEntry{ID: uint64(i)*0x9E3779B97F4A7C15 | 1, Own: i%2 == 0,
					Text: fmt.Sprintf("message number %d of the big history, with some words", i),
					At:   histT0.Add(time.Duration(i) * time.Second)})
			}
			if err := t.finish(); err != nil {
				return err
			}
			return h.writeState(tx, st)
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkHistoryLast100of1M: the newest 100 entries of a 1,000,000-entry
// history (the screen on start), and a page of 100 from the middle (the
// user scrolling up). The database is built once, before the timed runs.
func BenchmarkHistoryLast100of1M(b *testing.B) {
	const n = 1_000_000
	path := filepath.Join(b.TempDir(), "history.db")
	start := time.Now()
	buildLargeHistory(b, path, n)
	b.Logf("built %d entries in %v", n, time.Since(start).Round(time.Millisecond))

	start = time.Now()
	h, err := Open(path, testKey, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	b.Logf("Open of %d entries: %v", n, time.Since(start).Round(time.Microsecond))
	if l, _ := h.Len(); l != n {
		b.Fatalf("Len = %d", l)
	}
	if st, err := os.Stat(path); err == nil {
		b.Logf("file size %d MiB", st.Size()>>20)
	}

	b.Run("Last100", func(b *testing.B) {
		for b.Loop() {
			p, _, err := h.Last(100)
			if err != nil || len(p) != 100 {
				b.Fatal(len(p), err)
			}
		}
	})
	b.Run("Before100/middle", func(b *testing.B) {
		_, c, _ := h.Last(n / 2)
		for b.Loop() {
			p, _, err := h.Before(c, 100)
			if err != nil || len(p) != 100 {
				b.Fatal(len(p), err)
			}
		}
	})
	b.Run("AddGrouped/into1M", func(b *testing.B) {
		i := uint64(n)
		for b.Loop() {
			i++
			h.Add(protocol.HistoryEntry{ID: i*0x9E3779B97F4A7C15 | 1, Text: "a new message into a big history", At: histT0.Add(time.Duration(i) * time.Second)})
		}
		if err := h.Flush(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	})
	b.Run("OpenLast100Close", func(b *testing.B) {
		h.Close()
		for b.Loop() {
			h, err := Open(path, testKey, Options{})
			if err != nil {
				b.Fatal(err)
			}
			p, _, err := h.Last(100)
			if err != nil || len(p) != 100 {
				b.Fatal(len(p), err)
			}
			h.Close()
		}
	})
}

// BenchmarkHistoryAdd: Add throughput with grouped commits, fsync on
// (bbolt's default), and, for comparison, one commit per entry (Add then
// Flush each time, the latency of one durable write).
func BenchmarkHistoryAdd(b *testing.B) {
	for _, size := range []int{60, 1024} {
		text := strings.Repeat("x", size)
		b.Run(fmt.Sprintf("grouped/%dB", size), func(b *testing.B) {
			h := openTestDB(b, filepath.Join(b.TempDir(), "history.db"), Options{})
			b.SetBytes(int64(size))
			at := histT0
			i := uint64(0)
			for b.Loop() {
				i++
				h.Add(protocol.HistoryEntry{ID: i*0x9E3779B97F4A7C15 | 1, Own: i%2 == 0, Text: text, At: at.Add(time.Duration(i))}) // ids are random in duet
			}
			if err := h.Flush(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		})
	}
	b.Run("flush-each/60B", func(b *testing.B) {
		h := openTestDB(b, filepath.Join(b.TempDir(), "history.db"), Options{})
		i := uint64(0)
		for b.Loop() {
			i++
			h.Add(protocol.HistoryEntry{ID: i, Text: "one durable entry at a time", At: histT0.Add(time.Duration(i))})
			if err := h.Flush(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	})
}

// BenchmarkOpenOutbox100k: Open of a file with 100,000 queued messages,
// one outbox record each (the worst case for the sealed state's key-set
// check at open: state.go), and Load.
func BenchmarkOpenOutbox100k(b *testing.B) {
	path := testDBPath(b)
	h, err := Open(path, testKey, Options{})
	if err != nil {
		b.Fatal(err)
	}
	err = h.bolt.Update(func(tx *bolt.Tx) error {
		s, err := h.readState(tx)
		if err != nil {
			return err
		}
		d, err := h.beginDelivery(tx, s)
		if err != nil {
			return err
		}
		for i := range 100_000 {
			if err := d.putOutbox([]protocol.Chat{{ID: uint64(i + 1), SentAt: int64(i), Text: "queued while the peer is away"}}); err != nil {
				return err
			}
		}
		return h.writeState(tx, s)
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := h.Close(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		h, err := Open(path, testKey, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if st, _ := h.Load(); len(st.Outbox) != 100_000 {
			b.Fatalf("%d queued", len(st.Outbox))
		}
		h.Close()
	}
}
