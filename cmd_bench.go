package main

// duet bench and its hidden raw-peer helper: flags, then the benchmark.

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"duet/bench"
)

// benchCmd is duet bench; its flags and row names are interface.
func (c *cli) benchCmd() *cobra.Command {
	var o bench.Options
	var processes bool
	var runs int
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "compare duet with raw zmq4 on loopback",
		Long: "Compares raw zmq4 with duet on loopback. Without --processes: the protocol's own cost, two nodes in one\n" +
			"process. With --processes: what users get, two real duet processes (--ephemeral and durable) beside raw\n" +
			"zmq4 between two processes, each run on fresh processes (default 5 runs, 20000 messages, 300 samples).",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c.code = runBench(o, processes, runs, changedFlags(cmd.Flags()), c.stdout, c.stderr, c.usageErr)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.IntVar(&o.Messages, "messages", 50_000, "messages to send (20000 with --processes)")
	fs.IntVar(&o.LatencySamples, "samples", 300, "round trips timed for the latency rows")
	fs.IntVar(&o.Handshakes, "handshakes", 10, "handshakes timed (not with --processes)")
	fs.BoolVar(&processes, "processes", false, "two real duet processes instead of two nodes in one")
	fs.IntVar(&runs, "runs", 5, "runs on fresh processes (with --processes)")
	return cmd
}

func runBench(o bench.Options, processes bool, runs int, set map[string]bool, stdout, stderr io.Writer, usageErr func(string, ...any) int) int {
	if processes {
		po := bench.ProcessOptions{Runs: runs, Messages: 20_000, Samples: o.LatencySamples, Progress: stderr}
		if set["messages"] {
			po.Messages = o.Messages
		}
		switch {
		case set["handshakes"]:
			return usageErr("bench: --handshakes is not a measure of --processes (start to session is)")
		case po.Runs < 1:
			return usageErr("bench: --runs %d: must be 1 or more", po.Runs)
		case po.Messages < 1:
			return usageErr("bench: --messages %d: must be 1 or more", po.Messages)
		case po.Samples < 1:
			return usageErr("bench: --samples %d: must be 1 or more", po.Samples)
		}
		exe, err := os.Executable()
		if err != nil {
			say(stderr, "bench: cannot find duet's own binary: %v", err)
			return exitRuntime
		}
		po.Exe = exe
		// ctrl-c and SIGTERM end the bench; it kills its processes first.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if _, err := bench.RunProcesses(ctx, stdout, po); err != nil {
			say(stderr, "%v", err)
			return exitRuntime
		}
		return exitOK
	}
	if set["runs"] {
		return usageErr("bench: --runs needs --processes")
	}
	if _, err := bench.Run(context.Background(), stdout, o); err != nil {
		say(stderr, "%v", err)
		return exitRuntime
	}
	return exitOK
}

// runBenchRawPeer is one raw zmq4 process of duet bench --processes: --send
// --connect PORT sends each line of stdin as one message; --recv --listen
// PORT prints each message received as a line. Both print a ready line
// first. Not for use with a peer: no encryption, no checks.
func (c *cli) benchRawPeerCmd() *cobra.Command {
	var send, recv bool
	var connect, listen int
	cmd := &cobra.Command{
		Use:    "bench-raw-peer",
		Hidden: true,
		Args:   noArgs,
		RunE: func(*cobra.Command, []string) error {
			c.code = runBenchRawPeer(send, recv, connect, listen, c.stdin, c.stdout, c.stderr, c.usageErr)
			return nil
		},
	}
	cmd.Flags().BoolVar(&send, "send", false, "")
	cmd.Flags().BoolVar(&recv, "recv", false, "")
	cmd.Flags().IntVar(&connect, "connect", 0, "")
	cmd.Flags().IntVar(&listen, "listen", 0, "")
	return cmd
}

func runBenchRawPeer(send, recv bool, connect, listen int, stdin io.Reader, stdout, stderr io.Writer, usageErr func(string, ...any) int) int {
	switch {
	case send == recv:
		return usageErr("bench-raw-peer: give one of --send and --recv")
	case send && (connect < 1 || connect > 65535):
		return usageErr("bench-raw-peer: --send needs --connect PORT")
	case recv && (listen < 0 || listen > 65535):
		return usageErr("bench-raw-peer: --listen %d: not a port", listen)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if send {
		err = bench.RawPeerSend(ctx, connect, stdin, stdout)
	} else {
		err = bench.RawPeerRecv(ctx, listen, stdout)
	}
	if err != nil {
		say(stderr, "bench-raw-peer: %v", err)
		return exitRuntime
	}
	return exitOK
}
