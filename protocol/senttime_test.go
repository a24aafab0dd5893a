package protocol

import (
	"math"
	"sync"
	"testing"
	"time"
)

// showingStore is a Store that records what MarkShowing was asked to keep
// in the history (and succeeds at everything).
type showingStore struct {
	mu      sync.Mutex
	entries []HistoryEntry
}

func (s *showingStore) Load() (DeliveryState, error) { return DeliveryState{}, nil }
func (s *showingStore) Queue([]Chat) error           { return nil }
func (s *showingStore) MarkShowing(es []HistoryEntry, done func(error)) {
	s.mu.Lock()
	s.entries = append(s.entries, es...)
	s.mu.Unlock()
	done(nil)
}
func (s *showingStore) Seen(_ []uint64, done func(error)) { done(nil) }
func (s *showingStore) Delivered([]uint64)                {}

// TestShownTime: a received message is shown (and stored in the history)
// at the time the peer wrote it, offline waits of hours included, unless
// that time is later than its arrival plus the timestamp window or before
// duet existed (DefaultNotBefore): then it is shown and stored at its
// arrival, the claimed time is kept in SentAt (and stored as the history
// entry's ClaimedAt, for the marker), and ClockImplausible says so. int64's extremes and negative times never become the shown time.
func TestShownTime(t *testing.T) {
	arrival := time.Date(2026, 12, 5, 17, 0, 0, 0, time.UTC)
	window := DefaultWindow
	tests := []struct {
		name   string
		sentAt int64
		odd    bool
	}{
		{"now", arrival.UnixNano(), false},
		{"queued offline 3 hours ago", arrival.Add(-3 * time.Hour).UnixNano(), false},
		{"queued offline since duet began", DefaultNotBefore.UnixNano(), false},
		{"ahead by the window", arrival.Add(window).UnixNano(), false},
		{"ahead by the window and 1 ns", arrival.Add(window).UnixNano() + 1, true},
		{"dated 2200", time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(), true},
		{"int64 max (2262)", math.MaxInt64, true},
		{"int64 min (1677)", math.MinInt64, true},
		{"negative (1969)", -1, true},
		{"zero (1970)", 0, true},
		{"before duet existed", DefaultNotBefore.UnixNano() - 1, true},
	}
	id := testIdentities(t)
	st := &showingStore{}
	r := newRecorder()
	pa, _ := NewPipe(16)
	n, err := NewNode(Config{Identity: id[0], Store: st}, pa, r.emit)
	if err != nil {
		t.Fatal(err)
	}
	n.now = arrival // the loop turn's time (Run sets it from Config.Now)
	for i, tt := range tests {
		n.receiveChat(Chat{ID: uint64(i + 1), Prev: uint64(i), SentAt: tt.sentAt, Text: tt.name}, uint32(i+1))
	}
	showAll(n)
	var got []MessageEvent
	for _, e := range r.snapshot() {
		if m, ok := e.(MessageEvent); ok {
			got = append(got, m)
		}
	}
	if len(got) != len(tests) || len(st.entries) != len(tests) {
		t.Fatalf("%d messages shown and %d stored, want %d", len(got), len(st.entries), len(tests))
	}
	for i, tt := range tests {
		m, stored := got[i], st.entries[i]
		want := time.Unix(0, tt.sentAt)
		if tt.odd {
			want = arrival
		}
		if m.Text != tt.name || !m.ShownAt.Equal(want) || m.ClockImplausible != tt.odd {
			t.Errorf("%s: shown at %v (implausible %v), want %v (%v)", tt.name, m.ShownAt, m.ClockImplausible, want, tt.odd)
		}
		if m.SentAt.UnixNano() != tt.sentAt {
			t.Errorf("%s: SentAt %d, want the claimed %d", tt.name, m.SentAt.UnixNano(), tt.sentAt)
		}
		if !stored.At.Equal(m.ShownAt) {
			t.Errorf("%s: stored at %v, shown at %v: the history must keep what was shown", tt.name, stored.At, m.ShownAt)
		}
		if tt.odd && (stored.ClaimedAt.IsZero() || stored.ClaimedAt.UnixNano() != tt.sentAt) || !tt.odd && !stored.ClaimedAt.IsZero() {
			t.Errorf("%s: stored claimed time %v, want the marker's %d only when implausible (%v)", tt.name, stored.ClaimedAt, tt.sentAt, tt.odd)
		}
		if y := m.ShownAt.Year(); y != 2026 {
			t.Errorf("%s: shown in year %d", tt.name, y)
		}
	}
}

// TestShownTimeNotBefore: Config.NotBefore moves the floor (a caller that
// knows a later bound for this peer).
func TestShownTimeNotBefore(t *testing.T) {
	arrival := time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)
	floor := arrival.Add(-24 * time.Hour)
	if _, odd := shownTime(floor.UnixNano(), arrival, DefaultWindow, floor); odd {
		t.Error("sent_at at the floor is implausible")
	}
	if at, odd := shownTime(floor.UnixNano()-1, arrival, DefaultWindow, floor); !odd || !at.Equal(arrival) {
		t.Errorf("sent_at before the floor: shown at %v, implausible %v", at, odd)
	}
}
