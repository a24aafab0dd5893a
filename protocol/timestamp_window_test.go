package protocol

import (
	"errors"
	"math"
	"testing"
	"time"
)

// TestTimestampWindowNearMaxDoesNotOverflow: a window near math.MaxInt64
// does not overflow now+window (which would put every timestamp "in the
// future", so no session would form); main.go also bounds --window.
func TestTimestampWindowNearMaxDoesNotOverflow(t *testing.T) {
	now := time.Unix(1_790_000_000, 0)
	n := now.UnixNano()
	for _, c := range []struct {
		ts     int64
		window time.Duration
		want   error
	}{
		{n, 2562047 * time.Hour, nil},
		{n, math.MaxInt64, nil},
		{n + int64(time.Hour), math.MaxInt64, nil},
		{n - int64(time.Hour), math.MaxInt64, nil},
		{math.MinInt64, math.MaxInt64, ErrStale},
		{math.MaxInt64, math.MaxInt64, nil}, // MaxInt64 - n < MaxInt64
		{math.MinInt64, 30 * time.Second, ErrStale},
		{math.MaxInt64, 30 * time.Second, ErrFuture},
		{n + int64(30*time.Second), 30 * time.Second, nil},
		{n + int64(30*time.Second) + 1, 30 * time.Second, ErrFuture},
		{n - int64(30*time.Second), 30 * time.Second, nil},
		{n - int64(30*time.Second) - 1, 30 * time.Second, ErrStale},
		{n, 0, nil},
		{n + 1, -time.Second, ErrFuture},
	} {
		err := checkTimestamp(c.ts, now, c.window)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("checkTimestamp(ts=%d, window=%v): %v, want %v", c.ts, c.window, err, c.want)
		}
	}
}
