package main

// duet fingerprint: prints the identity's fingerprint.

import (
	"crypto/rand"
	"fmt"

	"github.com/spf13/cobra"

	"duet/crypto"
)

func (c *cli) fingerprintCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "fingerprint",
		Short: "print your fingerprint (creates the key if absent)",
		Long:  "Prints your fingerprint, creating the identity key if absent.",
		Args:  noArgs,
		RunE: func(*cobra.Command, []string) error {
			c.code = c.runFingerprint(path)
			return nil
		},
	}
	cmd.Flags().StringVar(&path, "identity", c.defIdentity, "identity key")
	return cmd
}

func (c *cli) runFingerprint(path string) int {
	if path == "" {
		return c.usageErr("fingerprint: no default identity path: give --identity FILE")
	}
	id, created, err := crypto.LoadOrCreateIdentity(path, rand.Reader)
	if err != nil {
		say(c.stderr, "%v", err)
		return exitIdentity
	}
	if created {
		say(c.stderr, "created a new identity in %s", path)
	}
	fmt.Fprintln(c.stdout, id.Public().Fingerprint().String())
	return exitOK
}
