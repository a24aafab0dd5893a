package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"duet/ui/screen"
)

// TestNotifyFromConfig: the config file's notify, notify_text, no_typing
// and no_read_receipts fill what the flags leave unset; a flag wins; a bad
// notify in the file is a usage error naming the file and the values.
func TestNotifyFromConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	write := func(text string) {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("notify = \"desktop\"\nnotify_text = true\nno_typing = true\nno_read_receipts = true\n")
	c := &cli{}
	cmd := &cobra.Command{}
	for _, tc := range []struct {
		set  map[string]bool
		flag string
		want screen.Notify
	}{
		{map[string]bool{}, "bell", screen.NotifyDesktop}, // "bell" is the default, not given
		{map[string]bool{"notify": true}, "off", screen.NotifyOff},
	} {
		var o chatOptions
		f := chatFlags{set: tc.set, notify: tc.flag, config: path}
		if msg := c.applyConfig(cmd, &o, &f); msg != "" {
			t.Fatal(msg)
		}
		if msg := parseNotify(&o, &f); msg != "" || o.notify != tc.want || !o.notifyText || !o.noTyping || !o.noReadReceipts {
			t.Errorf("flags %v: %q, options %+v; want notify %v and the three set", tc.set, msg, o, tc.want)
		}
	}
	write("notify = \"loud\"\n")
	code, _, stderr := runIn(t, "--config", path, "--main", "1", "--sub", "2")
	if code != exitUsage || !strings.Contains(stderr, path+`: notify "loud": want bell, desktop or off`) {
		t.Errorf("bad notify in the file: exit %d, stderr %q", code, stderr)
	}
}
