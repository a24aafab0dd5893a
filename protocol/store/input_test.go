package store

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"duet/protocol"
)

// TestInputKeptSealed: the draft and input history survive a reopen,
// sealed (no plaintext in the file); Clear deletes them; NoHistory keeps
// nothing.
func TestInputKeptSealed(t *testing.T) {
	path := testDBPath(t)
	db := openTestDB(t, path, Options{})
	if in, err := db.LoadInput(); err != nil || in.Draft != "" || len(in.Recall) != 0 {
		t.Fatalf("new database: %+v, %v: want nothing kept", in, err)
	}
	want := Input{Draft: "unsent draft 5e6f7a", Recall: []string{"first line 1a2b3c", "/verify", "second line 3c4d5e"}}
	if err := db.SaveInput(want); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"5e6f7a", "1a2b3c", "3c4d5e"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Fatalf("the file holds plaintext %q", secret)
		}
	}
	db = openTestDB(t, path, Options{})
	got, err := db.LoadInput()
	if err != nil || got.Draft != want.Draft || !slices.Equal(got.Recall, want.Recall) {
		t.Fatalf("after reopen: %+v, %v; want %+v", got, err, want)
	}
	if err := db.Clear(); err != nil {
		t.Fatal(err)
	}
	if got, err := db.LoadInput(); err != nil || got.Draft != "" || len(got.Recall) != 0 {
		t.Fatalf("after Clear: %+v, %v: want nothing kept", got, err)
	}
	if err := db.SaveInput(want); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// --no-history: nothing kept, and what an earlier run kept is deleted.
	db = openTestDB(t, path, Options{NoHistory: true})
	if err := db.SaveInput(want); err != nil {
		t.Fatal(err)
	}
	if got, err := db.LoadInput(); err != nil || got.Draft != "" || len(got.Recall) != 0 {
		t.Fatalf("with NoHistory: %+v, %v: want nothing kept", got, err)
	}
}

// TestInputLimits: SaveInput keeps the newest MaxRecall lines and drops
// what no message could be.
func TestInputLimits(t *testing.T) {
	db := openTestDB(t, testDBPath(t), Options{Now: func() time.Time { return histT0 }})
	var lines []string
	for i := range MaxRecall + 20 {
		lines = append(lines, strings.Repeat("x", i%7+1))
	}
	lines = append(lines, strings.Repeat("y", protocol.MaxTextSize+1))
	if err := db.SaveInput(Input{Draft: strings.Repeat("d", protocol.MaxTextSize+1), Recall: lines}); err != nil {
		t.Fatal(err)
	}
	got, err := db.LoadInput()
	if err != nil {
		t.Fatal(err)
	}
	if got.Draft != "" || len(got.Recall) != MaxRecall || got.Recall[MaxRecall-1] != lines[len(lines)-2] {
		t.Fatalf("draft %d bytes, %d lines: want the over-long draft and line dropped, the newest %d lines kept", len(got.Draft), len(got.Recall), MaxRecall)
	}
}

// TestDecodeInputRefuses: malformed records are errors, never panics or
// large allocations.
func TestDecodeInputRefuses(t *testing.T) {
	good := encodeInput(Input{Draft: "d", Recall: []string{"a", "b"}})
	for name, b := range map[string][]byte{
		"empty":      nil,
		"truncated":  good[:len(good)-1],
		"left over":  append(append([]byte(nil), good...), 0),
		"huge draft": {0xff, 0xff, 0xff, 0xff},
		"many lines": {0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff},
	} {
		if _, err := decodeInput(b); !errors.Is(err, errInputRecord) {
			t.Errorf("%s: %v, want errInputRecord", name, err)
		}
	}
}

// FuzzInputRecord: decodeInput never panics, and what it accepts encodes
// back to the same bytes.
func FuzzInputRecord(f *testing.F) {
	f.Add(encodeInput(Input{Draft: "draft", Recall: []string{"a", "/quit"}}))
	f.Add(encodeInput(Input{}))
	f.Add([]byte{0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := decodeInput(b)
		if err != nil {
			return
		}
		if again := encodeInput(in); !bytes.Equal(again, b) {
			t.Fatalf("decoded %+v encodes to %x, was %x", in, again, b)
		}
	})
}
