package store

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"duet/crypto"
	"duet/protocol"
)

// fuzzPre is the AD prefix the fuzz targets seal and open with (a file
// id and epoch in a real file: fileState.histAD).
var fuzzPre = []byte("duet/3 fuzz prefix 0123456789abcdef")

// FuzzHistoryRecord feeds arbitrary keys and values to the decoder of
// stored history records (authenticate, decrypt, parse) and arbitrary
// plaintexts to the parser: either entries or an error wrapping
// ErrCorrupt, never a panic. Valid records (the seeds) must decode to
// what was sealed.
func FuzzHistoryRecord(f *testing.F) {
	a, err := crypto.NewAEAD(testKey[:])
	if err != nil {
		f.Fatal(err)
	}
	for i, es := range [][]protocol.HistoryEntry{
		{{ID: 1, Own: true, Text: "hi", At: histT0}},
		{{ID: 2, Text: "line\nline 🔒", At: histT0}, {ID: ^uint64(0), PossibleDuplicate: true, Own: true, At: histT0}},
		{{ID: 7, PossibleDuplicate: true, Text: "\xff not utf-8", At: histT0}},
		{{ID: 8, Text: "claimed", At: histT0, ClaimedAt: time.Unix(0, -1)}, {ID: 9, Text: "", At: histT0, ClaimedAt: histT0.Add(time.Hour)}},
	} {
		k := histKey(uint64(histT0.UnixNano()), uint64(i+1))
		v, err := sealRecord(a, fuzzPre, k[:], es)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(k[:], v, uint16(len(es)))
		f.Add(k[:], v[:len(v)-1], uint16(len(es)))         // truncated tag
		f.Add(k[:], v[histRecordHeader:], uint16(len(es))) // plaintext-sized garbage
	}
	f.Add([]byte{}, []byte{}, uint16(0))
	f.Add(make([]byte, 16), []byte{1}, uint16(1))
	f.Fuzz(func(t *testing.T, k, v []byte, n uint16) {
		es, err := openRecord(a, fuzzPre, k, v)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
		} else {
			// Only a genuinely sealed record opens: re-seal and compare.
			v2, err := sealRecord(a, fuzzPre, k, es)
			if err != nil {
				t.Fatal(err)
			}
			es2, err := openRecord(a, fuzzPre, k, v2)
			if err != nil || len(es2) != len(es) {
				t.Fatalf("round trip: %d vs %d entries, %v", len(es), len(es2), err)
			}
			for i := range es {
				if !sameEntry(es[i], es2[i]) || es[i].ID == 0 {
					t.Fatalf("round trip: %+v vs %+v", es[i], es2[i])
				}
			}
		}
		// The parser alone, on arbitrary plaintext.
		if es, err := parseRecord(v, int(n)); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("parse error %v does not wrap ErrCorrupt", err)
			}
		} else if len(es) != int(n) {
			t.Fatalf("parsed %d entries of %d", len(es), n)
		}
	})
}

// FuzzOutboxRecord: the outbox record decoder never panics, and whatever
// it accepts is a valid chat message.
func FuzzOutboxRecord(f *testing.F) {
	a, err := crypto.NewAEAD(testKey[:])
	if err != nil {
		f.Fatal(err)
	}
	k := u64Key(1)
	v, err := sealOutboxRecord(a, fuzzPre, k, []protocol.Chat{{ID: 1, SentAt: 2, Text: "hi"}, {ID: 3, Text: "🔒"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(k, v)
	f.Add(k, v[histRecordHeader-2:])
	f.Add([]byte{}, []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, k, v []byte) {
		check := func(cs []protocol.Chat, err error) {
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("error %v does not wrap ErrCorrupt", err)
				}
				return
			}
			for _, c := range cs {
				if c.ID == 0 || protocol.ValidText(c.Text) != nil {
					t.Fatalf("accepted %+v", c)
				}
			}
		}
		check(openOutboxRecord(a, fuzzPre, k, v))
		check(parseOutbox(v))
	})
}

// FuzzIDsRecord: the decoder of sealed showing and seen records never
// panics; what it accepts is a whole number of ids.
func FuzzIDsRecord(f *testing.F) {
	a, err := crypto.NewAEAD(testKey[:])
	if err != nil {
		f.Fatal(err)
	}
	k := u64Key(1)
	v, err := sealIDs(a, fuzzPre, k, []uint64{1, 2, 3})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(k, v)
	f.Add(k, v[:len(v)-1])
	f.Add([]byte{}, []byte{1})
	f.Fuzz(func(t *testing.T, k, v []byte) {
		ids, err := openIDs(a, fuzzPre, k, v)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if len(ids) == 0 || len(ids)%8 != 0 {
			t.Fatalf("accepted %d bytes of ids", len(ids))
		}
	})
}

// FuzzState feeds arbitrary bytes to the sealed state's decoders (the
// meta "state" value, and its plaintext): a state or an error wrapping
// ErrTampered, never a panic; what decodes encodes to the same bytes.
func FuzzState(f *testing.F) {
	a, err := crypto.NewAEAD(testKey[:])
	if err != nil {
		f.Fatal(err)
	}
	s := &fileState{gen: 7, histSeq: 3, outSeq: 9}
	s.sets[setOutbox] = setDigest{n: 2, x: [32]byte{1, 2}}
	v, err := sealState(a, s)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v)
	f.Add(s.encode())
	f.Add(v[:len(v)-1])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, v []byte) {
		for _, try := range []func([]byte) (*fileState, error){
			func(b []byte) (*fileState, error) { return openState(a, b, nil) },
			decodeState,
		} {
			got, err := try(v)
			if err != nil {
				if !errors.Is(err, ErrTampered) {
					t.Fatalf("error %v does not wrap ErrTampered", err)
				}
				continue
			}
			if b := got.encode(); len(b) != stateLen {
				t.Fatalf("a decoded state encodes to %d bytes", len(b))
			}
		}
		// A version 1 state (format 3) encodes as version 2.
		if got, err := decodeState(v); err == nil && v[0] == stateVersion && !bytes.Equal(got.encode(), v) {
			t.Fatal("decode/encode round trip differs")
		}
	})
}
