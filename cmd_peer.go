package main

// duet peer add, list and remove: the saved peers of the config file.
// Trust is never saved there: peer list reads it from known_peers, the one
// place a peer's key is recorded and marked verified, and peer remove
// leaves known_peers as it is.

import (
	"errors"
	"fmt"
	stdnet "net"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"duet/config"
	"duet/crypto"
)

// reservedNames are words a saved peer may not be called besides the
// commands themselves: Cobra's own.
var reservedNames = []string{"help", "completion", "__complete", "__completeNoDesc"}

func (c *cli) peerCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "peer",
		Short: "save, list and remove peers (the config file)",
		Long: "Saved peers live in the config file ($XDG_CONFIG_HOME/duet/config.toml, or --config FILE) as\n" +
			"[peer.NAME] tables: host, main, sub, and optionally identity, name and peer_name. duet chat NAME\n" +
			"(or duet NAME) starts that chat; duet peer remove NAME takes the table out again. Their keys and\n" +
			"trust stay in known_peers, which peer remove does not change.",
		Args: noArgs,
	}
	cmd.PersistentFlags().StringVar(&path, "config", c.defConfig(), "saved peers")
	cmd.AddCommand(c.peerAddCmd(&path), c.peerListCmd(&path), c.peerRemoveCmd(&path))
	return cmd
}

func (c *cli) peerAddCmd(path *string) *cobra.Command {
	var p config.Peer
	cmd := &cobra.Command{
		Use:     "add NAME --sub PORT [flags]",
		Short:   "save a peer: duet chat NAME then starts that chat",
		Example: "duet peer add bob --main 5555 --sub 5556 --identity ~/.config/duet/alice.pem --name alice",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return errors.New("peer add: give one NAME")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c.code = c.runPeerAdd(cmd, *path, args[0], p)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.StringVar(&p.Host, "peer-host", "", "the peer's host (default 127.0.0.1)")
	fs.IntVar(&p.Main, "main", 0, "your port with this peer")
	fs.IntVar(&p.Sub, "sub", 0, "the peer's port (required)")
	fs.StringVar(&p.Identity, "identity", "", "your identity key with this peer")
	fs.StringVar(&p.Name, "name", "", "your display name with this peer")
	fs.StringVar(&p.PeerName, "peer-name", "", "the peer's display name (default NAME)")
	return cmd
}

// runPeerAdd checks the entry (every usage error first) and appends it.
func (c *cli) runPeerAdd(cmd *cobra.Command, path, name string, p config.Peer) int {
	if err := config.ValidName(name); err != nil {
		return c.usageErr("peer add: %v", err)
	}
	if isCommand(cmd.Root(), name) {
		return c.usageErr("peer add: %q is a duet command: duet %s would not start the chat; choose another name", name, name)
	}
	switch {
	case path == "":
		return c.usageErr("peer add: no default config path: give --config FILE")
	case p.Sub < 1 || p.Sub > 65535:
		return c.usageErr("peer add: --sub PORT is required (1-65535)")
	case p.Main < 0 || p.Main > 65535:
		return c.usageErr("peer add: --main %d: not a port", p.Main)
	}
	if p.Identity != "" {
		abs, err := filepath.Abs(p.Identity) // the file is read from anywhere
		if err != nil {
			return c.usageErr("peer add: --identity %s: %v", p.Identity, err)
		}
		p.Identity = abs
	}
	if err := config.Add(path, name, p); err != nil {
		say(c.stderr, "peer add: %v", err)
		if errors.Is(err, config.ErrPeerExists) {
			return exitUsage
		}
		return exitRuntime
	}
	fmt.Fprintf(c.stdout, "saved %s in %s: duet chat %s\n", name, path, name)
	return exitOK
}

// isCommand reports whether name is a command of root or one Cobra adds.
func isCommand(root *cobra.Command, name string) bool {
	for _, sub := range root.Commands() {
		if sub.Name() == name || sub.HasAlias(name) {
			return true
		}
	}
	for _, r := range reservedNames {
		if r == name {
			return true
		}
	}
	return false
}

func (c *cli) peerListCmd(path *string) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "list saved peers: name, address, trust (from known_peers)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c.code = c.runPeerList(*path, cmd.Flags().Changed("config"))
			return nil
		},
	}
}

// runPeerList prints one row per saved peer: its name, the address duet
// connects to, our port, and the trust known_peers records for that
// address.
func (c *cli) runPeerList(path string, named bool) int {
	file, msg := loadConfig(path, named)
	if msg != "" {
		return c.usageErr("peer list: %s", msg)
	}
	if len(file.Peers) == 0 {
		fmt.Fprintf(c.stdout, "no saved peers in %s (duet peer add NAME --sub PORT)\n", path)
		return exitOK
	}
	known := map[string]*crypto.KnownPeers{} // by path, each opened once
	w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tADDRESS\tMAIN\tTRUST")
	for _, name := range file.Names() {
		p := file.Peers[name]
		host := p.Host
		if host == "" {
			host = "127.0.0.1"
		}
		addr := stdnet.JoinHostPort(host, strconv.Itoa(p.Sub))
		main := "-"
		if p.Main != 0 {
			main = strconv.Itoa(p.Main)
		}
		kp := c.knownPeersPath(file, p)
		if _, ok := known[kp]; !ok {
			known[kp] = c.openKnownPeers(kp)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", name, addr, main, trustOf(known[kp], addr))
	}
	w.Flush()
	return exitOK
}

func (c *cli) peerRemoveCmd(path *string) *cobra.Command {
	return &cobra.Command{
		Use:   "remove NAME",
		Short: "remove a saved peer (its key and trust stay in known_peers)",
		Long: "Takes the [peer.NAME] table out of the config file and keeps the rest of the file as it was:\n" +
			"the defaults, the other peers, comments. A peer written another way (peer.NAME = {...}) is left\n" +
			"for you to remove by hand.\n\n" +
			"known_peers is not changed: it is the record of the keys you have seen and verified, so the\n" +
			"peer's key and trust stay there, and a peer saved again at the same address is checked against\n" +
			"them as before.",
		Example: "duet peer remove bob",
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 0:
				return errors.New("peer remove: give the NAME of a saved peer (duet peer list)")
			case len(args) > 1:
				return fmt.Errorf("peer remove: unexpected argument %q (one NAME at a time)", args[1])
			}
			return nil
		},
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 || *path == "" {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			file, _, err := config.Load(*path)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return file.Names(), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c.code = c.runPeerRemove(*path, args[0], cmd.Flags().Changed("config"))
			return nil
		},
	}
}

// maxNamesSaid is how many saved names a "not saved" error lists.
const maxNamesSaid = 8

// runPeerRemove takes the saved peer name out of the config file. A bad
// name, a config file refused as peer list refuses it, and a name not
// saved are usage errors; failing to remove it is a runtime error.
func (c *cli) runPeerRemove(path, name string, named bool) int {
	if err := config.ValidName(name); err != nil {
		return c.usageErr("peer remove: %v", err)
	}
	if path == "" {
		return c.usageErr("peer remove: no default config path: give --config FILE")
	}
	file, msg := loadConfig(path, named)
	if msg != "" {
		return c.usageErr("peer remove: %s", msg)
	}
	p, ok := file.Peers[name]
	if !ok {
		return c.usageErr("peer remove: no saved peer %q in %s%s", name, path, savedNames(name, file.Names()))
	}
	if err := config.Remove(path, name); err != nil {
		say(c.stderr, "peer remove: %v", err)
		if errors.Is(err, config.ErrNoPeer) || errors.Is(err, config.ErrBadName) {
			return exitUsage
		}
		return exitRuntime
	}
	kp := c.knownPeersPath(file, p)
	if kp == "" {
		kp = "known_peers"
	}
	fmt.Fprintf(c.stdout, "removed %s from %s\nits key and trust, if recorded, stay in %s (not changed)\n", name, path, kp)
	return exitOK
}

// savedNames is what a "not saved" error adds: the saved names when they
// are few, else the one nearest name if it is close, and peer list.
func savedNames(name string, saved []string) string {
	switch {
	case len(saved) == 0:
		return " (no peers are saved)"
	case len(saved) > maxNamesSaid:
		for _, s := range saved {
			if editDistance(name, s) <= maxSuggestDistance {
				return fmt.Sprintf(" (did you mean %s? duet peer list shows all %d)", s, len(saved))
			}
		}
		return fmt.Sprintf(" (duet peer list shows the %d saved)", len(saved))
	}
	return " (saved: " + strings.Join(saved, ", ") + ")"
}

// knownPeersPath is the known_peers file a chat with p checks: the
// peer's table's, else the file's default, else duet's default.
func (c *cli) knownPeersPath(file *config.File, p config.Peer) string {
	switch {
	case p.KnownPeers != "":
		return p.KnownPeers
	case file.Defaults.KnownPeers != "":
		return file.Defaults.KnownPeers
	}
	return c.defKnown
}

// openKnownPeers opens a known_peers file read-only for peer list; nil,
// said on stderr, when it cannot be read.
func (c *cli) openKnownPeers(path string) *crypto.KnownPeers {
	k, err := crypto.OpenKnownPeers(path)
	if err != nil {
		say(c.stderr, "peer list: trust unknown: %v", err)
		return nil
	}
	return k
}

// trustOf is the trust known_peers records for addr, as peer list shows it.
func trustOf(k *crypto.KnownPeers, addr string) string {
	if k == nil {
		return "?"
	}
	fp, verified, ok := k.Recorded(addr)
	switch {
	case !ok:
		return "new (no key recorded yet)"
	case verified:
		return "verified " + fp.Short()
	}
	return "known, not verified " + fp.Short()
}
