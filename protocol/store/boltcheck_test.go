package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"
)

// TestCheckBoltBadElement: a leaf element whose offsets point outside its
// page (which bbolt would follow with unsafe pointer arithmetic) is
// refused by Open as damaged, naming the file, before bbolt reads it.
func TestCheckBoltBadElement(t *testing.T) {
	path := buildHistoryFile(t, 50, "element")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := checkBolt(bytes.NewReader(data), int64(len(data))); err != nil || c.fellBack {
		t.Fatalf("a valid file fails the check: %v (fell back: %v)", err, c.fellBack)
	}
	m, _, err := boltPickMeta(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	// Every leaf page reachable or not: break the first element of each.
	broken := 0
	for id := uint64(2); id < m.hwm; id++ {
		p := data[id*m.pageSize:]
		if binary.LittleEndian.Uint64(p) != id || binary.LittleEndian.Uint16(p[8:]) != boltLeafPage || binary.LittleEndian.Uint16(p[10:]) == 0 {
			continue
		}
		binary.LittleEndian.PutUint32(p[boltPageHeader+4:], 0xFFFFFF00) // pos
		broken++
	}
	if broken == 0 {
		t.Fatal("no leaf page found")
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open(path, testKey, Options{})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open of a file with elements outside their pages: %v, want ErrCorrupt naming the file", err)
	}
	if after, err := os.ReadFile(path); err != nil || !bytes.Equal(after, data) {
		t.Fatalf("the refused file was changed (%v)", err)
	}
}

// FuzzCheckBolt: the check never panics and never reads outside the file,
// whatever the bytes; a valid database (the seed) passes.
func FuzzCheckBolt(f *testing.F) {
	path := buildHistoryFile(f, 20, "fuzz")
	data, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add(data[:8192])
	f.Add([]byte("not a database"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := checkBolt(bytes.NewReader(b), int64(len(b)))
		if err != nil && (!errors.Is(err, ErrCorrupt) || strings.Count(err.Error(), ErrCorrupt.Error()) != 1) {
			t.Fatalf("error %q does not wrap ErrCorrupt, or says so more than once", err)
		}
	})
}
