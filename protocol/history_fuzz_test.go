package protocol

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"duet/crypto"
)

// FuzzHistoryValue feeds arbitrary keys and values to the decoder of stored
// history values (authenticate, decrypt, parse) and arbitrary plaintexts to
// the parser: either an entry or an error wrapping ErrDBCorrupt, never
// a panic. Valid values (the seeds) must decode to what was sealed.
func FuzzHistoryValue(f *testing.F) {
	a, err := crypto.NewAEAD(testHistKey[:])
	if err != nil {
		f.Fatal(err)
	}
	for i, e := range []HistoryEntry{
		{ID: 1, Own: true, Text: "hi"},
		{ID: 2, Text: "line\nline 🔒"},
		{ID: ^uint64(0), PossibleDuplicate: true, Own: true},
		{ID: 7, PossibleDuplicate: true, Text: "\xff not utf-8"},
	} {
		k := histKey(uint64(histT0.UnixNano()), uint64(i+1))
		v, err := sealEntry(a, k[:], e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(k[:], v)
		f.Add(k[:], v[:len(v)-1])           // truncated tag
		f.Add(k[:], v[1+crypto.NonceSize:]) // plaintext-sized garbage
	}
	f.Add([]byte{}, []byte{})
	f.Add(make([]byte, 16), []byte{1})
	f.Add(make([]byte, 16), make([]byte, histValueMin))
	f.Fuzz(func(t *testing.T, k, v []byte) {
		e, err := openEntry(a, k, v)
		if err != nil {
			if !errors.Is(err, ErrDBCorrupt) {
				t.Fatalf("error %v does not wrap ErrDBCorrupt", err)
			}
		} else {
			// Only a genuinely sealed value opens: re-seal and compare.
			v2, err := sealEntry(a, k, e)
			if err != nil {
				t.Fatal(err)
			}
			e2, err := openEntry(a, k, v2)
			if err != nil || !sameEntry(e, e2) || e.ID == 0 {
				t.Fatalf("round trip: %+v vs %+v, %v", e, e2, err)
			}
			if !e.At.Equal(time.Unix(0, int64(k[0])<<56|int64(k[1])<<48|int64(k[2])<<40|int64(k[3])<<32|int64(k[4])<<24|int64(k[5])<<16|int64(k[6])<<8|int64(k[7]))) {
				t.Fatal("At is not the key time")
			}
		}
		// The parser alone, on arbitrary plaintext.
		pe, err := parseEntry(v)
		if err != nil {
			if !errors.Is(err, ErrDBCorrupt) {
				t.Fatalf("parse error %v does not wrap ErrDBCorrupt", err)
			}
			return
		}
		if len(v) < histPTHeader || !bytes.Equal([]byte(pe.Text), v[histPTHeader:]) {
			t.Fatal("parse lost text")
		}
	})
}
