package main

import (
	"bytes"
	"fmt"
	"os"
	"testing"
	"time"

	"duet/protocol"
	"duet/ui/chat"
)

// TestHistoryViewSearch: the screen's /search over a real store finds the
// matching entries newest first, case-insensitively, goes on from the
// position it returns, and writes nothing: the database file is the same
// byte for byte after searching.
func TestHistoryViewSearch(t *testing.T) {
	db := openTestDB(t)
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	for i := range 300 {
		text := fmt.Sprintf("entry %03d", i)
		if i%100 == 7 {
			text += " with a NeEdLe"
		}
		db.Add(protocol.HistoryEntry{ID: uint64(1 + i), Own: i%2 == 0, Text: text, At: at.Add(time.Duration(i) * time.Second)})
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(db.Path())
	if err != nil {
		t.Fatal(err)
	}
	v := historyView{db}
	var got []chat.Entry
	var from any
	for range 10 {
		hits, next, done, err := v.Search("needle", from, 2)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, hits...)
		if done || len(hits) == 0 && next == from {
			break
		}
		from = next
	}
	want := []uint64{208, 108, 8}
	if len(got) != len(want) {
		t.Fatalf("found %d entries %+v, want ids %v", len(got), got, want)
	}
	for i, e := range got {
		if e.ID != want[i] || e.Own != (e.ID%2 == 1) {
			t.Errorf("hit %d: id %d own %v, want id %d (newest first)", i, e.ID, e.Own, want[i])
		}
	}
	if _, _, _, err := v.Search("needle", "not a position", 2); err == nil {
		t.Error("a foreign position was accepted")
	}
	after, err := os.ReadFile(db.Path())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("searching changed the database file")
	}
}
