// Package prototest holds the test helpers that the tests of protocol and
// of its subpackages share: identities in a known fingerprint order, and a
// recorder of events to wait on. It imports no duet package but crypto, so
// protocol's own in-package tests can use it as well as external ones.
// It is for tests only.
package prototest

import (
	"bytes"
	"crypto/rand"
	"slices"
	"sync"
	"testing"

	"duet/crypto"
)

var (
	idOnce sync.Once
	ids    [3]*crypto.Identity
)

// Identities returns three RSA-2048 identities generated once per test
// binary, ordered by fingerprint so that ids[0] plays A towards ids[1] and
// ids[2] sorts between them; a fourth, sorting after ids[1], waits in
// extraIDs. So IdentityOrdered always finds a key on either side of B
// without generating more.
func Identities(t testing.TB) [3]*crypto.Identity {
	t.Helper()
	idOnce.Do(func() {
		var keys [4]*crypto.Identity
		for i := range keys {
			id, err := crypto.GenerateIdentity(rand.Reader)
			if err != nil {
				panic(err)
			}
			keys[i] = id
		}
		slices.SortFunc(keys[:], func(a, b *crypto.Identity) int {
			fa, fb := a.Public().Fingerprint(), b.Public().Fingerprint()
			return bytes.Compare(fa[:], fb[:])
		})
		ids = [3]*crypto.Identity{keys[0], keys[2], keys[1]}
		extraMu.Lock()
		extraIDs = []*crypto.Identity{keys[1], keys[3]}
		extraMu.Unlock()
	})
	return ids
}

var (
	extraMu  sync.Mutex
	extraIDs []*crypto.Identity
)

// IdentityOrdered returns an identity other than ids[0] and ids[1] whose
// fingerprint sorts before (less) or after (!less) fp.
func IdentityOrdered(t testing.TB, fp crypto.Fingerprint, less bool) *crypto.Identity {
	t.Helper()
	Identities(t) // before the lock: it fills extraIDs
	extraMu.Lock()
	defer extraMu.Unlock()
	for i := 0; ; i++ {
		if i == len(extraIDs) {
			id, err := crypto.GenerateIdentity(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			extraIDs = append(extraIDs, id)
		}
		if extraIDs[i].Public().Fingerprint().Less(fp) == less {
			return extraIDs[i]
		}
	}
}
