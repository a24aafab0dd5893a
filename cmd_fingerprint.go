package main

// duet fingerprint: prints the identity's fingerprint.

import (
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"

	"duet/crypto"
)

func runFingerprint(args []string, defIdentity string, stdout, stderr io.Writer, usageErr func(string, ...any) int) int {
	fs := flag.NewFlagSet("duet fingerprint", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	path := fs.String("identity", defIdentity, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "usage: duet fingerprint [--identity FILE]\nPrints your fingerprint, creating the identity key if absent.")
			return exitOK
		}
		return usageErr("fingerprint: %v", err)
	}
	if fs.NArg() > 0 {
		return usageErr("fingerprint: unexpected argument %q", fs.Arg(0))
	}
	if *path == "" {
		return usageErr("fingerprint: no default identity path: give --identity FILE")
	}
	id, created, err := crypto.LoadOrCreateIdentity(*path, rand.Reader)
	if err != nil {
		say(stderr, "%v", err)
		return exitIdentity
	}
	if created {
		say(stderr, "created a new identity in %s", *path)
	}
	fmt.Fprintln(stdout, id.Public().Fingerprint().String())
	return exitOK
}
