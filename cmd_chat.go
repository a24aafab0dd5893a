package main

// duet chat PEER (and duet PEER): the saved peer and the config file's
// defaults under the chat's flags. Flags override the peer's table, which
// overrides the file's defaults, which override the built-in defaults.

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"duet/config"
	"duet/ui/screen"
)

// defConfig is the default config file: config.toml beside the default
// identity ($XDG_CONFIG_HOME/duet/, else ~/.config/duet/); "" if there is
// no default directory.
func (c *cli) defConfig() string {
	if c.defIdentity == "" {
		return ""
	}
	return filepath.Join(filepath.Dir(c.defIdentity), config.FileName)
}

// loadConfig reads the config file f names. A missing file is empty unless
// --config named it.
func loadConfig(path string, named bool) (*config.File, string) {
	if path == "" {
		return &config.File{Peers: map[string]config.Peer{}}, ""
	}
	file, exists, err := config.Load(path)
	switch {
	case err != nil:
		return nil, err.Error()
	case !exists && named:
		return nil, fmt.Sprintf("--config %s: no such file", path)
	}
	return file, ""
}

// applyConfig fills what the flags leave unset from the config file: its
// defaults, then the saved peer named by the one argument. It returns a
// usage error's text, or "".
func (c *cli) applyConfig(cmd *cobra.Command, o *chatOptions, f *chatFlags) string {
	if len(f.args) > 1 {
		return fmt.Sprintf("unexpected argument %q (one saved peer at most)", f.args[1])
	}
	file, msg := loadConfig(f.config, f.set["config"])
	if msg != "" {
		return msg
	}
	layers := []config.Peer{file.Defaults}
	if len(f.args) == 1 {
		name := f.args[0]
		p, ok := file.Peers[name]
		if !ok {
			return unknownPeer(cmd, name, f.config, file.Names())
		}
		if p.PeerName == "" {
			p.PeerName = name
		}
		layers = append(layers, p)
	}
	for _, l := range layers {
		c.applyLayer(o, f, l)
	}
	return ""
}

// applyLayer sets each field of l that is set there and not given as a
// flag. The booleans can only be turned on by the file (false is unset).
func (c *cli) applyLayer(o *chatOptions, f *chatFlags, l config.Peer) {
	str := func(flag, v string, dst *string) {
		if v != "" && !f.set[flag] {
			*dst = v
		}
	}
	str("peer-host", l.Host, &o.peerHost)
	str("bind", l.Bind, &o.bind)
	str("name", l.Name, &o.name)
	str("peer-name", l.PeerName, &o.peerName)
	str("known-peers", l.KnownPeers, &o.knownPath)
	if !o.ephemeral {
		str("identity", l.Identity, &o.identityPath)
	}
	if l.Notify != "" && !f.set["notify"] {
		f.notify, f.notifyFrom = l.Notify, f.config
	}
	on := func(flag string, v bool, dst *bool) {
		if v && !f.set[flag] {
			*dst = true
		}
	}
	on("notify-text", l.NotifyText, &o.notifyText)
	on("no-typing", l.NoTyping, &o.noTyping)
	on("no-read-receipts", l.NoReadReceipts, &o.noReadReceipts)
	if l.Main != 0 && !f.set["main"] {
		o.mainPort = l.Main
		f.fromConfig = append(f.fromConfig, "main")
	}
	if l.Sub != 0 && !f.set["sub"] {
		o.subPort = l.Sub
		f.fromConfig = append(f.fromConfig, "sub")
	}
}

// unknownPeer is the usage error for an argument that names neither a
// command nor a saved peer, with the nearest saved peer or command when
// one is close.
func unknownPeer(cmd *cobra.Command, name, path string, saved []string) string {
	msg := fmt.Sprintf("unknown command or saved peer %q (duet peer list; saved in %s)", name, path)
	if cmd.HasParent() {
		msg = fmt.Sprintf("no saved peer %q (duet peer list; saved in %s)", name, path)
	}
	for _, p := range saved {
		if editDistance(name, p) <= maxSuggestDistance {
			return msg + fmt.Sprintf(" (did you mean %s?)", p)
		}
	}
	for _, sub := range cmd.Root().Commands() {
		if !sub.Hidden && editDistance(strings.ToLower(name), sub.Name()) <= maxSuggestDistance {
			return msg + fmt.Sprintf(" (did you mean duet %s?)", sub.Name())
		}
	}
	return msg
}

// parseNotify reads --notify (or the config file's notify) into o.notify.
// It returns a usage error's text, or "".
func parseNotify(o *chatOptions, f *chatFlags) string {
	n, err := screen.ParseNotify(f.notify)
	if err != nil && f.notifyFrom != "" {
		return fmt.Sprintf("%s: notify %q: want bell, desktop or off", f.notifyFrom, f.notify)
	}
	if err != nil {
		return err.Error()
	}
	o.notify = n
	return ""
}
