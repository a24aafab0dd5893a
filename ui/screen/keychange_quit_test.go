package screen

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"duet/crypto"
)

// lockedOutput is the program's output, read by the test while it runs.
type lockedOutput struct {
	mu sync.Mutex
	b  strings.Builder
}

func (o *lockedOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *lockedOutput) contains(s string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Contains(o.b.String(), s)
}

// TestRunQuitAtKeyChanged: q on the key-changed warning ends Run with the
// changed key (crypto.ErrKeyChanged, which the caller turns into its
// changed-key exit code and says), not as a plain quit.
func TestRunQuitAtKeyChanged(t *testing.T) {
	in, typeKeys := io.Pipe()
	defer typeKeys.Close()
	out := &lockedOutput{}
	sink := NewSink()
	go func() {
		// The dialog is shown before q is typed: q elsewhere is text.
		deadline := time.Now().Add(10 * time.Second)
		for !out.contains("HAS CHANGED") && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		typeKeys.Write([]byte("q"))
	}()
	err := Run(context.Background(), testConfig(newFakeNode()), sink, func(ctx context.Context) error {
		sink.Emit(keyChanged("/tmp/known_peers").ev)
		<-ctx.Done()
		return nil
	}, tea.WithInput(in), tea.WithOutput(out), tea.WithWindowSize(100, 30))
	var changed *crypto.KeyChangedError
	if !errors.Is(err, crypto.ErrKeyChanged) || !errors.As(err, &changed) || changed.Path != "/tmp/known_peers" {
		t.Fatalf("Run after q on the key-changed warning: %v, want the changed key", err)
	}
}
