package protocol

import "time"

// tokenBucket limits work triggered by unauthenticated input (hellos, public
// keys): at most burst at once, refilled at rate per second. Not safe for
// concurrent use; the driver loop owns it.
type tokenBucket struct {
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newTokenBucket(rate, burst float64) *tokenBucket {
	return &tokenBucket{rate: rate, burst: burst, tokens: burst}
}

// allow takes one token if available.
func (b *tokenBucket) allow(now time.Time) bool {
	if !b.last.IsZero() && now.After(b.last) { // a clock stepping back refills nothing and takes nothing
		b.tokens += now.Sub(b.last).Seconds() * b.rate
		if b.tokens > b.burst {
			b.tokens = b.burst
		}
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
