package crypto

import (
	"errors"
	"fmt"
	"io"
	"sync"
)

// maxNonceRedraws bounds consecutive colliding draws before Next gives up.
// With a working 96-bit random source even one collision is negligible
// (about n^2/2^97 for n nonces), so repeated collisions mean rand is broken.
const maxNonceRedraws = 8

var errRandRepeats = errors.New("crypto: nonce source keeps repeating values")

// SendNonces issues random 96-bit AES-GCM nonces for one sending key and
// guarantees none repeats within the key's epoch: it remembers every nonce
// issued since the last Reset (≈20-30 bytes of memory each), redraws on a
// collision, and refuses (ErrEpochFull) after capPerEpoch nonces, at which
// point the caller must rekey and call Reset. Safe for concurrent use.
type SendNonces struct {
	mu   sync.Mutex
	rand io.Reader
	cap  int
	seen map[[12]byte]struct{}
	buf  [12]byte // draw buffer; avoids a heap allocation per Next
}

// NewSendNonces returns a manager drawing from rand and issuing at most
// capPerEpoch nonces per epoch. It panics if capPerEpoch <= 0.
func NewSendNonces(rand io.Reader, capPerEpoch int) *SendNonces {
	if capPerEpoch <= 0 {
		panic("crypto: NewSendNonces: capPerEpoch must be positive")
	}
	return &SendNonces{rand: rand, cap: capPerEpoch, seen: make(map[[12]byte]struct{})}
}

// Next returns a nonce not returned before in this epoch, reading 12 bytes
// from rand per draw. It returns ErrEpochFull once capPerEpoch nonces were
// issued, and an error if rand fails or keeps repeating values.
func (s *SendNonces) Next() ([12]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seen) >= s.cap {
		return [12]byte{}, ErrEpochFull
	}
	for range maxNonceRedraws {
		if _, err := io.ReadFull(s.rand, s.buf[:]); err != nil {
			return [12]byte{}, fmt.Errorf("crypto: draw nonce: %w", err)
		}
		n := s.buf
		if _, dup := s.seen[n]; !dup {
			s.seen[n] = struct{}{}
			return n, nil
		}
	}
	return [12]byte{}, errRandRepeats
}

// Reset starts a new key epoch: all issued nonces are forgotten and their
// memory released. Call it only together with a key change.
func (s *SendNonces) Reset() {
	s.mu.Lock()
	s.seen = make(map[[12]byte]struct{})
	s.mu.Unlock()
}

// Issued reports whether nonce was issued in the current epoch (since the
// last Reset). The record layer uses it to recognise its own records sent
// back to it (reflection) before it tries to authenticate them.
func (s *SendNonces) Issued(nonce [12]byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.seen[nonce]
	return ok
}

// Len is the number of nonces issued in the current epoch.
func (s *SendNonces) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}
