package bench

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCommitFloor: the floor times n pairs of real commits (each at least
// the two fdatasyncs bbolt makes, so never zero), sorted for percentile,
// and leaves nothing behind.
func TestCommitFloor(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "floor")
	ds, err := commitFloor(dir, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 5 {
		t.Fatalf("%d samples, want 5", len(ds))
	}
	for i, d := range ds {
		if d <= 0 || (i > 0 && d < ds[i-1]) {
			t.Errorf("sample %d: %v (not positive, or not sorted: %v)", i, d, ds)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("floor databases left behind: %v", err)
	}
}
